"""Facts about hyperlight-sandbox's wasm guest that both build and run need.

The guest is a wasmtime compiled for x86_64-unknown-none and linked into the backend's
native module; it only loads code precompiled by that exact wasmtime version. Both
versions are read from bytes (the installed backend, the precompiled artifact): nothing
here is hard-coded to a release.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import struct
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

BACKEND_PACKAGE = "hyperlight-sandbox-backend-wasm"
BACKEND_MODULE = "hyperlight_sandbox_backend_wasm"
AOT_TARGET = "x86_64-unknown-none"
ENGINE_SECTION = ".wasmtime.engine"
_ELF_MAGIC = b"\x7fELF\x02\x01\x01"  # 64-bit little-endian ELF
_WASMTIME_SOURCE = re.compile(rb"/wasmtime-(\d+\.\d+\.\d+)/src/")


@dataclass(frozen=True)
class BackendGuest:
    package_version: str  # hyperlight-sandbox-backend-wasm's own version
    wasmtime: str  # the wasmtime version inside its guest
    native: Path  # the native module that embeds the guest


@dataclass(frozen=True)
class EngineInfo:
    """What a wasmtime precompiled artifact says about the engine that made it."""

    wasmtime: str
    target: str


def backend_native_module() -> Path | None:
    """The backend's native extension, or None when the package is not installed."""
    spec = importlib.util.find_spec(BACKEND_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("_native_wasm*.so")) + sorted(
            Path(folder).glob("_native_wasm*.pyd"))
        if found:
            return found[0]
    return None


def backend_guest() -> BackendGuest | None:
    """The installed backend and its guest's wasmtime version; None when not installed."""
    native = backend_native_module()
    if native is None:
        return None
    return _backend_guest(native, native.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _backend_guest(native: Path, _mtime_ns: int) -> BackendGuest | None:
    version = guest_wasmtime_version(native.read_bytes())
    if version is None:
        return None
    try:
        package_version = metadata.version(BACKEND_PACKAGE)
    except metadata.PackageNotFoundError:
        package_version = "unknown"
    return BackendGuest(package_version, version, native)


def guest_wasmtime_version(native: bytes) -> str | None:
    """The wasmtime version compiled into the guest ELF embedded in the backend's module.

    The host side links a different wasmtime of its own, so only source paths that lie
    inside an embedded ELF image (not the module's own header at offset 0) count.
    """
    for start in _embedded_elves(native):
        end = _elf_end(native, start)
        versions = {m.group(1).decode() for m in _WASMTIME_SOURCE.finditer(native, start, end)}
        if len(versions) == 1:
            return versions.pop()
    return None


def aot_engine(artifact: bytes) -> EngineInfo | None:
    """Engine version and target recorded in a precompiled artifact's .wasmtime.engine."""
    section = elf_section(artifact, ENGINE_SECTION)
    if section is None or len(section) < 2:
        return None
    # Layout: format byte, then length-prefixed version and target strings.
    at = 1
    fields = []
    for _ in range(2):
        if at >= len(section):
            return None
        size = section[at]
        fields.append(section[at + 1:at + 1 + size].decode("utf-8", "replace"))
        at += 1 + size
    return EngineInfo(wasmtime=fields[0], target=fields[1])


def elf_section(data: bytes, name: str) -> bytes | None:
    """The bytes of one named section of a 64-bit little-endian ELF, else None."""
    if not data.startswith(_ELF_MAGIC) or len(data) < 64:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff + shnum * shentsize > len(data) or shstrndx >= shnum:
        return None

    def header(index: int) -> tuple[int, int, int]:
        base = shoff + index * shentsize
        name_at, = struct.unpack_from("<I", data, base)
        offset, size = struct.unpack_from("<QQ", data, base + 0x18)
        return name_at, offset, size

    _, names_at, names_size = header(shstrndx)
    names = data[names_at:names_at + names_size]
    for index in range(shnum):
        name_at, offset, size = header(index)
        end = names.find(b"\0", name_at)
        if names[name_at:end].decode("utf-8", "replace") == name:
            return data[offset:offset + size]
    return None


def _embedded_elves(data: bytes) -> list[int]:
    starts = []
    at = data.find(_ELF_MAGIC, 1)
    while at != -1:
        starts.append(at)
        at = data.find(_ELF_MAGIC, at + 1)
    return starts


def _elf_end(data: bytes, start: int) -> int:
    """Where an embedded ELF ends: its section header table is last in the file."""
    try:
        shoff, = struct.unpack_from("<Q", data, start + 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, start + 0x3A)
    except struct.error:
        return len(data)
    end = start + shoff + shentsize * shnum
    return end if start < end <= len(data) else len(data)
