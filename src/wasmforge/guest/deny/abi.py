"""Just enough of the component model's canonical ABI (wasm32) to write core functions by hand.

Types come from the JSON that `wasm-tools component wit --json` prints for a component: a
`types` array whose entries have a `kind` (a primitive name as a string, or a one-key object
such as {"result": {...}}, {"handle": {"own": 3}}, {"type": 7} for an alias, or "resource").
Type references are either a primitive name (a string) or an index into `types`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_FLAT_PARAMS = 16
MAX_FLAT_RESULTS = 1

TypeRef = str | int | None

_PRIMITIVE_FLAT: dict[str, tuple[str, ...]] = {
    "bool": ("i32",), "u8": ("i32",), "s8": ("i32",), "u16": ("i32",), "s16": ("i32",),
    "u32": ("i32",), "s32": ("i32",), "char": ("i32",), "u64": ("i64",), "s64": ("i64",),
    "f32": ("f32",), "f64": ("f64",), "string": ("i32", "i32"),
}
_PRIMITIVE_LAYOUT: dict[str, tuple[int, int]] = {  # size, alignment
    "bool": (1, 1), "u8": (1, 1), "s8": (1, 1), "u16": (2, 2), "s16": (2, 2),
    "u32": (4, 4), "s32": (4, 4), "char": (4, 4), "f32": (4, 4),
    "u64": (8, 8), "s64": (8, 8), "f64": (8, 8), "string": (8, 4),
}


class UnsupportedType(Exception):
    """A WIT type this ABI subset does not lay out (async types of WASI 0.3, for example)."""


def align_to(offset: int, alignment: int) -> int:
    return -(-offset // alignment) * alignment


def discriminant_size(cases: int) -> int:
    if cases <= 1 << 8:
        return 1
    if cases <= 1 << 16:
        return 2
    return 4


@dataclass(frozen=True)
class Cases:
    """A variant-like type (variant, enum, option, result): case names and payload types."""

    names: tuple[str, ...]
    payloads: tuple[TypeRef, ...]


class Types:
    """Layout questions about the types of one decoded component."""

    def __init__(self, types: Sequence[dict[str, Any]]) -> None:
        self.types = types

    def kind(self, ref: TypeRef) -> tuple[str, Any]:
        """(kind name, data) after following aliases; primitives give (name, None)."""
        while isinstance(ref, int):
            kind = self.types[ref]["kind"]
            if isinstance(kind, dict) and "type" in kind:
                ref = kind["type"]
                continue
            if isinstance(kind, str):
                return kind, ref
            (name, data), = kind.items()
            return name, data
        if ref is None:
            raise UnsupportedType("no type")
        return ref, None

    def resolve_alias(self, ref: TypeRef) -> TypeRef:
        while isinstance(ref, int):
            kind = self.types[ref]["kind"]
            if isinstance(kind, dict) and "type" in kind:
                ref = kind["type"]
            else:
                break
        return ref

    def cases(self, ref: TypeRef) -> Cases | None:
        name, data = self.kind(ref)
        if name == "variant":
            return Cases(tuple(c["name"] for c in data["cases"]),
                         tuple(c.get("type") for c in data["cases"]))
        if name == "enum":
            return Cases(tuple(c["name"] for c in data["cases"]), (None,) * len(data["cases"]))
        if name == "option":
            return Cases(("none", "some"), (None, data))
        if name == "result":
            return Cases(("ok", "err"), (data.get("ok"), data.get("err")))
        return None

    # ------------------------------------------------------------ flattening

    def flat(self, ref: TypeRef) -> tuple[str, ...]:
        if ref is None:
            return ()
        name, data = self.kind(ref)
        if name in _PRIMITIVE_FLAT:
            return _PRIMITIVE_FLAT[name]
        if name in ("list",):
            return ("i32", "i32")
        if name == "handle":
            return ("i32",)
        if name == "record":
            return tuple(t for field in data["fields"] for t in self.flat(field["type"]))
        if name == "tuple":
            return tuple(t for item in data["types"] for t in self.flat(item))
        if name == "flags":
            return ("i32",) * -(-len(data["flags"]) // 32)
        cases = self.cases(ref)
        if cases is not None:
            joined: list[str] = []
            for payload in cases.payloads:
                for i, flat in enumerate(self.flat(payload)):
                    if i < len(joined):
                        joined[i] = _join(joined[i], flat)
                    else:
                        joined.append(flat)
            return ("i32", *joined)
        raise UnsupportedType(f"type kind {name!r}")

    def core_signature(self, params: Sequence[TypeRef], result: TypeRef
                       ) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        """Core params and results of an exported function; the bool says whether the
        result goes through a return pointer (then the core function returns an i32)."""
        flat_params = tuple(t for p in params for t in self.flat(p))
        if len(flat_params) > MAX_FLAT_PARAMS:
            flat_params = ("i32",)
        flat_results = self.flat(result)
        if len(flat_results) > MAX_FLAT_RESULTS:
            return flat_params, ("i32",), True
        return flat_params, flat_results, False

    # ------------------------------------------------------------ memory layout

    def layout(self, ref: TypeRef) -> tuple[int, int]:
        """(size, alignment) in linear memory."""
        if ref is None:
            return 0, 1
        name, data = self.kind(ref)
        if name in _PRIMITIVE_LAYOUT:
            return _PRIMITIVE_LAYOUT[name]
        if name == "list":
            return 8, 4
        if name == "handle":
            return 4, 4
        if name in ("record", "tuple"):
            members = ([f["type"] for f in data["fields"]] if name == "record"
                       else list(data["types"]))
            size, alignment = 0, 1
            for member in members:
                m_size, m_align = self.layout(member)
                size = align_to(size, m_align) + m_size
                alignment = max(alignment, m_align)
            return align_to(size, alignment), alignment
        if name == "flags":
            count = len(data["flags"])
            if count <= 8:
                return (1 if count else 0), 1
            if count <= 16:
                return 2, 2
            return 4 * -(-count // 32), 4
        cases = self.cases(ref)
        if cases is not None:
            offset, alignment, payload_size = self.payload_offset(cases)
            return align_to(offset + payload_size, alignment), alignment
        raise UnsupportedType(f"type kind {name!r}")

    def payload_offset(self, cases: Cases) -> tuple[int, int, int]:
        """(offset of the payload, alignment of the whole, size of the largest payload)."""
        disc = discriminant_size(len(cases.names))
        alignment, largest = disc, 0
        for payload in cases.payloads:
            size, align = self.layout(payload)
            alignment = max(alignment, align)
            largest = max(largest, size)
        return align_to(disc, alignment), alignment, largest


def _join(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"
