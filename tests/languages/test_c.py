"""The C driver: zig cc for wasm32-wasi + the preview1 command adapter, built through
build_project and run in wasmtime-py (WASIp2: args, one env var, stdin, no preopens)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NativeCli, ScriptRunner

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext
from wasmforge.languages.c import driver
from wasmforge.project import load_project
from wasmforge.templates import scaffold
from wasmforge.toolchain.adapter import command_adapter_path
from wasmforge.toolchain.build import BuildResult, build_project

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
SHOUT_C = """\
#include <ctype.h>
#include "shout.h"

static char buffer[64];

const char *shout(const char *text) {
    int i = 0;
    for (; text[i] && i < 62; i++) buffer[i] = (char)toupper((unsigned char)text[i]);
    buffer[i] = '!';
    buffer[i + 1] = 0;
    return buffer;
}
"""
MANIFEST_BUILD = '[build]\ninclude_dirs = ["util"]\ndefines = ["ANSWER=42"]\n'


@pytest.fixture(scope="session")
def c_hello(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return script_build("c", "chello", {})


@pytest.fixture(scope="session")
def c_multi(script_build: Callable[[str, str, dict[str, str]], BuildResult],
            tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    files = {"main.c": MAIN, "util/shout.h": SHOUT_H, "util/shout.c": SHOUT_C}
    scratch = tmp_path_factory.mktemp("cmanifest") / "cmulti"
    scaffold("cmulti", "c", scratch)
    manifest = (scratch / "wasmforge.toml").read_text().replace("[build]\n", MANIFEST_BUILD, 1)
    return script_build("c", "cmulti", files | {"wasmforge.toml": manifest})


def test_template_hello_runs_with_args_and_env(c_hello: BuildResult,
                                               script_runner: ScriptRunner) -> None:
    assert c_hello.component.read_bytes()[:8] == b"\0asm\x0d\x00\x01\x00"
    run = script_runner(c_hello.component, ["Ada"], env={"GREETING": "Howdy"})
    assert run.ok, run.stderr
    assert run.stdout == "Hello, Ada!\nHowdy from chello\n"
    plain = script_runner(c_hello.component)
    assert plain.stdout == "Hello, world!\n"


def test_hello_is_small(c_hello: BuildResult) -> None:
    assert c_hello.component_size < 200_000  # libc debug info is stripped


def test_multi_file_project_with_include_dirs_defines_and_stdin(
        c_multi: BuildResult, script_runner: ScriptRunner) -> None:
    run = script_runner(c_multi.component, ["quiet"], stdin="typed in\n")
    assert run.ok, run.stderr
    lines = run.stdout.splitlines()
    assert "stdin: typed in" in lines
    assert "shout: QUIET!" in lines
    assert "define: 42" in lines


def test_read_of_an_undeclared_file_is_denied(c_multi: BuildResult,
                                              script_runner: ScriptRunner) -> None:
    run = script_runner(c_multi.component)
    assert "read: denied" in run.stdout.splitlines()


def test_nonzero_exit_is_a_failure(c_multi: BuildResult, script_runner: ScriptRunner) -> None:
    assert not script_runner(c_multi.component, ["a", "b"]).ok


def test_built_image_runs_through_the_cli(c_hello: BuildResult, native_cli: NativeCli) -> None:
    proc = native_cli("run", str(c_hello.image), "--insecure-allow-unsigned",
                      "--isolation", "wasm", "--env", "GREETING=Hi", "--", "Bob")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hello, Bob!\nHi from chello\n"


def test_syntax_error_fails_with_the_compilers_message(
        script_new: Callable[..., Path], script_home: Path, tmp_path: Path,
        native_cli: NativeCli) -> None:
    root = script_new(tmp_path, "c", "cbad", {"main.c": "int main(void) { return 0 }\n"})
    with pytest.raises(BuildFailed) as failed:
        build_project(root)
    assert "main.c:1:" in str(failed.value) and "expected ';'" in str(failed.value)
    proc = native_cli("build", str(root))
    assert proc.returncode == 1
    assert "expected ';'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "build" / "cbad.wasm").exists()


def test_project_without_c_sources_is_refused(script_new: Callable[..., Path],
                                              script_home: Path, tmp_path: Path) -> None:
    root = script_new(tmp_path, "c", "cempty", {"main.c": ""})
    with pytest.raises(BuildFailed, match="no .c files"):
        build_project(root)


def test_missing_toolchain_names_the_remedy(script_new: Callable[..., Path], tmp_path: Path,
                                            native_cli: NativeCli) -> None:
    root = script_new(tmp_path, "c", "cnone", {})
    empty = tmp_path / "no-toolchains"
    empty.mkdir()
    proc = native_cli("build", str(root), toolchains=empty)
    assert proc.returncode == 3
    assert "ziglang==0.17.0" in proc.stderr
    assert "wasmforge toolchain install c" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_status_and_versions(script_home: Path, tmp_path: Path,
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
def test_wasi_sdk_emits_a_component_directly(script_new: Callable[..., Path], tmp_path: Path,
                                            script_runner: ScriptRunner) -> None:
    root = script_new(tmp_path, "c", "csdk", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "component"
    assert script_runner(output.path, ["Sdk"]).stdout == "Hello, Sdk!\n"


def test_zig_route_emits_a_core_module(script_new: Callable[..., Path], tmp_path: Path,
                                       script_home: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.delenv("WASI_SDK_PATH", raising=False)
    root = script_new(tmp_path, "c", "czig", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "core"
    assert output.path.read_bytes()[:8] == b"\0asm\x01\x00\x00\x00"
