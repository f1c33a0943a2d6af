"""Where wasmforge keeps its state: $WASMFORGE_HOME, default ~/.cache/wasmforge.

Keys and the trust store, toolchains, the build store and the runtime's caches all live
under it. This module imports nothing heavy: `wasmforge run` reads it on every start.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("WASMFORGE_HOME") or Path.home() / ".cache" / "wasmforge")


def runtime_cache(kind: str) -> Path:
    """$WASMFORGE_HOME/cache/KIND: compiled code, validated manifests."""
    return home() / "cache" / kind
