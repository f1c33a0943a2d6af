"""The shared table: which [capabilities] key grants which WASI 0.2 interface."""

from __future__ import annotations

import pytest

from wasmforge.guest.interfaces import (
    RULES,
    capability_for,
    grant_hint,
    interface_name,
    interface_version,
    is_granted,
    ungranted,
)
from wasmforge.project import Capabilities, Mount

NOTHING = Capabilities(args=False, stdio=False, env=(), clocks=False, random=False)


@pytest.mark.parametrize(("interface", "key"), [
    ("wasi:cli/environment@0.2.0", "args"),
    ("wasi:cli/stdin@0.2.12", "stdio"),
    ("wasi:cli/stdout@0.2.3", "stdio"),
    ("wasi:cli/stderr", "stdio"),
    ("wasi:cli/terminal-stdout@0.2.0", "stdio"),
    ("wasi:cli/terminal-input@0.2.0", "stdio"),
    ("wasi:cli/exit@0.2.0", "always"),
    ("wasi:io/streams@0.2.0", "always"),
    ("wasi:io/poll@0.2.12", "always"),
    ("wasi:filesystem/types@0.2.0", "mounts"),
    ("wasi:filesystem/preopens@0.2.12", "mounts"),
    ("wasi:sockets/tcp@0.2.0", "network"),
    ("wasi:sockets/ip-name-lookup@0.2.12", "network"),
    ("wasi:http/outgoing-handler@0.2.0", "network"),
    ("wasi:clocks/wall-clock@0.2.0", "clocks"),
    ("wasi:clocks/monotonic-clock@0.2.12", "clocks"),
    ("wasi:random/random@0.2.0", "random"),
    ("wasi:random/insecure-seed@0.2.0", "random"),
    ("hyperlight:sandbox/tools", "tools"),
])
def test_capability_for_ignores_the_version(interface: str, key: str) -> None:
    assert capability_for(interface) == key
    assert capability_for(interface_name(interface)) == key


@pytest.mark.parametrize("interface", ["example:custom/thing@1.0.0", "wasi:cli/run@0.2.0",
                                       "wasi:clix/stdin", "wasi:cli", ""])
def test_unknown_interfaces_have_no_key_and_are_never_granted(interface: str) -> None:
    assert capability_for(interface) is None
    assert not is_granted(interface, Capabilities(network=("tcp://a:1",), tools=("t",)))


def test_names_and_versions() -> None:
    assert interface_name(" wasi:sockets/tcp@0.2.0 ") == "wasi:sockets/tcp"
    assert interface_version("wasi:sockets/tcp@0.2.12") == "0.2.12"
    assert interface_version("wasi:sockets/tcp") is None


def test_template_manifest_grants_what_a_hello_imports() -> None:
    template = Capabilities(env=("GREETING",))
    hello = ["wasi:cli/environment@0.2.12", "wasi:cli/exit@0.2.12", "wasi:io/streams@0.2.12",
             "wasi:cli/stdout@0.2.12", "wasi:cli/terminal-stdout@0.2.12",
             "wasi:clocks/wall-clock@0.2.12", "wasi:filesystem/types@0.2.12",
             "wasi:filesystem/preopens@0.2.12", "wasi:random/random@0.2.12"]
    assert ungranted(hello, template) == []


def test_filesystem_is_granted_with_zero_mounts() -> None:
    # The runtime gives exactly the mounts as preopens: none means nothing is reachable.
    assert is_granted("wasi:filesystem/preopens@0.2.0", NOTHING)
    assert is_granted("wasi:filesystem/types@0.2.0",
                      Capabilities(mounts=(Mount("/data", "ro"),)))


def test_network_needs_an_entry() -> None:
    assert not is_granted("wasi:sockets/tcp@0.2.0", Capabilities())
    assert not is_granted("wasi:http/outgoing-handler@0.2.0", Capabilities())
    granted = Capabilities(network=("https://api.example.com:443",))
    assert is_granted("wasi:sockets/tcp@0.2.0", granted)
    assert is_granted("wasi:http/outgoing-handler@0.2.0", granted)


def test_environment_is_granted_by_args_or_env() -> None:
    iface = "wasi:cli/environment@0.2.0"
    assert not is_granted(iface, NOTHING)
    assert is_granted(iface, Capabilities(args=True, env=()))
    assert is_granted(iface, Capabilities(args=False, env=("HOME",)))


@pytest.mark.parametrize(("field", "interface"), [
    ("stdio", "wasi:cli/stdout@0.2.0"), ("clocks", "wasi:clocks/wall-clock@0.2.0"),
    ("random", "wasi:random/random@0.2.0"),
])
def test_boolean_keys(field: str, interface: str) -> None:
    assert is_granted(interface, Capabilities(**{field: True}))
    assert not is_granted(interface, Capabilities(**{field: False}))


def test_tools_and_always() -> None:
    assert not is_granted("hyperlight:sandbox/tools", Capabilities())
    assert is_granted("hyperlight:sandbox/tools", Capabilities(tools=("add",)))
    assert is_granted("wasi:io/error@0.2.0", NOTHING)
    assert is_granted("wasi:cli/exit@0.2.0", NOTHING)


def test_every_key_has_a_human_hint() -> None:
    for rule in RULES:
        assert grant_hint(rule.key)
    assert grant_hint("network") == "[capabilities] network"
    assert "no capability" in grant_hint(None)


def test_an_http_handlers_own_types_come_with_clocks_only_in_a_handler() -> None:
    """A command's wasi:http/types needs the network (it is denied, and stubbed, without
    it); a handler's is its own request and response, kept wherever clocks are."""
    assert not is_granted("wasi:http/types@0.2.10", Capabilities())
    assert is_granted("wasi:http/types@0.2.10", Capabilities(), handler=True)
    assert not is_granted("wasi:http/types@0.2.10", Capabilities(clocks=False), handler=True)
    assert not is_granted("wasi:http/outgoing-handler@0.2.10", Capabilities(), handler=True)
