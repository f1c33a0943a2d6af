"""Where wasmforge keeps its state: $WASMFORGE_HOME, default ~/.cache/wasmforge.

Keys and the trust store, toolchains, the build store and the runtime's caches all live
under it. This module imports nothing heavy: `wasmforge run` reads it on every start.

Folders that hold what wasmforge trusts (compiled native code, the trust store) are made
0700 and their files 0600; `private_dir` refuses one that another user could write, since
whoever can write them can choose the code wasmforge runs or the keys it trusts.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from wasmforge.errors import WasmforgeError


def home() -> Path:
    return Path(os.environ.get("WASMFORGE_HOME") or Path.home() / ".cache" / "wasmforge")


def runtime_cache(kind: str) -> Path:
    """$WASMFORGE_HOME/cache/KIND: compiled code, validated manifests."""
    return home() / "cache" / kind


def private_dir(path: Path, what: str) -> Path:
    """Create `path` (and its missing parents below $WASMFORGE_HOME) with mode 0700, then
    refuse it if $WASMFORGE_HOME or any folder down to `path` is another user's or writable
    by group or others."""
    root = home()
    chain = [root, *(root / part for part in _below(root, path))]
    with contextlib.suppress(OSError):  # above $WASMFORGE_HOME (~/.cache) is not ours to judge
        root.parent.mkdir(parents=True, exist_ok=True)
    for folder in chain:
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as err:
            raise WasmforgeError(f"cannot create {what} at {folder} ({err.strerror})",
                                 fix="set WASMFORGE_HOME to a folder you own") from None
        check_private(folder, what)
    return path


def _below(root: Path, path: Path) -> list[str]:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return []
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def check_private(path: Path, what: str) -> None:
    """Refuse `path` (a folder or file of `what`) if another user owns it or may write it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise WasmforgeError(f"cannot read {what} at {path} ({err.strerror})",
                             fix="set WASMFORGE_HOME to a folder you own") from None
    if info.st_uid != os.getuid():
        raise WasmforgeError(f"{what} at {path} belongs to another user (uid {info.st_uid}), "
                             "so wasmforge will not use it",
                             fix="remove it, or set WASMFORGE_HOME to a folder you own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise WasmforgeError(f"{what} at {path} can be written by other users "
                             f"(mode {stat.S_IMODE(info.st_mode):o}), so wasmforge will not "
                             "use it", fix=f"run `chmod go-w {path}`")


def is_private(path: Path) -> bool:
    """Whether `path` exists and only this user may write it and the folders above it up
    to $WASMFORGE_HOME (for caches whose entries are only worth their origin)."""
    try:
        root = home()
        for item in (root, *(root / part for part in _below(root, path))):
            check_private(item, "a cache")
        return path.exists()
    except WasmforgeError:
        return False


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with a file of mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
