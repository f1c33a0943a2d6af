"""The Rust driver: cargo for wasm32-wasi (Debian's rustc 1.63 here) + the preview1 command
adapter, or rustup's wasm32-wasip2 where present; built through build_project and run in
wasmtime-py (WASIp2: args, one env var, stdin, no preopens)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import GuestRunner

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext
from wasmforge.languages.rust import driver
from wasmforge.project import load_project
from wasmforge.toolchain.build import BuildResult, build_project

pytestmark = pytest.mark.slow

# itoa 1.0.9 builds with rustc 1.63 (its MSRV is 1.36); newer releases need newer rustc.
CRATE_TOML = """\
[package]
name = "rsitoa"
version = "0.1.0"
edition = "2021"

[dependencies]
itoa = "=1.0.9"
"""
CRATE_MAIN = """\
fn main() {
    let mut buffer = itoa::Buffer::new();
    println!("itoa: {}", buffer.format(-1234567_i64));
}
"""


@pytest.fixture(scope="session")
def rust_hello(build_lang: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    return build_lang("rust", "rshello", {})


@pytest.fixture(scope="session")
def rust_crate(build_lang: Callable[[str, str, dict[str, str]], BuildResult]) -> BuildResult:
    # The template's Cargo.lock names no dependency: drop it, cargo writes a fresh one.
    return build_lang("rust", "rsitoa", {"Cargo.toml": CRATE_TOML, "Cargo.lock": "",
                                           "src/main.rs": CRATE_MAIN})


def test_template_lock_file_is_left_unchanged(rust_hello: BuildResult) -> None:
    # A build that rewrote Cargo.lock would change the cache key of the next build.
    lock = (rust_hello.component.parent.parent / "Cargo.lock").read_text()
    assert 'name = "rshello"' in lock and "[[package]]" in lock
    assert build_project(rust_hello.component.parent.parent).cached


def test_crates_io_dependency(rust_crate: BuildResult, guest_runner: GuestRunner) -> None:
    run = guest_runner(rust_crate.component)
    assert run.ok, run.stderr
    assert run.stdout == "itoa: -1234567\n"


def test_missing_cargo_toml_is_refused(new_project: Callable[..., Path], lang_home: Path,
                                       tmp_path: Path) -> None:
    root = new_project(tmp_path, "rust", "rsnocargo", {"Cargo.toml": ""})
    with pytest.raises(BuildFailed, match="Cargo.toml is missing"):
        build_project(root)


def test_status_and_versions(lang_home: Path) -> None:
    status = driver.status()
    assert status.usable, status.problem
    versions = driver.toolchain_versions()
    assert versions["target"] in ("wasm32-wasi", "wasm32-wasip2")
    kinds = {r.kind for r in driver.requirements()}
    assert kinds == {"apt", "npm"}


def test_the_route_decides_core_or_component(new_project: Callable[..., Path], tmp_path: Path,
                                            lang_home: Path) -> None:
    """rustup with wasm32-wasip2 emits the component; Debian's wasm32-wasi a core module."""
    root = new_project(tmp_path, "rust", "rsroute", {})
    output = driver.build(load_project(root), BuildContext(tmp_path / "work"))
    wasip2 = driver.toolchain_versions()["target"] == "wasm32-wasip2"
    assert output.kind == ("component" if wasip2 else "core")
    layer = output.path.read_bytes()[4:8]
    assert layer == (b"\x0d\x00\x01\x00" if wasip2 else b"\x01\x00\x00\x00")


def test_crate_too_new_for_rustc_names_the_pin(new_project: Callable[..., Path], tmp_path: Path,
                                               lang_home: Path) -> None:
    if driver.toolchain_versions()["target"] == "wasm32-wasip2":
        pytest.skip("a rustup toolchain is new enough for the newest itoa")
    toml = CRATE_TOML.replace('"=1.0.9"', '"1"')
    root = new_project(tmp_path, "rust", "rsitoa", {"Cargo.toml": toml, "Cargo.lock": "",
                                                   "src/main.rs": CRATE_MAIN})
    with pytest.raises(BuildFailed) as failed:
        build_project(root)
    assert "requires rustc" in str(failed.value)
    assert "pin a release of that crate" in str(failed.value)
