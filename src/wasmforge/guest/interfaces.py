"""Which `[capabilities]` key grants which WASI 0.2 interface: the one table build and run share.

Interfaces are matched by `package/interface`, ignoring any `@version`, so a guest built
against wasi:*@0.2.0 and one built against @0.2.12 get the same answer.

Decisions worth knowing:
- `wasi:filesystem/*` is granted even when `mounts` is empty. The preview1 adapter (and with
  it every C, Go and Rust hello) imports `wasi:filesystem/preopens` and `types`; the runtime
  hands the guest exactly the declared mounts as preopens, so with no mounts the guest gets
  zero directories and the interface can reach nothing. Rejecting it would reject every hello.
- `wasi:cli/environment` carries both argv and the environment, so it is granted when
  `args = true` or `env` names at least one variable (the runtime passes only what is granted).
- `wasi:sockets/*` and `wasi:http/*` need a non-empty `network` list; which hosts are
  reachable is the runtime's allow-list. In an HTTP handler (world = "http"),
  `wasi:http/types`, which its own request and response are made of, comes with `clocks`
  instead (`HANDLER_PLUMBING`): it is built on wasi:clocks types, so a deny stub cannot
  stand in for it where clocks are kept; sending requests (outgoing-handler) still needs
  the network.
- `wasi:io/*` and `wasi:cli/exit` are plumbing every component needs: always granted.
- An interface in no rule (a custom import) is never granted by a capability.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from wasmforge.project import Capabilities

CapabilityKey = Literal["always", "args", "stdio", "mounts", "network", "clocks", "random",
                        "tools"]


@dataclass(frozen=True)
class InterfaceRule:
    pattern: str  # `package/interface` without version; `*` matches any interface name
    key: CapabilityKey


RULES: tuple[InterfaceRule, ...] = (
    InterfaceRule("wasi:io/*", "always"),
    InterfaceRule("wasi:cli/exit", "always"),
    InterfaceRule("wasi:cli/environment", "args"),
    InterfaceRule("wasi:cli/stdin", "stdio"),
    InterfaceRule("wasi:cli/stdout", "stdio"),
    InterfaceRule("wasi:cli/stderr", "stdio"),
    InterfaceRule("wasi:cli/terminal-*", "stdio"),
    InterfaceRule("wasi:filesystem/*", "mounts"),
    InterfaceRule("wasi:sockets/*", "network"),
    InterfaceRule("wasi:http/*", "network"),
    InterfaceRule("wasi:clocks/*", "clocks"),
    InterfaceRule("wasi:random/*", "random"),
    InterfaceRule("hyperlight:sandbox/tools", "tools"),
)

# How a user grants each key, written as it appears in wasmforge.toml.
_HUMAN: dict[str, str] = {
    "always": "nothing (always granted)",
    "args": "[capabilities] args = true (or a name in env)",
    "stdio": "[capabilities] stdio = true",
    "mounts": "[capabilities] mounts",
    "network": "[capabilities] network",
    "clocks": "[capabilities] clocks = true",
    "random": "[capabilities] random = true",
    "tools": "[capabilities] tools",
}


def interface_name(qualified: str) -> str:
    """'wasi:sockets/tcp@0.2.0' -> 'wasi:sockets/tcp' (also strips surrounding spaces)."""
    return qualified.strip().split("@", 1)[0]


def interface_version(qualified: str) -> str | None:
    """'wasi:sockets/tcp@0.2.0' -> '0.2.0'; None when unversioned."""
    _, sep, version = qualified.strip().partition("@")
    return version if sep else None


def rule_for(interface: str) -> InterfaceRule | None:
    name = interface_name(interface)
    for rule in RULES:
        if fnmatchcase(name, rule.pattern):
            return rule
    return None


def capability_for(interface: str) -> CapabilityKey | None:
    """The capability key that grants `interface`, or None when no capability can."""
    rule = rule_for(interface)
    return rule.key if rule else None


def key_granted(key: CapabilityKey, caps: Capabilities) -> bool:
    """Whether the manifest grants the key (see the module docstring for the choices)."""
    match key:
        case "always" | "mounts":
            return True
        case "args":
            return caps.args or bool(caps.env)
        case "stdio":
            return caps.stdio
        case "network":
            return bool(caps.network)
        case "clocks":
            return caps.clocks
        case "random":
            return caps.random
        case "tools":
            return bool(caps.tools)
    return False


# An HTTP handler's own plumbing, granted with this key (see the module docstring).
HANDLER_PLUMBING: dict[str, CapabilityKey] = {"wasi:http/types": "clocks"}


def is_granted(interface: str, caps: Capabilities, *, handler: bool = False) -> bool:
    """Whether `caps` grants `interface`; `handler`: the component is an HTTP handler."""
    key = capability_for(interface)
    if handler:
        key = HANDLER_PLUMBING.get(interface_name(interface), key)
    return key is not None and key_granted(key, caps)


def grant_hint(key: CapabilityKey | None) -> str:
    """Human wording of what grants `key`, e.g. '[capabilities] network'."""
    if key is None:
        return "no capability (it is not a WASI interface wasmforge knows)"
    return _HUMAN[key]


def ungranted(imports: list[str] | tuple[str, ...], caps: Capabilities, *,
              handler: bool = False) -> list[str]:
    """The imports (as given, versions kept) that `caps` does not grant, in order."""
    return [item for item in imports if not is_granted(item, caps, handler=handler)]
