"""The `process` tier's sandbox: one worker process confined by bubblewrap + seccomp.

`Worker` starts `runtime/worker.py` inside bubblewrap (every namespace unshared; a
read-only minimal filesystem: /usr, the Python prefix, wasmforge's own package, the
compiled-code cache; a private /tmp; exactly the declared mounts; the network allow-list
through runtime/network.py's forwarder), waits for it to say "ready", then sends it jobs
and answers its tool calls. The pool that keeps workers warm is runtime/process.py.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmforge
from wasmforge.codecache import ensure_cache, wasmtime_folder
from wasmforge.runtime import seccomp
from wasmforge.runtime.backend import Invocation, RunOutcome
from wasmforge.runtime.host_tools import Dispatch, dispatcher
from wasmforge.runtime.network import NSSWITCH, Connector, Endpoint, hosts_file
from wasmforge.runtime.worker import MAX_MESSAGE, TOOL_CALL, tool_reply

BWRAP = "/usr/bin/bwrap"
SANDBOX_HOME = "/wasmforge"
_GRACE_S = 2.0  # the worker's own epoch deadline fires first; this is for hung host calls
_DATA_HEADROOM = 768 * 1024 * 1024  # Python + wasmtime + code, beside the guest's memory
SPAWN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SandboxShape:
    """What must be fixed when the sandbox starts (bind mounts, rlimits)."""

    binds: tuple[tuple[str, str, bool], ...]  # (host, path inside, read-only)
    memory_bytes: int
    network: tuple[Endpoint, ...] = ()  # forwarded allow-list (empty: no network at all)


def _spawn(argv: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen[bytes]:
    """Start a sandbox from a thread that lives as long as this process. bwrap's
    --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that forked it
    ends: a worker started from a short-lived thread would be killed with that thread."""
    if threading.current_thread() is threading.main_thread():
        return _popen(argv, pass_fds)
    # A one-slot queue for the answer: concurrent.futures would cost `run` its import.
    done: queue.SimpleQueue[subprocess.Popen[bytes] | BaseException] = queue.SimpleQueue()
    _spawner().put((argv, pass_fds, done))
    answer = done.get()
    if isinstance(answer, BaseException):
        raise answer
    return answer


def _popen(argv: list[str], pass_fds: tuple[int, ...]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                            start_new_session=True)


_SPAWN_QUEUE: list[queue.SimpleQueue[Any]] = []
_SPAWN_LOCK = threading.Lock()


def _spawner() -> queue.SimpleQueue[Any]:
    with _SPAWN_LOCK:
        if not _SPAWN_QUEUE:
            requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(target=_serve_spawns, args=(requests,), daemon=True,
                             name="wasmforge-sandbox-spawner").start()
            _SPAWN_QUEUE.append(requests)
        return _SPAWN_QUEUE[0]


def _serve_spawns(requests: queue.SimpleQueue[Any]) -> None:
    while True:
        argv, pass_fds, done = requests.get()
        try:
            done.put(_popen(argv, pass_fds))
        except BaseException as err:  # handed to the caller, who raises it
            done.put(err)


class Worker:
    def __init__(self, shape: SandboxShape) -> None:
        self.shape = shape
        self.jobs = 0
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        passed = [child.fileno()]
        closers: list[socket.socket | int] = [child]
        program = data_fd(seccomp.sandbox_filter(network=bool(shape.network)))
        passed.append(program)
        closers.append(program)
        extra: list[str] = []
        worker_args = [str(child.fileno()), str(shape.memory_bytes + _DATA_HEADROOM)]
        self.connector: Connector | None = None
        if shape.network:
            for path, data in (("/etc/hosts", hosts_file(shape.network)),
                               ("/etc/nsswitch.conf", NSSWITCH)):
                fd = data_fd(data)
                passed.append(fd)
                closers.append(fd)
                extra += ["--ro-bind-data", str(fd), path]
            if any(endpoint.port < 1024 for endpoint in shape.network):
                extra += ["--cap-add", "CAP_NET_BIND_SERVICE"]  # dropped once listening
            host_end, sandbox_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            passed.append(sandbox_end.fileno())
            closers.append(sandbox_end)
            self.connector = Connector(host_end, shape.network)
            worker_args += [str(sandbox_end.fileno()), json.dumps(
                [{"host": e.host, "port": e.port, "address": e.address} for e in shape.network])]
        from wasmforge.runtime import linkguard

        if linkguard.supervised():  # its listener is inherited: it supervises the worker too
            extra += ["--setenv", linkguard.HOST_GUARD, "1"]
        argv = [BWRAP, *bwrap_args(shape, extra), "--seccomp", str(program),
                sys.executable, "-I", "-S", "-c", _worker_boot(), *worker_args]
        try:
            self.proc = _spawn(argv, tuple(passed))
        finally:
            for item in closers:
                if isinstance(item, int):
                    os.close(item)
                else:
                    item.close()
        self.channel = parent
        self.channel.settimeout(SPAWN_TIMEOUT_S)
        try:
            ready = self.channel.recv(16)
        except OSError:
            ready = b""
        if ready != b"ready":
            self.kill()
            raise OSError("the sandboxed worker did not start (see its stderr above)")

    def run(self, invocation: Invocation, job: bytes) -> RunOutcome:
        self.jobs += 1
        stdio = invocation.stdio
        fds = [fd if fd >= 0 else _devnull() for fd in (stdio.stdin, stdio.stdout, stdio.stderr)]
        deadline = time.monotonic() + invocation.limits.timeout_s + _GRACE_S
        dispatch = dispatcher(invocation.grants.tools, invocation.tools)
        try:
            self.channel.sendmsg([job], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                          _fd_array(*fds))])
            while True:
                self.channel.settimeout(max(0.001, deadline - time.monotonic()))
                reply = self.channel.recv(MAX_MESSAGE)
                if not reply.startswith(TOOL_CALL):
                    break
                self.channel.send(_answer(dispatch, reply, deadline))
        except TimeoutError:
            self.kill()
            return RunOutcome(1, "timeout", "the guest ran past its wall-time cap of "
                              f"{invocation.limits.timeout_s:g} s and its sandbox was killed")
        except OSError as err:
            reply = b""
            detail = err.strerror
        else:
            detail = ""
        if not reply:
            code = self.kill()
            why = f"signal {-code}" if code < 0 else f"status {code}"
            if code == -signal.SIGSYS:
                why += " (a system call the sandbox forbids)"
            return RunOutcome(1, "internal", f"the guest's sandbox died ({detail or why})")
        data = json.loads(reply)
        return RunOutcome(**data)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.channel.close()
        if self.connector is not None:
            self.connector.close()
        return self.proc.wait()


def _answer(dispatch: Dispatch, message: bytes, deadline: float) -> bytes:
    """The host's answer to a guest's tool call; the tool runs in a thread so that the
    wall-time cap also ends a tool that never returns (TimeoutError)."""
    answers: list[bytes] = []
    thread = threading.Thread(target=lambda: answers.append(tool_reply(dispatch, message)),
                              daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if not answers:
        raise TimeoutError
    return answers[0]


def data_fd(data: bytes) -> int:
    """A pipe's read end holding `data` (small: within one pipe buffer), for bwrap to read."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


