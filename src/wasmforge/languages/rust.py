"""Rust: a cargo project (Cargo.toml + src/main.rs) built for WASI.

A rustup toolchain that has the wasm32-wasip2 target emits the component directly.
Otherwise Debian's rustc + cargo with `libstd-rust-dev-wasm32` build a wasm32-wasi
(preview1) core module that the build wraps with the command adapter. rustup's
`cargo` usually comes first on PATH, so the Debian binaries are called by full path
with RUSTC set explicitly. CARGO_HOME and the target directory live in the wasmforge
cache, never in ~/.cargo or the project.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages.base import BuildContext, BuildOutput, LanguageDriver, ToolStatus
from wasmforge.languages.pins import JCO, adapter_versions
from wasmforge.languages.tools import (
    Requirement,
    files_by_suffix,
    install_remedy,
    require_npm,
    run_tool,
    toolchains_dir,
)
from wasmforge.paths import home
from wasmforge.project import Project

_DEBIAN_BIN = Path("/usr/bin")
_DEBIAN_WASI_STD = Path("/usr/lib/rustlib/wasm32-wasi")
DEBIAN_RUSTC = Requirement("apt", "rustc", "1.63")
DEBIAN_CARGO = Requirement("apt", "cargo", "0.66")
DEBIAN_WASM_STD = Requirement("apt", "libstd-rust-dev-wasm32", "1.63")
_WASIP2 = "wasm32-wasip2"


@dataclass(frozen=True)
class _Toolchain:
    cargo: Path
    rustc: Path
    target: str  # rustc target triple
    label: str  # for toolchain_versions

    @property
    def emits_component(self) -> bool:
        return self.target == _WASIP2


class RustDriver(LanguageDriver):
    name = "rust"
    entry_file = "src/main.rs"

    def requirements(self) -> list[Requirement]:
        return [DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_WASM_STD, JCO]

    def status(self) -> ToolStatus:
        try:
            chain = _find_toolchain()
            if not chain.emits_component:
                require_npm(JCO, self.name)
        except ToolchainMissing as missing:
            return ToolStatus(False, problem=missing.what, remedy=missing.fix)
        shown = {"rustc": chain.label, "target": chain.target}
        return ToolStatus(True, shown if chain.emits_component else shown | {"jco": JCO.version})

    def source_files(self, project: Project) -> list[Path]:
        return [p for p in files_by_suffix(project.root, (".rs", ".toml", ".lock"))
                if p.suffix == ".rs" or p.name in ("Cargo.toml", "Cargo.lock")
                or p.parts[-2:] == (".cargo", "config.toml")]

    def toolchain_versions(self) -> dict[str, str]:
        try:
            chain = _find_toolchain()
        except ToolchainMissing:
            return {"rustc": "missing"}
        versions = {"rustc": chain.label, "target": chain.target, "profile": "release"}
        if not chain.emits_component:
            versions.update(adapter_versions())
        return versions

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        manifest = project.root / "Cargo.toml"
        if not manifest.is_file():
            raise BuildFailed("Cargo.toml is missing", where=str(project.root),
                              fix="create a cargo project: Cargo.toml and src/main.rs")
        chain = _find_toolchain()
        if not chain.emits_component:
            require_npm(JCO, self.name)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        target_dir = _target_dir(project.root)
        argv: list[str | Path] = [chain.cargo]
        env = dict(os.environ)
        env.update(RUSTC=str(chain.rustc), CARGO_HOME=str(toolchains_dir() / "cargo-home"),
                   CARGO_TARGET_DIR=str(target_dir),
                   CARGO_PROFILE_RELEASE_STRIP="debuginfo")
        env.pop("RUSTFLAGS", None)
        env.pop("CARGO_BUILD_TARGET", None)
        if not chain.emits_component:
            # Cargo 0.66 reads crates.io through its git index (github.com), which is not
            # reachable everywhere; its sparse index support is behind -Z, which stable
            # cargo accepts only with RUSTC_BOOTSTRAP=1.
            env.update(RUSTC_BOOTSTRAP="1", CARGO_REGISTRIES_CRATES_IO_PROTOCOL="sparse")
            argv += ["-Z", "sparse-registry"]
        argv += ["build", "--release", "--target", chain.target,
                 "--manifest-path", manifest]
        if not ctx.verbose:
            argv.append("--quiet")
        try:
            run_tool(argv, what=f"cargo build ({chain.target})", cwd=project.root, env=env)
        except BuildFailed as failed:
            if "requires rustc" not in failed.what or chain.emits_component:
                raise
            # cargo 0.66 resolves the newest version of a crate, whatever its MSRV.
            raise BuildFailed(failed.what, where=failed.where,
                              fix="pin a release of that crate that supports rustc "
                                  f"{DEBIAN_RUSTC.version} in Cargo.toml (e.g. `crate = "
                                  "\"=x.y.z\"`) or install a rustup toolchain with `rustup "
                                  f"target add {_WASIP2}`") from None
        wasm = _artifact(target_dir / chain.target / "release", manifest)
        out = ctx.work_dir / f"{project.name}.wasm"
        out.write_bytes(wasm.read_bytes())
        return BuildOutput(out, "component" if chain.emits_component else "core")


def _find_toolchain() -> _Toolchain:
    rustup = _rustup_wasip2()
    if rustup is not None:
        return rustup
    rustc, cargo = _DEBIAN_BIN / "rustc", _DEBIAN_BIN / "cargo"
    if rustc.is_file() and cargo.is_file() and _DEBIAN_WASI_STD.is_dir():
        return _Toolchain(cargo, rustc, "wasm32-wasi", f"debian-{DEBIAN_RUSTC.version}")
    missing = [r.name for r in (DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_WASM_STD)]
    raise ToolchainMissing(
        "no Rust toolchain with a WASI standard library was found (neither a rustup "
        f"toolchain with the {_WASIP2} target nor Debian's {', '.join(missing)})",
        fix=f"{install_remedy('rust')} (as root), or `rustup target add {_WASIP2}`")


def _rustup_wasip2() -> _Toolchain | None:
    """A rustup toolchain that ships the wasip2 std; found by its files, no subprocess."""
    rustup_home = Path(os.environ.get("RUSTUP_HOME", Path.home() / ".rustup"))
    toolchains = rustup_home / "toolchains"
    if not toolchains.is_dir():
        return None
    for chain in sorted(toolchains.iterdir(), reverse=True):
        if (chain / "lib" / "rustlib" / _WASIP2).is_dir() and (chain / "bin" / "cargo").is_file():
            return _Toolchain(chain / "bin" / "cargo", chain / "bin" / "rustc", _WASIP2,
                              f"rustup-{chain.name}")
    return None


def _target_dir(root: Path) -> Path:
    """One cargo target dir per project in the cache, so dependencies compile once."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return home() / "cargo-target" / digest


def _artifact(release: Path, manifest: Path) -> Path:
    try:
        data = tomllib.loads(manifest.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BuildFailed(f"Cargo.toml cannot be read: {err}", where=str(manifest)) from None
    names = [b.get("name") for b in data.get("bin", []) if isinstance(b, dict)]
    names.append(data.get("package", {}).get("name"))
    for name in names:
        if isinstance(name, str) and (release / f"{name}.wasm").is_file():
            return release / f"{name}.wasm"
    raise BuildFailed("cargo built no .wasm binary", where=str(manifest),
                      fix="give the package a binary target (src/main.rs with fn main)")


driver = RustDriver()
