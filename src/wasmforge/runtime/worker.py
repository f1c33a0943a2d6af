"""The `process` tier's worker: runs inside bubblewrap, takes jobs over a socket.

Started as `python -m wasmforge.runtime.worker FD DATA_LIMIT [CONNECTOR_FD ENDPOINTS]` by
runtime/sandbox.py. It imports
wasmtime once, lowers its rlimits, installs the second seccomp stage, says "ready", then
serves jobs: a JSON message on FD carrying the guest's stdin/stdout/stderr as SCM_RIGHTS
descriptors; it replies with the RunOutcome as JSON. A guest's tool call is a message to the
host in between (`{"tool": ...}`, answered by `tool_reply`): tools run in the host process
with the operator's rights, never in the sandbox. The compiled component is mapped from
the host's cache, bound read-only into the sandbox.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import resource
import socket
import sys
from dataclasses import asdict

from wasmforge.runtime.backend import Invocation, RunOutcome
from wasmforge.runtime.host_tools import Dispatch

MAX_MESSAGE = 1 << 20
TOOL_CALL = b'{"tool": '


def tool_call(channel: socket.socket) -> Dispatch:
    """The worker's dispatch: each call asks the host over the job's channel."""
    def dispatch(name: str, args_json: str) -> tuple[bool, str]:
        message = json.dumps({"tool": name, "args": args_json}).encode()
        if len(message) > MAX_MESSAGE:
            return False, f"tool {name!r}: its arguments exceed {MAX_MESSAGE} bytes"
        channel.send(message)
        answer = json.loads(channel.recv(MAX_MESSAGE))
        return bool(answer["ok"]), str(answer["text"])
    return dispatch


def tool_reply(dispatch: Dispatch, message: bytes) -> bytes:
    """The host's answer to one `tool_call` message."""
    try:
        call = json.loads(message)
        name, args = str(call["tool"]), str(call["args"])
    except (ValueError, KeyError, TypeError):
        return json.dumps({"ok": False, "text": "a malformed tool call"}).encode()
    ok, text = dispatch(name, args)
    answer = json.dumps({"ok": ok, "text": text}).encode()
    if len(answer) > MAX_MESSAGE:
        answer = json.dumps({"ok": False, "text": f"tool {call['tool']!r}: its result "
                             f"exceeds {MAX_MESSAGE} bytes"}).encode()
    return answer


def confine(data_limit: int) -> None:
    """rlimits and the second seccomp stage; after this the worker cannot exec or fork."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    if data_limit > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (data_limit, data_limit))
    _drop_capabilities()
    from wasmforge.runtime import linkguard, seccomp

    why = linkguard.install()
    if why and not linkguard.host_guards_us():
        raise OSError(why)
    linkguard.guard(["/"])  # every link a guest makes lands in one of its mounts
    seccomp.install(seccomp.worker_filter())


def _drop_capabilities() -> None:
    """Clear every capability (the sandbox may have granted CAP_NET_BIND_SERVICE so that the
    forwarder could listen on a port below 1024)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(None, use_errno=True)
    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _expecting_code(invocation: Invocation) -> Invocation:
    """Tell the engine which compiled code the host checked before the guest loads."""
    from wasmforge.runtime.engine import expect_code

    fuel = invocation.limits.fuel is not None
    expect_code(invocation.digest, fuel, str(invocation.code_sha256))
    return invocation


def serve(channel: socket.socket) -> None:
    from wasmforge.runtime.instance import execute

    devnull = os.open("/dev/null", os.O_RDWR)
    remote = tool_call(channel)
    channel.send(b"ready")
    while True:
        fds = array.array("i")
        message, ancillary, _flags, _addr = channel.recvmsg(MAX_MESSAGE,
                                                            socket.CMSG_SPACE(3 * fds.itemsize))
        if not message:
            return  # the host closed the channel
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        try:
            # the sandbox's network namespace reaches only the allow-list (network.py)
            outcome = execute(_expecting_code(Invocation.from_wire(message)),
                              network_confined=True, dispatch=remote)
        except Exception as err:  # report, never die silently with the host waiting
            outcome = RunOutcome(1, "internal", f"the worker failed: {err}")
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        channel.send(json.dumps(asdict(outcome)).encode())


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    data_limit = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if len(sys.argv) > 4:
        from wasmforge.runtime.network import Forwarder

        forwarder = Forwarder(socket.socket(fileno=int(sys.argv[3])), json.loads(sys.argv[4]))
        forwarder.start()
    import wasmforge.runtime.instance  # noqa: F401  (load wasmtime before confining)
    from wasmforge.runtime.engine import get_engine

    get_engine(False)
    get_engine(True)
    confine(data_limit)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        serve(channel)  # ends quietly when the host goes away


if __name__ == "__main__":
    main()
