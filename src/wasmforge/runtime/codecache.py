"""Where compiled components are cached, and what that code depends on.

Imports no wasmtime: the `process` tier's parent finds a cached artifact (which its
sandboxed worker maps read-only) without loading an engine of its own; only a miss
compiles (runtime/engine.py).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import platform
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge.paths import runtime_cache

if TYPE_CHECKING:
    import wasmtime

# On a precompiled layer: the fingerprint of the engine that compiled it (written by
# toolchain/precompile.py, compared by runtime/engine.py).
ENGINE_ANNOTATION = "dev.wasmforge.engine"


@functools.cache
def wasmtime_version() -> str:
    """wasmtime-py's version from its dist-info name (importlib.metadata costs 13 ms)."""
    spec = importlib.util.find_spec("wasmtime")
    if spec is not None and spec.origin:
        found = sorted(Path(spec.origin).parent.parent.glob("wasmtime-*.dist-info"))
        if len(found) == 1:
            return found[0].name.removeprefix("wasmtime-").removesuffix(".dist-info")
    from importlib.metadata import version

    return version("wasmtime")


def wasmtime_folder() -> Path:
    """The folder wasmtime-py is imported from (its site-packages)."""
    spec = importlib.util.find_spec("wasmtime")
    if spec is None or not spec.origin:
        raise ImportError("wasmtime is not installed (pip install wasmtime)")
    return Path(spec.origin).resolve().parent.parent


def engine_config(fuel: bool) -> wasmtime.Config:
    """The settings of every engine wasmforge compiles with, at build (precompile) and at
    run: `engine_fingerprint` names each one it changes."""
    import wasmtime

    config = wasmtime.Config()
    config.epoch_interruption = True
    config.consume_fuel = fuel
    config.memory_init_cow = True
    return config


def engine_fingerprint(fuel: bool) -> str:
    """What compiled code depends on: wasmtime version, the settings we change, the CPU
    and its features (code compiled where AVX-512 exists does not load where it does not,
    as in a shared home directory, or a VM's emulated CPU)."""
    return (f"wasmtime-py {wasmtime_version()}; epoch-interruption; "
            f"fuel={'on' if fuel else 'off'}; {platform.machine()}-{platform.system().lower()}"
            f"{cpu_features()}")


@functools.cache
def cpu_features() -> str:
    """"; cpu=<hash of the first CPU's feature flags>", or "" where Linux does not say."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    flags = " ".join(sorted(line.split(":", 1)[1].split()))
                    return f"; cpu={hashlib.sha256(flags.encode()).hexdigest()[:12]}"
    except OSError:
        pass
    return ""


def cache_root() -> Path:
    return runtime_cache("compiled")


def compiled_path(digest: str, fuel: bool) -> Path:
    key = hashlib.sha256(engine_fingerprint(fuel).encode()).hexdigest()[:16]
    return cache_root() / f"{digest.replace(':', '-')}-{key}.cwasm"
