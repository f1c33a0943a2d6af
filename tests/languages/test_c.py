"""The C driver: zig cc for wasm32-wasi + the preview1 command adapter, built through
build_project and run in wasmtime-py (WASIp2: args, one env var, stdin, no preopens)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Cli, GuestRunner

from wasmforge.languages.base import BuildContext
from wasmforge.languages.c import driver
from wasmforge.project import load_project
from wasmforge.templates import scaffold
from wasmforge.toolchain.adapter import command_adapter_path
from wasmforge.toolchain.build import BuildResult

pytestmark = pytest.mark.slow

MAIN = """\
#include <stdio.h>
#include <string.h>
#include "util/shout.h"

int main(int argc, char **argv) {
    char line[128] = "";
    if (fgets(line, sizeof line, stdin) != NULL) line[strcspn(line, "\\n")] = 0;
    printf("stdin: %s\\n", line);
    printf("shout: %s\\n", shout(argc > 1 ? argv[1] : "none"));
    printf("define: %d\\n", ANSWER);
    FILE *f = fopen("/etc/passwd", "r");
    printf("read: %s\\n", f == NULL ? "denied" : "allowed");
    return argc > 2 ? 7 : 0;
}
"""
SHOUT_H = "const char *shout(const char *text);\n"
SHOUT_C = (Path(__file__).parent / "contract" / "c" / "shout.c").read_text()
MANIFEST_BUILD = '[build]\ninclude_dirs = ["util"]\ndefines = ["ANSWER=42"]\n'


@pytest.fixture(scope="session")
def c_hello(build_lang: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return build_lang("c", "chello", {})


@pytest.fixture(scope="session")
def c_multi(build_lang: Callable[[str, str, dict[str, str]], BuildResult],
            tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    files = {"main.c": MAIN, "util/shout.h": SHOUT_H, "util/shout.c": SHOUT_C}
    scratch = tmp_path_factory.mktemp("cmanifest") / "cmulti"
    scaffold("cmulti", "c", scratch)
    manifest = (scratch / "wasmforge.toml").read_text().replace("[build]\n", MANIFEST_BUILD, 1)
    return build_lang("c", "cmulti", files | {"wasmforge.toml": manifest})


def test_hello_is_small(c_hello: BuildResult) -> None:
    assert c_hello.component_size < 200_000  # libc debug info is stripped


def test_multi_file_project_with_include_dirs_defines_and_stdin(
        c_multi: BuildResult, guest_runner: GuestRunner) -> None:
    run = guest_runner(c_multi.component, ["quiet"], stdin="typed in\n")
    assert run.ok, run.stderr
    lines = run.stdout.splitlines()
    assert "stdin: typed in" in lines
    assert "shout: QUIET!" in lines
    assert "define: 42" in lines


def test_built_image_runs_through_the_cli(c_hello: BuildResult, wasmforge_cli: Cli) -> None:
    proc = wasmforge_cli("run", str(c_hello.image), "--insecure-allow-unsigned",
                      "--isolation", "wasm", "--env", "GREETING=Hi", "--", "Bob")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hello, Bob!\nHi from chello\n"


def test_status_and_versions(lang_home: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    status = driver.status()
    assert status.usable, status.problem
    assert status.versions["zig"] == "0.17.0"
    adapter = command_adapter_path().read_bytes()
    assert driver.toolchain_versions()["wasi-preview1-command-adapter.sha256"] == \
        hashlib.sha256(adapter).hexdigest()
    started = time.perf_counter()
    for _ in range(100):
        driver.toolchain_versions()
    assert time.perf_counter() - started < 0.1  # on the no-op rebuild path
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(tmp_path / "nothing"))
    missing = driver.status()
    assert not missing.usable
    assert missing.remedy == "run `wasmforge toolchain install c`"


@pytest.mark.skipif(driver.toolchain_versions().get("wasi-sdk") is None,
                    reason="WASI_SDK_PATH does not name a wasi-sdk (with bin/clang) on this "
                           "host; the zig route is the one tested here")
def test_wasi_sdk_emits_a_component_directly(new_project: Callable[..., Path], tmp_path: Path,
                                            guest_runner: GuestRunner) -> None:
    root = new_project(tmp_path, "c", "csdk", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "component"
    assert guest_runner(output.path, ["Sdk"]).stdout == "Hello, Sdk!\n"


def test_zig_route_emits_a_core_module(new_project: Callable[..., Path], tmp_path: Path,
                                       lang_home: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.delenv("WASI_SDK_PATH", raising=False)
    root = new_project(tmp_path, "c", "czig", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "core"
    assert output.path.read_bytes()[:8] == b"\0asm\x01\x00\x00\x00"
