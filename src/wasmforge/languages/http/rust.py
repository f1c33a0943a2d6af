"""Rust handlers: a `cdylib` crate on the `wasi` crate's wasi:http/proxy bindings
(`wasi::http::proxy::export!`), built with the current-Rust toolchain of the command driver
(languages/rust.py: rustup's wasm32-wasip2 when present, else Debian's rustc-web with a
wasm32-wasip1 sysroot, whose core module the reactor adapter wraps). The `wasi` crate embeds
its own component type, so nothing is embedded here."""

from __future__ import annotations

import tomllib
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.http import adapter
from wasmforge.languages.tools import run_tool
from wasmforge.project import Project


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    try:  # the current-Rust driver (rustc 1.96 or rustup's wasip2 target)
        from wasmforge.languages.rust import _cargo_env, _find_toolchain, _target_dir
    except ImportError:
        raise BuildFailed("Rust HTTP handlers need the current-Rust driver (wasi 0.14 needs "
                          "Rust 1.87 or newer), which this wasmforge does not have",
                          where=str(project.root),
                          fix="update wasmforge, or use another language") from None
    manifest = project.root / "Cargo.toml"
    if not manifest.is_file():
        raise BuildFailed("Cargo.toml is missing", where=str(project.root),
                          fix="create a cdylib crate as `wasmforge new NAME --lang rust "
                              "--world http` does")
    chain = _find_toolchain()
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    target_dir = _target_dir(project.root)
    run_tool([chain.cargo, "build", "--release", "--lib", "--target", chain.target,
              "--manifest-path", manifest, *([] if ctx.verbose else ["--quiet"])],
             what=f"cargo build ({chain.target})", cwd=project.root,
             env=_cargo_env(chain, project.root, target_dir))
    built = target_dir / chain.target / "release" / f"{_lib_name(manifest)}.wasm"
    if not built.is_file():
        raise BuildFailed("cargo built no .wasm library", where=str(manifest),
                          fix='set [lib] crate-type = ["cdylib"]')
    out = ctx.work_dir / f"{project.name}.wasm"
    if chain.emits_component:
        out.write_bytes(built.read_bytes())
    else:
        adapter.adapt(built, out, "rust")
    return BuildOutput(out, "component")


def _lib_name(manifest: Path) -> str:
    try:
        data = tomllib.loads(manifest.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BuildFailed(f"Cargo.toml cannot be read: {err}", where=str(manifest)) from None
    lib = data.get("lib", {}) if isinstance(data.get("lib"), dict) else {}
    name = lib.get("name") or data.get("package", {}).get("name", "")
    return str(name).replace("-", "_")


def versions() -> dict[str, str]:
    return adapter.versions()

