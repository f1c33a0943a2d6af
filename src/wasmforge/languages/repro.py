"""Reproducible pre-initialisation for the scripted languages.

componentize-js runs the engine's start-up under wizer and snapshots its memory, so whatever
the start-up saw ends up in the component: the paths it was given, the random bytes it drew
and the monotonic clock it read. Two helpers make those the same in every build:

- `stable_dir(name)`: a folder at a fixed path (`/tmp/wasmforge-NAME`, the same on every
  machine) for the files whose paths the snapshot keeps; builds that need the same folder at
  the same time take turns.
- `preload_env(seed)`: the environment that loads glue/repro_shim.c into a process
  (LD_PRELOAD, Linux with glibc): its randomness is derived from `seed` and its clocks are
  fixed. The library is compiled once, with the C compiler on PATH (else the pinned zig
  when `wasmforge toolchain install c` installed it), into $WASMFORGE_HOME/shims.

Where neither can be had (another platform, no C compiler) the build still works; it is
only not reproducible.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import IO

from wasmforge.languages.pins import ZIG
from wasmforge.languages.tools import pip_target, python_with
from wasmforge.paths import home

SHIM = "repro_shim.c"
STABLE_ROOT = Path("/tmp")


def shim_digest() -> str:
    source = (resources.files("wasmforge.languages.glue") / SHIM).read_bytes()
    return hashlib.sha256(source).hexdigest()[:16]


def preload_env(seed: str) -> dict[str, str]:
    """LD_PRELOAD and WASMFORGE_REPRO_SEED for a process whose randomness and clocks must not
    vary between builds; empty where the shim cannot be built or loaded."""
    library = shim_library()
    if library is None:
        return {}
    return {"LD_PRELOAD": str(library), "WASMFORGE_REPRO_SEED": seed}


def shim_library() -> Path | None:
    if not sys.platform.startswith("linux"):
        return None
    library = home() / "shims" / f"repro-{shim_digest()}.so"
    if library.is_file():
        return library
    compiler = _compiler()
    if compiler is None:
        return None
    library.parent.mkdir(parents=True, exist_ok=True)
    source = resources.files("wasmforge.languages.glue") / SHIM
    with tempfile.TemporaryDirectory(dir=library.parent) as scratch:
        src = Path(scratch) / SHIM
        src.write_bytes(source.read_bytes())
        built = Path(scratch) / library.name
        argv, env = compiler
        proc = subprocess.run([*argv, "-O2", "-shared", "-fPIC", "-o", str(built), str(src),
                               "-ldl"], capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode != 0 or not built.is_file():
            return None
        os.replace(built, library)
    return library


def _compiler() -> tuple[list[str], dict[str, str] | None] | None:
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found], None
    zig = pip_target(ZIG)
    if (zig / ".installed").is_file():
        env = python_with(zig)
        cache = str(home() / "zig-cache")
        env.setdefault("ZIG_GLOBAL_CACHE_DIR", cache)
        env.setdefault("ZIG_LOCAL_CACHE_DIR", cache)
        return [sys.executable, "-m", "ziglang", "cc"], env
    return None


@contextlib.contextmanager
def stable_dir(name: str) -> Iterator[Path | None]:
    """An empty folder at /tmp/wasmforge-NAME for the duration of the block, or None where
    /tmp cannot hold it (then the caller uses its own scratch folder). A build that finds the
    folder in use waits for it; a folder left by a killed build is replaced."""
    folder = STABLE_ROOT / f"wasmforge-{name}"
    lock = _lock(STABLE_ROOT / f"wasmforge-{name}.lock")
    if lock is None:
        yield None
        return
    with lock:
        try:
            shutil.rmtree(folder, ignore_errors=True)
            try:
                folder.mkdir()
            except OSError:
                yield None
                return
            try:
                yield folder
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock.name)  # still held: a build waiting on it will open a new one


def _lock(path: Path) -> IO[str] | None:
    """`path`, opened and locked (flock) by this process alone; None where that cannot be."""
    try:
        import fcntl  # POSIX only
    except ImportError:
        return None
    while True:
        try:
            handle = open(path, "a")  # noqa: SIM115
        except OSError:
            return None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            # the holder before us removes the file once done: lock the file now at `path`
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                return handle
        except OSError:
            pass
        handle.close()