_DEVNULL: list[int] = []


def _devnull() -> int:
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDWR))
    return _DEVNULL[0]


def _fd_array(*fds: int) -> bytes:
    import array

    return array.array("i", fds).tobytes()


def bwrap_args(shape: SandboxShape, extra: list[str] | None = None) -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "WASMFORGE_HOME", SANDBOX_HOME, "--setenv", "PYTHONDONTWRITEBYTECODE",
            "1", "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", *system_dirs()]
    for path in _python_paths():
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(ensure_cache()), f"{SANDBOX_HOME}/cache/compiled"]
    for host, inside, read_only in shape.binds:
        args += ["--ro-bind" if read_only else "--bind", host, inside]
    args += [*(extra or []), "--chdir", "/", "--remount-ro", "/"]
    return args


def system_dirs() -> list[str]:
    args = []
    for name in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / name
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    return args


@functools.cache
def _worker_boot() -> str:
    """The worker's `-c` program. `-S` skips site and its .pth files (other packages'
    start-up hooks, ~20 ms), so the two folders the worker imports from come first."""
    folders = [str(Path(wasmforge.__file__).resolve().parent.parent), str(wasmtime_folder())]
    return (f"import sys; sys.path[:0] = {folders!r}; "
            "from wasmforge.runtime.worker import main; main()")


def _python_paths() -> list[str]:
    """The interpreter and wasmforge itself (an editable install lives outside the prefix)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
             str(Path(wasmforge.__file__).resolve().parent.parent)}
    usr = os.path.realpath("/usr")
    kept = sorted(p for p in paths if not p.startswith(usr + os.sep) and p != usr)
    # drop paths nested in another kept path
    return [p for p in kept if not any(p != q and p.startswith(q + os.sep) for q in kept)]
