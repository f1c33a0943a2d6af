"""A verified image + the operator's flags -> what the serving host is told (its plan)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from wasmforge.errors import CapabilityError, ImageError, RuntimeFailure
from wasmforge.image.model import LoadedImage
from wasmforge.paths import runtime_cache
from wasmforge.project import Capabilities
from wasmforge.runtime import policy
from wasmforge.runtime.backend import Grants, RunLimits

HTTP_EXPORT = "wasi:http/incoming-handler"
DEFAULT_LISTEN = "127.0.0.1:8080"


@dataclass(frozen=True)
class ServeRequest:
    image: str  # an .oci.tar path or a registry reference
    listen: str = DEFAULT_LISTEN
    trust: tuple[Path, ...] = ()
    isolation: str = "auto"
    mounts: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout_s: float | None = None
    memory: str | None = None
    max_concurrency: int = 8
    allow_unsigned: bool = False
    log_json: bool = False  # the host's request lines on stderr: JSON, else text


@dataclass(frozen=True)
class Served:
    """What one serving session runs: the checked image and its grants."""

    image: LoadedImage
    caps: Capabilities
    grants: Grants
    limits: RunLimits
    host: str
    port: int
    max_concurrency: int
    log_json: bool = False
    notes: list[str] = field(default_factory=list)


def check_http_world(image: LoadedImage) -> None:
    if not any(item.split("@", 1)[0] == HTTP_EXPORT for item in image.wit.exports):
        exported = ", ".join(image.wit.exports) or "nothing"
        raise ImageError(f"{image.name} exports {exported}, not {HTTP_EXPORT}, so it is not an "
                         "HTTP handler and `serve` cannot serve it",
                         where=image.name, fix="run it with `wasmforge run`, or build a "
                         "world = \"http\" project (`wasmforge new NAME --world http`)")


def served(image: LoadedImage, request: ServeRequest) -> Served:
    caps = image.capabilities
    if not isinstance(caps, Capabilities):
        raise ImageError("the image's capabilities could not be read", where=image.name)
    check_http_world(image)
    if request.max_concurrency < 1:
        raise RuntimeFailure("--max-concurrency must be at least 1")
    grants, limits = policy.resolve(caps, policy.OperatorFlags(
        env=request.env, mounts=request.mounts, timeout_s=request.timeout_s,
        memory=request.memory))
    policy.check_imports(image.wit.imports, grants)
    host, port = parse_listen(request.listen)
    return Served(image=image, caps=caps, grants=grants, limits=limits, host=host, port=port,
                  max_concurrency=request.max_concurrency, log_json=request.log_json)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not 0 <= number < 65536:
        raise CapabilityError(f"--listen {text!r} is not IP:PORT",
                              fix="write it as --listen 127.0.0.1:8080")
    return host, number


def compiled_path(component_digest: str, revision: str) -> Path:
    return runtime_cache("serve") / revision / f"{component_digest.replace(':', '-')}.cwasm"


def plan_json(served: Served, *, component: str, compiled: str, listen_fd: int,
              preopens: list[tuple[str, str, bool]]) -> bytes:
    """The host's plan. Paths are as the host sees them (inside the sandbox, if any)."""
    grants = served.grants
    return json.dumps({
        "component": component, "compiled": compiled, "listen_fd": listen_fd,
        "env": [list(pair) for pair in grants.env],
        "preopens": [{"host": host, "guest": guest, "read_only": ro}
                     for host, guest, ro in preopens],
        "network": list(grants.network), "stdio": grants.stdio,
        "memory_bytes": served.limits.memory_bytes,
        "timeout_ms": max(1, int(served.limits.timeout_s * 1000)),
        "max_concurrency": served.max_concurrency, "log_json": served.log_json,
    }).encode()
