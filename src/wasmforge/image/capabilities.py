"""The capability manifest as it travels in an image: JSON, versioned, schema-checked.

`wasmforge.toml`'s `[capabilities]` (a `wasmforge.project.Capabilities`) becomes the
capabilities layer with `to_json`; the runtime reads it back with `from_json`. The JSON
Schema lives beside this module (capabilities.schema.json) so other tools can validate
a manifest without wasmforge.

Validation against the schema costs a jsonschema import (about 45 ms), which every
`wasmforge run` would pay; a layer that passed once is remembered by its digest (an empty
file under $WASMFORGE_HOME/cache/validated, beside the compiled-code cache that the runtime
trusts in the same way), so later runs of the same image skip it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from wasmforge import __version__
from wasmforge.errors import ImageError, WasmforgeError
from wasmforge.isolation import TIER_ORDER
from wasmforge.paths import is_private, private_dir, runtime_cache, write_private
from wasmforge.project import Capabilities, Limits, Mount, format_size, parse_duration, parse_size

SCHEMA_VERSION = 1
SCHEMA_FILE = "capabilities.schema.json"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the capability manifest, with the tiers of this wasmforge."""
    text = (Path(__file__).parent / SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    loaded["properties"]["isolation"]["enum"] = list(reversed(TIER_ORDER))
    return loaded


@cache
def _validator() -> Any:
    import jsonschema  # 0.1 s to import: only readers of images pay it

    return jsonschema.Draft202012Validator(schema())


def format_duration(seconds: float) -> str:
    """10.0 -> '10s', 0.25 -> '250ms' (the forms parse_duration reads back exactly)."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    millis = seconds * 1000
    if abs(millis - round(millis)) < 1e-9:
        return f"{round(millis)}ms"
    return f"{seconds!r}s"


def to_dict(caps: Capabilities) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "args": caps.args,
        "stdio": caps.stdio,
        "env": list(caps.env),
        "mounts": [{"guest": m.guest, "mode": m.mode} for m in caps.mounts],
        "network": list(caps.network),
        "clocks": caps.clocks,
        "random": caps.random,
        "isolation": caps.isolation,
        "tools": list(caps.tools),
        "limits": {
            "memory": format_size(caps.limits.memory_bytes),
            "timeout": format_duration(caps.limits.timeout_s),
            "fuel": caps.limits.fuel,
        },
    }


def to_json(caps: Capabilities) -> bytes:
    """Canonical bytes (sorted keys, no spaces): the same manifest gives the same digest."""
    return json.dumps(to_dict(caps), sort_keys=True, separators=(",", ":")).encode()


def from_json(data: bytes | str) -> Capabilities:
    """Parse and validate a capabilities layer, or raise ImageError naming the bad key."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ImageError(f"the capabilities layer is not JSON ({err})",
                         fix="rebuild the image with `wasmforge build`") from None
    except RecursionError:
        raise ImageError("the capabilities layer nests JSON too deeply",
                         fix="rebuild the image with `wasmforge build`") from None
    marker = _validated_marker(data.encode() if isinstance(data, str) else data)
    if is_private(marker):  # a marker another user could have planted is not believed
        return _capabilities(doc)
    caps = from_dict(doc)
    with contextlib.suppress(OSError, WasmforgeError):  # then it is validated again next time
        write_private(private_dir(marker.parent, "the validation cache") / marker.name, b"")
    return caps


def _validated_marker(data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return runtime_cache("validated") / f"capabilities-v{SCHEMA_VERSION}-{__version__}-{digest}"


def from_dict(doc: Any) -> Capabilities:
    from jsonschema.exceptions import best_match

    problem = best_match(_validator().iter_errors(doc))
    if problem is not None:
        key = ".".join(str(part) for part in problem.absolute_path) or "(top level)"
        raise ImageError(f"the capabilities layer is invalid at '{key}': {problem.message}",
                         fix="rebuild the image with `wasmforge build`")
    return _capabilities(doc)


def _capabilities(doc: dict[str, Any]) -> Capabilities:
    """A schema-valid document as Capabilities."""
    limits = doc["limits"]
    try:
        memory = parse_size(limits["memory"])
        timeout = parse_duration(limits["timeout"])
    except ValueError as err:
        raise ImageError(f"the capabilities layer has a bad limit ({err})",
                         fix="rebuild the image with `wasmforge build`") from None
    return Capabilities(
        args=doc["args"],
        stdio=doc["stdio"],
        env=tuple(doc["env"]),
        mounts=tuple(Mount(guest=m["guest"], mode=m["mode"]) for m in doc["mounts"]),
        network=tuple(doc["network"]),
        clocks=doc["clocks"],
        random=doc["random"],
        isolation=doc["isolation"],
        tools=tuple(doc["tools"]),
        limits=Limits(memory_bytes=memory, timeout_s=timeout, fuel=limits.get("fuel")),
    )
