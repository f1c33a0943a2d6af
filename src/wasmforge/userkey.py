"""This user's secret for sealing local caches: `$WASMFORGE_HOME/cache/code.key` (0600).

Caches whose entries decide what runs (compiled native code, signature checks already
done) are only believed when an HMAC under this key vouches for them: only wasmforge
running as this user can write one that checks. The key is made on first use and refused
when another user could read it, or write the folders above it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from wasmforge.errors import WasmforgeError
from wasmforge.paths import check_private, home, private_dir

KEY_WHAT = "the local caches' key"
_KEY_BYTES = 32
_keys: dict[Path, bytes] = {}


def key_path() -> Path:
    return home() / "cache" / "code.key"


def key() -> bytes:
    """This user's key, made (0600) on first use."""
    path = key_path()
    found = _keys.get(path)
    if found is not None:
        return found
    private_dir(path.parent, "the cache folder")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = _read(path)
    else:
        secret = os.urandom(_KEY_BYTES)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
    _keys[path] = secret
    return secret


def forget() -> None:
    """Read the key again on next use (tests change its mode)."""
    _keys.clear()


def _read(path: Path) -> bytes:
    check_private(path, KEY_WHAT)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise WasmforgeError(f"{KEY_WHAT} at {path} can be read by other users (mode {mode:o})",
                             fix=f"run `chmod 600 {path}`, or remove it and the folder "
                                 f"{path.parent} with it")
    secret = path.read_bytes()
    if len(secret) != _KEY_BYTES:
        raise WasmforgeError(f"{KEY_WHAT} at {path} is damaged",
                             fix=f"remove it and the folder {path.parent} with it")
    return secret


def mac(*parts: str) -> str:
    """HMAC-SHA256 (hex) of `parts`, joined by NUL, under this user's key."""
    return hmac.new(key(), "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def vouches(tag: str, *parts: str) -> bool:
    return hmac.compare_digest(tag, mac(*parts))
