"""Glue wasmforge generates around user scripts (Python, JavaScript) and the WASI WIT it
targets, taken from the installed jco package (never pasted into the repository)."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources


@functools.cache
def digest(*names: str) -> str:
    """sha256 (first 16 hex digits) of glue files: part of a driver's toolchain versions, so
    that a change to the glue rebuilds cached projects."""
    hasher = hashlib.sha256()
    for name in names:
        hasher.update(name.encode() + b"\0")
        hasher.update((resources.files(__package__) / name).read_bytes())
    return hasher.hexdigest()[:16]
