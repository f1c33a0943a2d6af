"""Facts about hyperlight-sandbox's wasm guest that both build and run need.

The guest is a wasmtime compiled for x86_64-unknown-none and linked into the backend's
native module; it only loads code precompiled by that exact wasmtime version. Both
versions are read from bytes (the installed backend, the precompiled artifact): nothing
here is hard-coded to a release.

What the guest hosts is read from the same bytes. Its component Linker is filled by
generated bindings that register each interface and function of the backend's world by
name (`wasi:io/streams@0.2.0`, `[method]output-stream.write`, ...), so those names lie in
the guest image as string literals. wasmtime's Linker resolves an import by exact name,
else by semver track (`wasi:io/streams@0.2.12` finds the newest `wasi:io/streams@0.2.x`
defined, in either direction; see `semver_track`), and every function and resource the
import names must then be defined there.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import struct
from dataclasses import dataclass
from pathlib import Path

BACKEND_PACKAGE = "hyperlight-sandbox-backend-wasm"
BACKEND_MODULE = "hyperlight_sandbox_backend_wasm"
AOT_TARGET = "x86_64-unknown-none"
ENGINE_SECTION = ".wasmtime.engine"
_ELF_MAGIC = b"\x7fELF\x02\x01\x01"  # 64-bit little-endian ELF
_WASMTIME_SOURCE = re.compile(rb"/wasmtime-(\d+\.\d+\.\d+)/src/")
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


@dataclass(frozen=True)
class BackendGuest:
    package_version: str  # hyperlight-sandbox-backend-wasm's own version
    wasmtime: str  # the wasmtime version inside its guest
    native: Path  # the native module that embeds the guest

    def image(self) -> bytes:
        """The guest ELF embedded in the native module (empty when it cannot be found)."""
        return _guest_image(self.native, self.native.stat().st_mtime_ns)


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
    from importlib import metadata

    try:
        package_version = metadata.version(BACKEND_PACKAGE)
    except metadata.PackageNotFoundError:
        package_version = "unknown"
    return BackendGuest(package_version, version, native)


@functools.lru_cache(maxsize=2)
def _guest_image(native: Path, _mtime_ns: int) -> bytes:
    return guest_image(native.read_bytes()) or b""


def guest_wasmtime_version(native: bytes) -> str | None:
    """The wasmtime version compiled into the guest ELF embedded in the backend's module."""
    found = _guest_span(native)
    return found[2] if found else None


def guest_image(native: bytes) -> bytes | None:
    """The guest ELF embedded in the backend's module: the one built with one wasmtime."""
    found = _guest_span(native)
    return native[found[0]:found[1]] if found else None


def _guest_span(native: bytes) -> tuple[int, int, str] | None:
    # The host side links a different wasmtime of its own, so only source paths that lie
    # inside an embedded ELF image (not the module's own header at offset 0) count.
    for start in _embedded_elves(native):
        end = _elf_end(native, start)
        versions = {m.group(1).decode() for m in _WASMTIME_SOURCE.finditer(native, start, end)}
        if len(versions) == 1:
            return start, end, versions.pop()
    return None


def semver_track(name: str) -> str | None:
    """The name wasmtime's Linker matches semver-compatible definitions under, or None:
    `a:b/c@1.2.3` -> `a:b/c@1`, `a:b/c@0.2.12` -> `a:b/c@0.2`; `@0.0.x`, pre-releases
    and unversioned names match only exactly."""
    base, at, version = name.partition("@")
    found = _SEMVER.fullmatch(version) if at else None
    if found is None or found.group(4):
        return None
    major, minor = int(found.group(1)), int(found.group(2))
    if major:
        return f"{base}@{major}"
    if minor:
        return f"{base}@0.{minor}"
    return None


def hosted_interface(guest: bytes, name: str) -> str | None:
    """The interface the guest's Linker would give an import of `name`: the exact name when
    the guest defines it, else the newest defined on the same semver track, else None."""
    if _defines_name(guest, name):
        return name
    track = semver_track(name)
    if track is None:
        return None
    rest = 1 if track.count(".") else 2  # 0.x tracks leave the patch, others minor.patch
    pattern = re.compile(re.escape(track.encode()) + rb"((?:\.\d+){%d})(?!\d)" % rest)
    versions = {tuple(int(n) for n in m.group(1).split(b".")[1:]) for m in pattern.finditer(guest)}
    if not versions:
        return None
    return track + "".join(f".{n}" for n in max(versions))


def guest_defines(guest: bytes, item: str) -> bool:
    """Whether a function or resource name is among the guest's strings. Necessary for the
    guest to define it (each is registered by name), not sufficient: short names such as
    `write` are found whatever interface registered them."""
    return item.encode() in guest


def _defines_name(guest: bytes, name: str) -> bool:
    """An exact interface name, not a prefix of a longer version (`@0.2.1` in `@0.2.12`)."""
    pattern = re.escape(name.encode())
    if "@" in name:
        pattern += rb"(?!\d)"
    return re.search(pattern, guest) is not None


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
