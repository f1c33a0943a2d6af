"""Refuse guest symlinks that could lead out of a writable mount.

wasmtime's WASI (cap-std) confines every path a guest *opens*, but `symlink-at` stores
the link's target as given: `../../../../etc/passwd` is created in the mount, and any host
tool that later reads the folder follows it. wasmtime-py offers no hook on that call, so
the guard works below it: a seccomp filter sends `symlink`/`symlinkat` to a supervisor
thread of this process (SECCOMP_RET_USER_NOTIF). The thread reads the target and where
the link goes, and answers EPERM to a link in a guarded folder whose target is absolute or
climbs with `..`; every other call proceeds unchanged (SECCOMP_USER_NOTIF_FLAG_CONTINUE).

A target that climbs but stays inside at creation is refused too: renaming the link, or a
folder above it, to a shallower place would make it point outside, and only links that
never climb keep their meaning wherever they move inside the mount.

Installed once per process (a filter cannot be removed): by the wasm tier in the
`wasmforge run` process when a run has a writable mount, by each process-tier worker for
everything it does. Filters are inherited and a process may have only one supervisor, so a
worker started by a host that already runs the guard cannot start its own; the host's
guard then covers it (HOST_GUARD in its environment says so), judging every link made in
another mount namespace, a sandbox, as strictly as the worker would. Needs Linux 5.7+ on
x86_64.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
from collections.abc import Iterable

from wasmforge.runtime import seccomp

SECCOMP_RET_USER_NOTIF = 0x7FC00000
_FLAG_TSYNC, _FLAG_NEW_LISTENER, _FLAG_TSYNC_ESRCH = 1, 8, 16
_NOTIF_FLAG_CONTINUE = 1
_NOTIF_SIZE, _RESP_SIZE = 80, 24  # struct seccomp_notif, struct seccomp_notif_resp
_IOCTL_RECV, _IOCTL_SEND, _IOCTL_ID_VALID = 0xC0502100, 0xC0182101, 0x40082102
_SYMLINK, _SYMLINKAT = 88, 266
_AT_FDCWD = 0xFFFFFF9C  # -100 as the low 32 bits of a syscall argument
_PATH_MAX = 4096
_SECCOMP_NR = 317


HOST_GUARD = "WASMFORGE_HOST_LINKGUARD"  # set in a worker's environment by a guarded host
_ANCESTOR_GUARD = "WASMFORGE_LINKGUARD_ABOVE"  # inherited by a guarded process's descendants


class _Guard:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.roots: dict[str, int] = {}  # guarded folder -> how many runs guard it
        self.listener = -1
        self.failure = ""
        self.errno = 0
        self.mount_ns = ""  # this process's mount namespace


_GUARD = _Guard()


def refusal(target: str) -> str:
    """Why a link with this target may not be made in a guarded folder ("" if it may)."""
    if target.startswith("/"):
        return "its target is an absolute path"
    if ".." in target.split("/"):
        return "its target climbs with '..'"
    return ""


def guarded(directory: str, roots: Iterable[str]) -> bool:
    return any(root == "/" or directory == root or directory.startswith(root.rstrip("/") + "/")
               for root in roots)


def install() -> str:
    """Start the guard in this process (once); "" when it runs, else why it cannot."""
    with _GUARD.lock:
        if _GUARD.listener >= 0 or _GUARD.failure:
            return _GUARD.failure
        why = seccomp.supported()
        if why:
            _GUARD.failure = why
            return why
        try:
            _GUARD.mount_ns = os.readlink("/proc/self/ns/mnt")
            _GUARD.listener = _load_filter()
        except OSError as err:
            _GUARD.errno = err.errno or 0
            _GUARD.failure = f"the symlink guard cannot start: {err.strerror or err}"
            return _GUARD.failure
        threading.Thread(target=_serve, args=(_GUARD.listener,), daemon=True,
                         name="wasmforge-linkguard").start()
        # Descendants inherit the listener: a `wasmforge run` started below this process
        # cannot start a guard of its own, so it must mark its workers for this one. (Not
        # HOST_GUARD itself: bubblewrap would inherit that and be judged as a worker.)
        os.environ[_ANCESTOR_GUARD] = "1"
        return ""


def installed() -> bool:
    return _GUARD.listener >= 0


def supervised() -> bool:
    """Whether this process's guard, or an ancestor's (whose listener it inherited), sees
    the symlinks of the workers it starts."""
    return installed() or os.environ.get(_ANCESTOR_GUARD) == "1"


def host_guards_us() -> bool:
    """True in a worker whose own guard could not start because its host's already
    supervises it (an ancestor's listener makes the kernel answer EBUSY)."""
    return _GUARD.errno == errno.EBUSY and os.environ.get(HOST_GUARD) == "1"


def guard(roots: Iterable[str]) -> None:
    with _GUARD.lock:
        for root in roots:
            _GUARD.roots[root] = _GUARD.roots.get(root, 0) + 1


def unguard(roots: Iterable[str]) -> None:
    with _GUARD.lock:
        for root in roots:
            left = _GUARD.roots.get(root, 0) - 1
            if left > 0:
                _GUARD.roots[root] = left
            else:
                _GUARD.roots.pop(root, None)


def _program() -> bytes:
    insn = seccomp._insn
    return b"".join([
        insn(seccomp._LD_W_ABS, seccomp._ARCH),
        insn(seccomp._JEQ_K, seccomp.AUDIT_ARCH_X86_64, 1, 0),
        insn(seccomp._RET_K, seccomp.SECCOMP_RET_ALLOW),  # other ABIs: stage one's business
        insn(seccomp._LD_W_ABS, seccomp._NR),
        insn(seccomp._JEQ_K, _SYMLINK, 1, 0),
        insn(seccomp._JEQ_K, _SYMLINKAT, 0, 1),
        insn(seccomp._RET_K, SECCOMP_RET_USER_NOTIF),
        insn(seccomp._RET_K, seccomp.SECCOMP_RET_ALLOW),
    ])


def _load_filter() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    program = _program()
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = seccomp._SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    flags = _FLAG_TSYNC | _FLAG_NEW_LISTENER | _FLAG_TSYNC_ESRCH
    fd = libc.syscall(_SECCOMP_NR, 1, flags, ctypes.byref(prog))
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return int(fd)


def _serve(listener: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    notif = ctypes.create_string_buffer(_NOTIF_SIZE)
    while True:
        ctypes.memset(notif, 0, _NOTIF_SIZE)
        if libc.ioctl(listener, _IOCTL_RECV, notif) != 0:
            if ctypes.get_errno() in (errno.EINTR, errno.ENOENT):
                continue  # interrupted, or the caller went away before we read it
            return
        ident, pid, _flags, nr = struct.unpack_from("=QIIi", notif.raw)
        args = struct.unpack_from("=6Q", notif.raw, 32)
        try:
            why = _judge(pid, nr, args)
        except OSError:  # the caller is gone, or its memory is unreadable
            why = "its paths cannot be read" if _strict(pid) else ""
        if why and libc.ioctl(listener, _IOCTL_ID_VALID, ctypes.byref(ctypes.c_uint64(ident))):
            continue
        reply = (struct.pack("=QqiI", ident, 0, -errno.EPERM, 0) if why
                 else struct.pack("=QqiI", ident, 0, 0, _NOTIF_FLAG_CONTINUE))
        libc.ioctl(listener, _IOCTL_SEND, ctypes.create_string_buffer(reply, _RESP_SIZE))


def _strict(pid: int) -> bool:
    """Whether every link `pid` makes is a guest's (this process is a worker, or `pid` is
    a worker this host started)."""
    with _GUARD.lock:
        if "/" in _GUARD.roots:
            return True
    return _hosted_worker(pid)


def _hosted_worker(pid: int) -> bool:
    """A process-tier worker this host supervises: bubblewrap started it, in a mount
    namespace of its own, with HOST_GUARD set (bubblewrap itself, making the sandbox's
    /dev links before that, is not one)."""
    try:
        if os.readlink(f"/proc/{pid}/ns/mnt") == _GUARD.mount_ns:
            return False
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return f"{HOST_GUARD}=1".encode() in handle.read().split(b"\0")
    except OSError:
        return False  # gone: nothing will be made


def _judge(pid: int, nr: int, args: tuple[int, ...]) -> str:
    if nr == _SYMLINK:
        target_at, dirfd, link_at = args[0], _AT_FDCWD, args[1]
    else:
        target_at, dirfd, link_at = args[0], args[1] & 0xFFFFFFFF, args[2]
    if _hosted_worker(pid):
        return refusal(_read_string(pid, target_at))  # a worker: every link is a guest's
    with _GUARD.lock:
        roots = tuple(_GUARD.roots)
    if not roots:
        return ""
    link = _read_string(pid, link_at)
    if link.startswith("/"):
        base = "/"
    elif dirfd == _AT_FDCWD:
        base = os.readlink(f"/proc/{pid}/cwd")
    else:
        base = os.readlink(f"/proc/{pid}/fd/{dirfd}")
    directory = os.path.normpath(os.path.join(base, os.path.dirname(link)))
    if not guarded(directory, roots):
        return ""
    return refusal(_read_string(pid, target_at))


def _read_string(pid: int, address: int) -> str:
    """A NUL-terminated path from the caller's memory (the same process, or a child)."""
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = b""
        while len(data) < _PATH_MAX:
            at = address + len(data)
            chunk = os.pread(fd, min(_PATH_MAX, 4096 - at % 4096), at)  # stay in one page
            if not chunk:
                break
            end = chunk.find(b"\0")
            if end >= 0:
                return (data + chunk[:end]).decode("utf-8", "surrogateescape")
            data += chunk
    finally:
        os.close(fd)
    raise OSError(errno.ENAMETOOLONG, "unterminated path")
