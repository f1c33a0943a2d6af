"""The Rust driver: the pinned Debian Rust 1.96 for wasm32-wasip1 (its sysroot built once by
`toolchain install rust`) + the preview1 command adapter, or rustup's wasm32-wasip2 where
present; built through build_project and run in wasmtime-py (WASIp2: args, one env var,
stdin, no preopens)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import NativeCli, ScriptRunner

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext
from wasmforge.languages.rust import driver
from wasmforge.project import load_project
from wasmforge.toolchain.build import BuildResult, build_project

pytestmark = pytest.mark.slow

MAIN = """\
mod shout;

use std::io::BufRead;

fn main() {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    println!("stdin: {}", line.trim());
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("shout: {}", shout::shout(&args.join(" ")));
    match std::fs::read_to_string("/etc/passwd") {
        Ok(_) => println!("read: allowed"),
        Err(_) => println!("read: denied"),
    }
    if args.len() > 1 {
        std::process::exit(7);
    }
}
"""
SHOUT = "pub fn shout(text: &str) -> String {\n    format!(\"{}!\", text.to_uppercase())\n}\n"
CRATE_TOML = """\
[package]
name = "rsitoa"
version = "0.1.0"
edition = "2024"

[dependencies]
itoa = "1"
"""
CRATE_MAIN = """\
fn main() {
    let mut buffer = itoa::Buffer::new();
    println!("itoa: {}", buffer.format(-1234567_i64));
}
"""


@pytest.fixture(scope="session")
def rust_hello(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return script_build("rust", "rshello", {})


@pytest.fixture(scope="session")
def rust_multi(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return script_build("rust", "rsmulti", {"src/main.rs": MAIN, "src/shout.rs": SHOUT})


@pytest.fixture(scope="session")
def rust_crate(script_build: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    # The template's Cargo.lock names no dependency: drop it, cargo writes a fresh one.
    return script_build("rust", "rsitoa", {"Cargo.toml": CRATE_TOML, "Cargo.lock": "",
                                           "src/main.rs": CRATE_MAIN})


def test_template_hello_runs_with_args_and_env(rust_hello: BuildResult,
                                               script_runner: ScriptRunner) -> None:
    run = script_runner(rust_hello.component, ["Ada"], env={"GREETING": "Howdy"})
    assert run.ok, run.stderr
    assert run.stdout == "Hello, Ada!\nHowdy from rshello\n"
    assert script_runner(rust_hello.component).stdout == "Hello, world!\n"


def test_template_lock_file_is_left_unchanged(rust_hello: BuildResult) -> None:
    # A build that rewrote Cargo.lock would change the cache key of the next build.
    lock = (rust_hello.component.parent.parent / "Cargo.lock").read_text()
    assert 'name = "rshello"' in lock and "[[package]]" in lock
    assert build_project(rust_hello.component.parent.parent).cached


def test_multi_file_crate_and_stdin(rust_multi: BuildResult,
                                    script_runner: ScriptRunner) -> None:
    run = script_runner(rust_multi.component, ["quiet"], stdin="typed in\n")
    assert run.ok, run.stderr
    lines = run.stdout.splitlines()
    assert "stdin: typed in" in lines
    assert "shout: QUIET!" in lines


def test_read_of_an_undeclared_file_is_denied(rust_multi: BuildResult,
                                              script_runner: ScriptRunner) -> None:
    assert "read: denied" in script_runner(rust_multi.component).stdout.splitlines()


def test_process_exit_nonzero_is_a_failure(rust_multi: BuildResult,
                                           script_runner: ScriptRunner) -> None:
    assert not script_runner(rust_multi.component, ["a", "b"]).ok


def test_crates_io_dependency(rust_crate: BuildResult, script_runner: ScriptRunner) -> None:
    run = script_runner(rust_crate.component)
    assert run.ok, run.stderr
    assert run.stdout == "itoa: -1234567\n"


def test_syntax_error_fails_with_the_compilers_message(
        script_new: Callable[..., Path], script_home: Path, tmp_path: Path,
        native_cli: NativeCli) -> None:
    root = script_new(tmp_path, "rust", "rsbad",
                      {"src/main.rs": "fn main() {\n    let x = ;\n}\n"})
    with pytest.raises(BuildFailed) as failed:
        build_project(root)
    assert "expected expression, found `;`" in str(failed.value)
    assert "src/main.rs:2:13" in str(failed.value)
    proc = native_cli("build", str(root))
    assert proc.returncode == 1
    assert "expected expression" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / "build" / "rsbad.wasm").exists()


def test_missing_cargo_toml_is_refused(script_new: Callable[..., Path], script_home: Path,
                                       tmp_path: Path) -> None:
    root = script_new(tmp_path, "rust", "rsnocargo", {"Cargo.toml": ""})
    with pytest.raises(BuildFailed, match="Cargo.toml is missing"):
        build_project(root)


def test_missing_toolchain_names_the_remedy(script_new: Callable[..., Path], tmp_path: Path,
                                            native_cli: NativeCli) -> None:
    if driver.toolchain_versions().get("target") == "wasm32-wasip2":
        pytest.skip("a rustup wasm32-wasip2 toolchain is not wasmforge's to install")
    root = script_new(tmp_path, "rust", "rsnone", {})
    empty = tmp_path / "no-toolchains"
    empty.mkdir()
    proc = native_cli("build", str(root), toolchains=empty)
    assert proc.returncode == 3
    assert "Rust 1.96.0 for wasm32-wasip1" in proc.stderr
    assert "wasmforge toolchain install rust" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_status_and_versions(script_home: Path) -> None:
    status = driver.status()
    assert status.usable, status.problem
    versions = driver.toolchain_versions()
    assert versions["target"] in ("wasm32-wasip1", "wasm32-wasip2")
    if versions["target"] == "wasm32-wasip1":
        assert versions["rustc"] == "1.96.0"
        assert versions["debian rustc-web"] == "1.96.0+dfsg1-1~deb12u2"
        moved_on = status.versions["when Debian's security suite moves on"]
        assert "keeps working" in moved_on and "snapshot.debian.org" in moved_on
    kinds = {r.kind for r in driver.requirements()}
    assert kinds == {"apt", "pip", "npm"}


def test_the_route_decides_core_or_component(script_new: Callable[..., Path], tmp_path: Path,
                                            script_home: Path) -> None:
    """rustup with wasm32-wasip2 emits the component; the Debian wasm32-wasip1 a core module."""
    root = script_new(tmp_path, "rust", "rsroute", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    wasip2 = driver.toolchain_versions()["target"] == "wasm32-wasip2"
    assert output.kind == ("component" if wasip2 else "core")
    layer = output.path.read_bytes()[4:8]
    assert layer == (b"\x0d\x00\x01\x00" if wasip2 else b"\x01\x00\x00\x00")


def test_clean_builds_in_two_folders_are_byte_identical(
        script_new: Callable[..., Path], tmp_path: Path, script_home: Path) -> None:
    files = {"Cargo.toml": CRATE_TOML, "Cargo.lock": "", "src/main.rs": CRATE_MAIN}
    first = script_new(tmp_path / "a", "rust", "rsitoa", files)
    second = script_new(tmp_path / "with space", "rust", "rsitoa", files)
    one = driver.build(load_project(first), BuildContext(tmp_path / "work-a"))
    two = driver.build(load_project(second), BuildContext(tmp_path / "work-b"))
    assert one.path.read_bytes() == two.path.read_bytes()


def test_a_pin_debian_no_longer_serves_names_the_debs_to_fetch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What happens when the security suite moves on: the exact .debs and where to put them."""
    from wasmforge.errors import ToolchainMissing
    from wasmforge.languages import rust_debian

    if shutil.which("apt-get") is None:
        pytest.skip("not a Debian machine")
    gone = rust_debian.Deb("rustc-web", "1.96.0+dfsg1-1~deb12u0", "amd64", "0" * 64)
    monkeypatch.setattr(rust_debian, "DEBS", (gone,))
    monkeypatch.setenv("WASMFORGE_DEBS", str(tmp_path / "debs"))
    with pytest.raises(ToolchainMissing) as missing:
        rust_debian.fetch_debs()
    message = str(missing.value)
    assert "rustc-web_1.96.0+dfsg1-1~deb12u0_amd64.deb" in message
    assert "snapshot.debian.org/binary/rustc-web/" in message
    assert str(tmp_path / "debs") in message
