"""The deny stub generator's canonical ABI subset and its trap explanations (no toolchains)."""

from __future__ import annotations

from wasmforge.guest.deny import explain_trap
from wasmforge.guest.deny.abi import Types
from wasmforge.guest.deny.stub import generate

# Types as `wasm-tools component wit --json` prints them.
TYPES = [
    {"name": "error-code", "kind": {"enum": {"cases": [{"name": "unknown"},
                                                      {"name": "access-denied"}]}}},
    {"name": "sock", "kind": "resource", "owner": {"interface": 0}},
    {"name": None, "kind": {"handle": {"own": 1}}},
    {"name": None, "kind": {"result": {"ok": 2, "err": 0}}},
    {"name": None, "kind": {"result": {"ok": "u64", "err": 0}}},
    {"name": None, "kind": {"option": "string"}},
    {"name": None, "kind": {"list": "u8"}},
    {"name": "datetime", "kind": {"record": {"fields": [{"name": "s", "type": "u64"},
                                                        {"name": "n", "type": "u32"}]}}},
    {"name": None, "kind": {"result": {"ok": None, "err": None}}},
    {"name": None, "kind": {"result": {"ok": "string", "err": "string"}}},
]


def test_flattening_and_layout() -> None:
    types = Types(TYPES)
    assert types.flat(3) == ("i32", "i32")
    assert types.flat(4) == ("i32", "i64")
    assert types.layout(3) == (8, 4)
    assert types.layout(4) == (16, 8)
    assert types.layout(7) == (16, 8)
    assert types.flat(8) == ("i32",)
    assert types.core_signature(["string", "u32"], 3) == (("i32", "i32", "i32"), ("i32",), True)
    assert types.core_signature(["u64"] * 17, None) == (("i32",), (), False)


def resolve() -> dict:
    functions = {
        "create": {"name": "create", "kind": "freestanding",
                   "params": [{"name": "family", "type": "u8"}], "result": 3},
        "count": {"name": "count", "kind": "freestanding", "params": [], "result": 4},
        "name": {"name": "name", "kind": "freestanding", "params": [], "result": 5},
        "bytes": {"name": "bytes", "kind": "freestanding", "params": [], "result": 6},
        "now": {"name": "now", "kind": "freestanding", "params": [], "result": 7},
        "fresh": {"name": "fresh", "kind": "freestanding", "params": [], "result": 2},
        "done": {"name": "done", "kind": "freestanding", "params": [], "result": 8},
        "poke": {"name": "poke", "kind": "freestanding", "params": []},
        "call": {"name": "call", "kind": "freestanding", "params": [], "result": 9},
    }
    return {"interfaces": [{"name": "net", "types": {}, "functions": functions, "package": 0}],
            "packages": [{"name": "wasi:sockets@0.2.9", "interfaces": {"net": 0}}],
            "types": TYPES, "worlds": [{"name": "root", "imports": {}, "exports": {}}]}


def test_behaviour_of_each_function() -> None:
    stub = generate(resolve(), {0: "network"})
    assert stub.interfaces == ["wasi:sockets/net@0.2.9"]
    assert "export wasi:sockets/net@0.2.9;" in stub.wit
    assert {f.name: f.behaviour for f in stub.functions} == {
        "create": "error", "count": "error", "name": "none", "bytes": "empty", "now": "trap",
        "fresh": "handle", "done": "error", "poke": "nothing",
        "call": "message"}
    # err(access-denied): discriminant 1 at 0, enum case 1 at the payload offset 4.
    assert '"\\01\\00\\00\\00\\01\\00\\00\\00"' in stub.wat
    assert '"[resource-new]sock"' in stub.wat
    assert "$wasmforge_denied:network:wasi:sockets/net@0.2.9#now" in stub.wat
    message = "wasi:sockets/net@0.2.9#call is not granted to this image"
    assert "".join(f"\\{b:02x}" for b in message.encode()) in stub.wat


def test_random_always_traps() -> None:
    stub = generate(resolve(), {0: "random"})
    assert {f.behaviour for f in stub.functions} == {"trap"}


def test_explain_trap() -> None:
    frame = ("error while executing at wasm backtrace:\n    0: 0x1069cb - wasmforge_deny_stub!"
             "wasmforge_denied:network:wasi:sockets/tcp@0.2.12#method.tcp-socket.start-bind\n")
    assert explain_trap(frame) == (
        "the guest called tcp-socket.start-bind of wasi:sockets/tcp@0.2.12, which the image was "
        "built without (the manifest did not grant it; [capabilities] network grants it)")
    assert explain_trap("wasm trap: wasm `unreachable` instruction executed") is None
