"""Deny stubs: components that export ungranted WASI interfaces and refuse every call.

`stub.generate` writes the stub's WIT world and core module (WAT) from the component's own
decoded WIT; `toolchain/capcheck.py` builds and composes it. `explain_trap` turns a trap in a
stub (the runtime sees it in a backtrace) into the sentence a user should read.
"""

from __future__ import annotations

import re

from wasmforge.guest.deny.stub import TRAP_PREFIX
from wasmforge.guest.interfaces import grant_hint

_FRAME = re.compile(re.escape(TRAP_PREFIX)
                    + r"(?P<key>[a-z]+):(?P<interface>[^#\s]+)#(?P<func>\S+)")


def explain_trap(message: str) -> str | None:
    """'the guest called wasi:clocks/wall-clock@0.2.12 now, which the image was built without
    ([capabilities] clocks = true grants it)' for a trap raised inside a deny stub, else None."""
    match = _FRAME.search(message)
    if not match:
        return None
    key = match.group("key")
    hint = grant_hint(key if key != "unknown" else None)  # type: ignore[arg-type]
    func = re.sub(r"^(method|static|constructor)\.", "", match.group("func").rstrip("."))
    return (f"the guest called {func} of {match.group('interface')}, which the image was built "
            f"without (the manifest did not grant it; {hint} grants it)")
