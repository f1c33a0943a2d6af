"""Rust: a cargo project (Cargo.toml + src/main.rs) built for WASI.

A rustup toolchain that has the wasm32-wasip2 target emits the component directly.
Otherwise the pinned Debian Rust (languages/rust_debian.py: rustc-web 1.96 unpacked
into the cache, with a wasm32-wasip1 sysroot built once) builds a preview1 core module
that the build wraps with the command adapter. CARGO_HOME and the target directory
live in the wasmforge cache, never in ~/.cargo or the project; Cargo.lock is read,
and written only where cargo must add what it lacks, as a plain `cargo build` would.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.languages import rust_debian
from wasmforge.languages.base import BuildContext, BuildOutput, ToolStatus
from wasmforge.languages.c import JCO, ZIG, adapter_versions, project_files
from wasmforge.languages.tools import (
    Requirement,
    home,
    require_npm,
    run_tool,
    toolchains_dir,
)
from wasmforge.project import Project

_WASIP2 = "wasm32-wasip2"


@dataclass(frozen=True)
class _Toolchain:
    cargo: Path
    target: str  # rustc target triple
    label: str  # for toolchain_versions
    debian: rust_debian.DebianRust | None = None  # None: a rustup toolchain

    @property
    def emits_component(self) -> bool:
        return self.target == _WASIP2


class RustDriver:
    name = "rust"
    entry_file = "src/main.rs"

    def requirements(self) -> list[Requirement]:
        system = [Requirement("apt", name, "") for name in rust_debian.SYSTEM_PACKAGES]
        return [*system, ZIG, JCO]  # the pinned .debs: rust_debian.install()

    def status(self) -> ToolStatus:
        try:
            chain = _find_toolchain()
            if not chain.emits_component:
                require_npm(JCO, self.name)
        except ToolchainMissing as missing:
            return ToolStatus(False, problem=missing.what,
                              remedy=f"{missing.fix} ({rust_debian.moved_on_note()})")
        shown = {"rustc": chain.label, "target": chain.target}
        if chain.emits_component:
            return ToolStatus(True, shown)
        return ToolStatus(True, shown | {"jco": JCO.version, "when Debian's security suite "
                                         "moves on": rust_debian.installed_note()})

    def source_files(self, project: Project) -> list[Path]:
        return [p for p in project_files(project.root, (".rs", ".toml", ".lock"))
                if p.suffix == ".rs" or p.name in ("Cargo.toml", "Cargo.lock")
                or p.parts[-2:] == (".cargo", "config.toml")]

    def template_vars(self, name: str) -> dict[str, str]:
        return {}

    def toolchain_versions(self) -> dict[str, str]:
        rustup = rustup_wasip2()
        if rustup is not None:
            return {"rustc": rustup.label, "target": _WASIP2, "profile": "release"}
        return {**rust_debian.pins(), "target": rust_debian.TARGET, "profile": "release",
                "zig (pthread stubs)": ZIG.version, **adapter_versions()}

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
        argv: list[str | Path] = [chain.cargo, "build", "--release", "--target", chain.target,
                                  "--manifest-path", manifest]
        if not ctx.verbose:
            argv.append("--quiet")
        run_tool(argv, what=f"cargo build ({chain.target})", cwd=project.root,
                 env=_cargo_env(chain, project.root, target_dir))
        wasm = _artifact(target_dir / chain.target / "release", manifest)
        out = ctx.work_dir / f"{project.name}.wasm"
        out.write_bytes(wasm.read_bytes())
        return BuildOutput(out, "component" if chain.emits_component else "core")


def _cargo_env(chain: _Toolchain, root: Path, target_dir: Path) -> dict[str, str]:
    base = dict(os.environ)
    env = chain.debian.env(base) if chain.debian else base
    cargo_home = toolchains_dir() / "cargo-home"
    env.update(CARGO_HOME=str(cargo_home), CARGO_TARGET_DIR=str(target_dir),
               CARGO_PROFILE_RELEASE_STRIP="debuginfo")
    for name in ("RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_BOOTSTRAP"):
        env.pop(name, None)
    # Paths in panic messages: the same wherever the project and the cache are.
    flags = [f"--remap-path-prefix={cargo_home}=/cargo",
             f"--remap-path-prefix={root.resolve()}=/src",
             f"--remap-path-prefix={target_dir}=/target"]
    if chain.debian is not None:
        key = chain.target.upper().replace("-", "_")
        env[f"CARGO_TARGET_{key}_LINKER"] = str(chain.debian.wasm_ld)
        realloc = rust_debian.cabi_realloc_object(chain.debian)  # see rust_debian's doc
        flags = ["--sysroot", str(chain.debian.sysroot), "-C", f"link-arg={realloc}", *flags]
    else:
        env["RUSTC"] = str(chain.cargo.parent / "rustc")
    # With --target these reach only the wasm crates, not build scripts or proc macros; the
    # encoded form keeps paths with spaces whole.
    env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags)
    return env


def _find_toolchain() -> _Toolchain:
    rustup = rustup_wasip2()
    if rustup is not None:
        return rustup
    chain = rust_debian.require()
    label = f"{rust_debian.RUST_VERSION} (Debian rustc-web {rust_debian.DEBIAN_RUST})"
    return _Toolchain(chain.cargo, rust_debian.TARGET, label, chain)


def rustup_wasip2() -> _Toolchain | None:
    """A rustup toolchain that ships the wasip2 std; found by its files, no subprocess."""
    rustup_home = Path(os.environ.get("RUSTUP_HOME", Path.home() / ".rustup"))
    toolchains = rustup_home / "toolchains"
    if not toolchains.is_dir():
        return None
    for chain in sorted(toolchains.iterdir(), reverse=True):
        if (chain / "lib" / "rustlib" / _WASIP2).is_dir() and (chain / "bin" / "cargo").is_file():
            return _Toolchain(chain / "bin" / "cargo", _WASIP2, f"rustup-{chain.name}")
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
