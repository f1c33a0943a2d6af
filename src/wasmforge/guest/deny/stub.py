"""Generate a deny stub: a component exporting ungranted interfaces whose every call fails.

The WIT comes from the component being checked (`wasm-tools component wit --json` and
`--out-dir`), so the stub matches the exact version and the exact subset of each interface the
guest imports; no WASI WIT lives in this repository. What a denied call does depends on what
the function returns:

- every function of `random` traps: an empty or zeroed "random" buffer would be a silent
  security bug, never a denial;
- `result<_, error-code>` where the error type has an access-denied-like case: that error
  (sockets `access-denied`, http `HTTP-request-denied`, filesystem `access`/`not-permitted`),
  so the guest's libc sees EACCES/EPERM and the rest of the program goes on;
- `result<_, string>`: `err("... not granted ...")` naming the function and the key;
- `result` without an error payload: `err`; `option<_>`: `none`; `list`/`string`: empty;
- a handle of a resource that the stub itself exports (e.g. `instance-network`): a fresh handle
  that no other function accepts as anything but denied;
- nothing: returns;
- anything else (a clock reading, random bytes, a host stream): a trap in a core function named
  `wasmforge_denied:<key>:<interface>#<function>`, which wasmtime shows in the backtrace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wasmforge.guest.deny.abi import Types, UnsupportedType, align_to
from wasmforge.guest.interfaces import RULES, grant_hint

# Error cases that mean "you may not", most specific first.
DENIAL_CASES = ("access-denied", "HTTP-request-denied", "access", "not-permitted")
STUB_PACKAGE = "wasmforge:deny"
STUB_WORLD = "deny"
_SCRATCH = 65536  # cabi_realloc hands out this page; the stub never reads its arguments
_DATA_START = 16
# Keys whose functions always trap, whatever they return.
TRAP_ONLY_KEYS = frozenset({"random"})
MODULE_NAME = "wasmforge_deny_stub"
TRAP_PREFIX = "wasmforge_denied:"
_KEYS = frozenset(rule.key for rule in RULES)


@dataclass(frozen=True)
class Case:
    index: int
    payload: Case | None = None


@dataclass(frozen=True)
class Empty:
    """An empty list or string."""


@dataclass(frozen=True)
class Text:
    """A string (the error of a `result<_, string>`, such as a host tool call's)."""

    value: str


@dataclass(frozen=True)
class NewHandle:
    resource: int  # type index of a resource the stub exports


DenyValue = Case | Empty | Text | NewHandle


@dataclass(frozen=True)
class DeniedFunction:
    interface: str  # qualified, e.g. wasi:sockets/tcp@0.2.12
    name: str  # as in WIT JSON, e.g. [method]tcp-socket.start-bind
    behaviour: str  # "error", "none", "empty", "handle", "nothing", "trap"


@dataclass
class DenyStub:
    """Sources of the stub: a WIT package (to place next to the component's own WIT deps)
    and a core module in WAT, plus what each function does."""

    wit: str
    wat: str
    interfaces: list[str]
    functions: list[DeniedFunction] = field(default_factory=list)


def qualified_interface(resolve: Mapping[str, Any], interface_id: int) -> str:
    interface = resolve["interfaces"][interface_id]
    package = resolve["packages"][interface["package"]]["name"]
    namespace_name, sep, version = package.partition("@")
    return f"{namespace_name}/{interface['name']}" + (f"@{version}" if sep else "")


def world_imports(resolve: Mapping[str, Any], world_index: int | None = None
                  ) -> dict[str, int]:
    """Qualified interface name -> interface id for the root world's interface imports."""
    worlds = resolve["worlds"]
    world = worlds[world_index if world_index is not None else len(worlds) - 1]
    found: dict[str, int] = {}
    for item in world["imports"].values():
        if isinstance(item, dict) and "interface" in item:
            interface_id = item["interface"]["id"]
            found[qualified_interface(resolve, interface_id)] = interface_id
    return found


def generate(resolve: Mapping[str, Any], denied: Mapping[int, str]) -> DenyStub:
    """Build the stub for `denied` (interface id -> capability key, used in trap names)."""
    types = Types(resolve["types"])
    owned = _owned_resources(resolve, denied)
    names = {iid: qualified_interface(resolve, iid) for iid in denied}
    module = _Module(types)
    functions: list[DeniedFunction] = []
    for iid, key in denied.items():
        for fname, func in resolve["interfaces"][iid]["functions"].items():
            params = [p["type"] for p in func["params"]]
            result = func.get("result")
            trap = key in TRAP_ONLY_KEYS
            message = (f"{names[iid]}#{fname} is not granted to this image "
                       f"({grant_hint(key) if key in _KEYS else 'no capability'} grants it)")
            value = None if trap else _deny_value(types, result, owned, message)
            behaviour = "trap" if trap else _behaviour(types, result, value)
            export = f"{names[iid]}#{fname}"
            label = f"{TRAP_PREFIX}{key}:{export}".replace("[", "").replace("]", ".")
            module.function(label, export, params, result, value, trap=trap, resolve=resolve)
            functions.append(DeniedFunction(names[iid], fname, behaviour))
    exports = "\n".join(f"  export {names[iid]};" for iid in denied)
    wit = f"package {STUB_PACKAGE};\n\nworld {STUB_WORLD} {{\n{exports}\n}}\n"
    return DenyStub(wit=wit, wat=module.render(), interfaces=list(names.values()),
                    functions=functions)


def _owned_resources(resolve: Mapping[str, Any], denied: Mapping[int, str]) -> set[int]:
    return {index for index, t in enumerate(resolve["types"])
            if t["kind"] == "resource" and (t.get("owner") or {}).get("interface") in denied}


def _deny_value(types: Types, result: Any, owned: set[int], message: str
                ) -> DenyValue | None:
    if result is None:
        return None
    try:
        kind, data = types.kind(result)
    except UnsupportedType:
        return None
    if kind == "result":
        err = data.get("err")
        if err is None:
            return Case(1)
        if types.kind(err)[0] == "string":
            return Case(1, Text(message))
        denial = _denial_case(types, err)
        return Case(1, denial) if denial else None
    if kind == "option":
        return Case(0)
    if kind in ("list", "string"):
        return Empty()
    if kind == "handle" and "own" in data:
        resource = types.resolve_alias(data["own"])
        if isinstance(resource, int) and resource in owned:
            return NewHandle(resource)
    return None


def _denial_case(types: Types, err: Any) -> Case | None:
    try:
        cases = types.cases(err)
    except UnsupportedType:
        return None
    if cases is None:
        return None
    for wanted in DENIAL_CASES:
        if wanted in cases.names:
            index = cases.names.index(wanted)
            if cases.payloads[index] is None:
                return Case(index)
    return None


def _behaviour(types: Types, result: Any, value: DenyValue | None) -> str:
    if result is None:
        return "nothing"
    if value is None:
        return "trap"
    if isinstance(value, NewHandle):
        return "handle"
    if isinstance(value, Empty):
        return "empty"
    if isinstance(value, Case) and isinstance(value.payload, Text):
        return "message"
    kind, _ = types.kind(result)
    if kind == "option":
        return "none"
    return "error"


class _Module:
    """Accumulates the WAT of the stub's core module."""

    def __init__(self, types: Types) -> None:
        self.types = types
        self.imports: dict[int, str] = {}
        self.funcs: list[str] = []
        self.data: list[str] = []
        self.next_data = _DATA_START

    def function(self, label: str, export: str, params: Sequence[Any], result: Any,
                 value: DenyValue | None, *, trap: bool, resolve: Mapping[str, Any]) -> None:
        core_params, core_results, via_pointer = self.types.core_signature(params, result)
        body = "unreachable" if trap else self._body(result, value, via_pointer, resolve)
        sig = "".join(f" (param {p})" for p in core_params)
        sig += "".join(f" (result {r})" for r in core_results)
        self.funcs.append(f"  (func ${label} (export {_string(export)}){sig}\n    {body})")

    def _body(self, result: Any, value: DenyValue | None, via_pointer: bool,
              resolve: Mapping[str, Any]) -> str:
        if result is None:
            return "nop"
        if value is None:
            return "unreachable"
        if isinstance(value, NewHandle):
            return f"(call {self._resource_new(value.resource, resolve)} (i32.const 0))"
        if not via_pointer:
            assert isinstance(value, Case) and value.payload is None
            flat = self.types.flat(result)[0]
            return f"({flat}.const {value.index})"
        size, _ = self.types.layout(result)
        memory = bytearray(size)
        self._encode(result, value, memory, 0)
        return f"(i32.const {self._place(bytes(memory), 8)})"

    def _place(self, data: bytes, alignment: int) -> int:
        """Put `data` in the stub's data page; returns its address."""
        address = align_to(self.next_data, alignment)
        self.data.append(f"  (data (i32.const {address}) {_bytes(data)})")
        self.next_data = address + max(len(data), 1)
        if self.next_data >= _SCRATCH:
            raise UnsupportedType("too many denied functions for one data page")
        return address

    def _encode(self, ref: Any, value: DenyValue, memory: bytearray, offset: int) -> None:
        if isinstance(value, Empty):
            return  # pointer 0, length 0
        if isinstance(value, Text):
            text = value.value.encode()
            address = self._place(text, 1)
            memory[offset:offset + 8] = (address.to_bytes(4, "little")
                                         + len(text).to_bytes(4, "little"))
            return
        if isinstance(value, NewHandle):
            raise UnsupportedType("a handle inside a compound value")
        cases = self.types.cases(ref)
        assert cases is not None
        disc = len(cases.names)
        width = 1 if disc <= 256 else 2 if disc <= 65536 else 4
        memory[offset:offset + width] = value.index.to_bytes(width, "little")
        if value.payload is not None:
            payload_at, _, _ = self.types.payload_offset(cases)
            self._encode(cases.payloads[value.index], value.payload, memory, offset + payload_at)

    def _resource_new(self, resource: int, resolve: Mapping[str, Any]) -> str:
        if resource not in self.imports:
            owner = resolve["types"][resource]["owner"]["interface"]
            name = resolve["types"][resource]["name"]
            module = f"[export]{qualified_interface(resolve, owner)}"
            ident = f"$resource_new_{len(self.imports)}"
            self.imports[resource] = (
                f"  (import {_string(module)} {_string('[resource-new]' + name)} "
                f"(func {ident} (param i32) (result i32)))"
            )
        line = self.imports[resource]
        return line.split("(func ", 1)[1].split(" ", 1)[0]

    def render(self) -> str:
        parts = [f"(module ${MODULE_NAME}", *self.imports.values(),
                 "  (memory (export \"memory\") 2)",
                 _REALLOC, *self.data, *self.funcs, ")"]
        return "\n".join(parts) + "\n"


# Hands out the scratch page for every allocation (the stub never reads what the caller copies
# into it), growing memory when one request is larger than what is there.
_REALLOC = f"""  (func $cabi_realloc (export "cabi_realloc")
    (param i32 i32 i32 i32) (result i32) (local $pages i32)
    (local.set $pages (i32.shr_u (i32.add (i32.add (local.get 3) (i32.const {_SCRATCH}))
                                           (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (if (i32.lt_s (memory.grow (i32.sub (local.get $pages) (memory.size)))
                          (i32.const 0))
              (then unreachable))))
    (i32.const {_SCRATCH}))"""


def _string(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\{ord(c):02x}"
                         for c in text) + '"'


def _bytes(data: bytes) -> str:
    return '"' + "".join(f"\\{b:02x}" for b in data) + '"'
