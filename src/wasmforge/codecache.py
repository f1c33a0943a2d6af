"""Where compiled components are cached, what that code depends on, and proof of who wrote it.

Imports no wasmtime: the `process` tier's parent finds a cached artifact (which its
sandboxed worker reads through a read-only bind) without loading an engine of its own; only a miss
compiles (runtime/engine.py). Build (toolchain/precompile.py) fills the same cache with the
same engine settings (`engine_config`), so the first run of a fresh image compiles nothing.

Compiled code is native code, so no file is loaded on its name alone. Beside each
`<digest>-<engine key>.cwasm` lies `.cwasm.seal`: the file's SHA-256 and an HMAC-SHA256 of
its name and that hash under the per-user key of wasmforge/userkey.py (0600). Only
wasmforge running as this user can write a seal that checks; a file without one, or whose
bytes do not hash to what the seal says, is compiled again. The process tier's worker cannot
read the key: its host checks the seal and hands the worker the hash, and the worker hashes
the bytes it loads. The folders are 0700 and their files 0600 (paths.private_dir).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge import userkey
from wasmforge.paths import private_dir, runtime_cache, write_private

if TYPE_CHECKING:
    import wasmtime

CACHE_WHAT = "the compiled-code cache"
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
    """The one wasmtime.Config of runs and of build's compile step: code compiled with
    other settings would not load, or would be compiled again on the first run."""
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
    system = os.uname()  # what platform.machine()/system() say, without importing platform
    return (f"wasmtime-py {wasmtime_version()}; epoch-interruption; "
            f"fuel={'on' if fuel else 'off'}; {system.machine}-{system.sysname.lower()}"
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


def ensure_cache() -> Path:
    """The cache folder, created 0700; refused if another user could write it."""
    return private_dir(cache_root(), CACHE_WHAT)


def compiled_path(digest: str, fuel: bool) -> Path:
    key = hashlib.sha256(engine_fingerprint(fuel).encode()).hexdigest()[:16]
    return cache_root() / f"{digest.replace(':', '-')}-{key}.cwasm"


def seal_path(path: Path) -> Path:
    return path.with_name(path.name + ".seal")


def _mac(path: Path, sha256: str) -> str:
    return userkey.mac("compiled", path.name, sha256)


def store(path: Path, data: bytes) -> None:
    """Write compiled code and its seal (the code first: a reader that sees the new seal
    with the old code, or the reverse, finds a mismatch and compiles again)."""
    ensure_cache()
    sha256 = hashlib.sha256(data).hexdigest()
    write_private(path, data)
    write_private(seal_path(path), f"{sha256} {_mac(path, sha256)}\n".encode())


def sealed_sha256(path: Path) -> str | None:
    """The SHA-256 that `path`'s seal vouches for, or None when no valid seal exists."""
    ensure_cache()
    try:
        fields = seal_path(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 2 or not userkey.vouches(fields[1], "compiled", path.name, fields[0]):
        return None
    return fields[0]


def load_sealed(path: Path) -> bytes | None:
    """`path`'s bytes when its seal checks and they hash to what it says; else None."""
    expected = sealed_sha256(path)
    if expected is None:
        return None
    return read_matching(path, expected)


def verified_sha256(path: Path) -> str | None:
    """The SHA-256 of `path` when its seal checks and its bytes match it; else None."""
    expected = sealed_sha256(path)
    if expected is None or read_matching(path, expected) is None:
        return None
    return expected


def read_matching(path: Path, sha256: str) -> bytes | None:
    """`path`'s bytes if they hash to `sha256` (what is checked is what is loaded)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hmac.compare_digest(hashlib.sha256(data).hexdigest(), sha256) else None


def discard(path: Path) -> None:
    """Remove a cache entry that failed its check (a read-only cache keeps it)."""
    for target in (path, seal_path(path)):
        try:
            target.unlink(missing_ok=True)
        except OSError:
            return
