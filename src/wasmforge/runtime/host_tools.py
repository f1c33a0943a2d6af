"""Host functions ("tools"): the operator's implementations, and the one gate every tier
calls them through.

A component calls `hyperlight:sandbox/tools.dispatch(name, args-json)`; only names the
image's manifest declares reach an implementation, which runs in the `wasmforge run`
process with the operator's rights (never inside the guest's sandbox). Implementations are
Python callables `f(args_json: str) -> str`, named `name=module:function` or by an entry
point of group `wasmforge.tools`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence

from wasmforge.errors import CapabilityError, RuntimeFailure

TOOLS_INTERFACE = "hyperlight:sandbox/tools"
TOOLS_ENTRY_POINTS = "wasmforge.tools"
Tool = Callable[[str], str]
Dispatch = Callable[[str, str], tuple[bool, str]]


def load_tools(specs: Sequence[str], declared: Sequence[str]) -> dict[str, Tool]:
    """Operator tool implementations: `name=module:function`, or `name` alone for an entry
    point of group `wasmforge.tools`. Only names the manifest declares are accepted."""
    tools: dict[str, Tool] = {}
    for spec in specs:
        name, _, target = spec.partition("=")
        name = name.strip()
        if name not in declared:
            raise CapabilityError(f"tool {name!r} is not declared in the image's capabilities",
                                  fix="declare it under [capabilities] tools and rebuild, "
                                      "or drop it")
        tools[name] = _resolve(name, target.strip())
    return tools


def _resolve(name: str, target: str) -> Tool:
    if not target:
        from importlib import metadata  # about 15 ms of imports: only when asked

        found = [ep for ep in metadata.entry_points(group=TOOLS_ENTRY_POINTS) if ep.name == name]
        if not found:
            raise RuntimeFailure(f"no implementation of tool {name!r}: no entry point "
                                 f"{name!r} in group {TOOLS_ENTRY_POINTS}",
                                 fix=f"pass {name}=module:function")
        loaded = found[0].load()
    else:
        module, _, attr = target.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as err:
            raise RuntimeFailure(f"tool {name!r}: cannot load {target} ({err})",
                                 fix="give module:function of an importable module") from None
    if not callable(loaded):
        raise RuntimeFailure(f"tool {name!r}: {target or name} is not callable")
    return loaded


def dispatcher(declared: Sequence[str], tools: Mapping[str, Tool]) -> Dispatch:
    """dispatch(name, args_json) -> (ok, result-or-message); undeclared names never run."""
    allowed = {name: tools[name] for name in declared if name in tools}

    def dispatch(name: str, args_json: str) -> tuple[bool, str]:
        tool = allowed.get(name)
        if tool is None:
            why = "not declared" if name not in declared else "declared but not provided"
            return False, f"tool {name!r} is {why} for this image"
        try:
            return True, str(tool(args_json))
        except Exception as err:  # the tool's failure goes to the guest, not the host
            return False, f"tool {name!r} failed: {err}"
    return dispatch
