"""Toolchain pins that more than one part uses, each written once.

jco carries the WASI preview1 command adapter (C, Go and Rust wrap their core modules with
it), the WASI WIT the Python and JavaScript glue and the Hyperlight executor are built
against; zig compiles C, the Hyperlight executor and the reproducibility shim.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.tools import Requirement, npm_package_dir

JCO = Requirement("npm", "@bytecodealliance/jco", "1.35.0")
ZIG = Requirement("pip", "ziglang", "0.17.0")

COMMAND_ADAPTER = "lib/wasi_snapshot_preview1.command.wasm"  # inside the jco package
# The adapter inside the pinned jco, pinned by content too: toolchain versions must be
# constant (they are on the no-op rebuild path and must not depend on what is installed),
# so the digest is checked where the adapter is used (toolchain.adapter.command_adapter).
ADAPTER_SHA256 = "2a652d711c1fff34f9d5a0e073e50ef7eeb8fe7d8a6d559eae643a4c049a7b94"
REACTOR_ADAPTER = "lib/wasi_snapshot_preview1.reactor.wasm"  # http handlers built as reactors
REACTOR_SHA256 = "b857310c4753c8fafaa0f890e9ccf978dc3d9dbe8804b1125291a627485041d0"


def adapter_versions() -> dict[str, str]:
    """jco's version and the adapter's pinned sha256, for the cache key and provenance."""
    return {JCO.name: JCO.version, "wasi-preview1-command-adapter.sha256": ADAPTER_SHA256}


def checked_adapter(name: str, sha256: str, fix: str) -> Path:
    """The adapter file `name` inside the pinned jco, refused unless it is installed and
    hashes to its pinned sha256 (checked before every use)."""
    adapter = npm_package_dir(JCO) / name
    what = Path(name).stem.split(".")[-1]  # command | reactor
    if not adapter.is_file():
        raise ToolchainMissing(f"the WASI preview1 {what} adapter ({JCO.spec}) is not "
                               "installed", fix=fix)
    digest = hashlib.sha256(adapter.read_bytes()).hexdigest()
    if digest != sha256:
        raise ToolchainMissing(f"{adapter} is not the adapter {JCO.spec} ships (sha256 "
                               f"{digest}, expected {sha256})",
                               fix=f"remove {npm_package_dir(JCO)} and {fix}")
    return adapter
