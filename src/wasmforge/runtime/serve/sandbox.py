"""The process tier for `serve`: the host runs inside the same bubblewrap + seccomp sandbox
as `run`'s workers (every namespace unshared, a read-only minimal filesystem, exactly the
declared mounts), with the listening socket passed in. Its network namespace holds only
loopback; allow-listed endpoints are reached through runtime/network.py's forwarders, run
by a small launcher (launch.py) beside the host inside the sandbox."""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import wasmforge
from wasmforge.runtime import seccomp
from wasmforge.runtime.network import NSSWITCH, Connector, hosts_file, plan
from wasmforge.runtime.sandbox import BWRAP, SandboxShape, bwrap_args, data_fd

INSIDE = "/wasmforge/serve"
HOST_INSIDE = f"{INSIDE}/bin/wasmforge-serve"
WORK_INSIDE = f"{INSIDE}/work"
COMPILED_INSIDE = f"{INSIDE}/compiled"


@dataclass
class Sandbox:
    argv: list[str]
    pass_fds: list[int] = field(default_factory=list)
    closers: list[int | socket.socket] = field(default_factory=list)
    connector: Connector | None = None

    def close_passed(self) -> None:
        for item in self.closers:
            if isinstance(item, int):
                os.close(item)
            else:
                item.close()
        self.closers.clear()


def mount_points(preopens: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """Each declared mount's host directory, bound at a path of its own inside."""
    return [(f"{INSIDE}/mounts/{index}", guest, ro)
            for index, (_host, guest, ro) in enumerate(preopens)]


def sandbox(host_binary: Path, work: Path, compiled_dir: Path,
            preopens: list[tuple[str, str, bool]], network: tuple[str, ...],
            listen_fd: int) -> Sandbox:
    endpoints, _skipped = plan(network)
    binds = [(str(host_binary), HOST_INSIDE, True), (str(work), WORK_INSIDE, True),
             (str(compiled_dir), COMPILED_INSIDE, True)]
    binds += [(host, inside, ro) for (host, _g, ro), (inside, _g2, _r) in
              zip(preopens, mount_points(preopens), strict=True)]
    shape = SandboxShape(binds=tuple(binds), memory_bytes=0, network=endpoints)
    program = data_fd(seccomp.sandbox_filter(network=bool(endpoints)))
    box = Sandbox(argv=[], pass_fds=[program, listen_fd], closers=[program])
    extra: list[str] = []
    host_argv = [HOST_INSIDE, "serve", f"{WORK_INSIDE}/plan.json"]
    if endpoints:
        extra = _network_files(box, endpoints)
        host_end, sandbox_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        box.pass_fds.append(sandbox_end.fileno())
        box.closers.append(sandbox_end)
        box.connector = Connector(host_end, endpoints)
        described = json.dumps([{"host": e.host, "port": e.port, "address": e.address}
                                for e in endpoints])
        host_argv = [sys.executable, "-I", "-S", "-c", _launcher_boot(),
                     str(sandbox_end.fileno()), str(listen_fd), described, *host_argv]
    box.argv = [BWRAP, *bwrap_args(shape, extra), "--seccomp", str(program), *host_argv]
    return box


def _network_files(box: Sandbox, endpoints: tuple) -> list[str]:
    extra: list[str] = []
    for path, data in (("/etc/hosts", hosts_file(endpoints)), ("/etc/nsswitch.conf", NSSWITCH)):
        fd = data_fd(data)
        box.pass_fds.append(fd)
        box.closers.append(fd)
        extra += ["--ro-bind-data", str(fd), path]
    if any(endpoint.port < 1024 for endpoint in endpoints):
        extra += ["--cap-add", "CAP_NET_BIND_SERVICE"]
    return extra


def _launcher_boot() -> str:
    folder = str(Path(wasmforge.__file__).resolve().parent.parent)
    return (f"import sys; sys.path[:0] = [{folder!r}]; "
            "from wasmforge.runtime.serve.launch import main; main()")
