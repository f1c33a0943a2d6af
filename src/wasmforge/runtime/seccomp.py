"""Seccomp filters for the `process` tier, assembled as classic BPF (no libseccomp needed).

Two stages. `sandbox_filter()` is handed to bubblewrap (`--seccomp FD`) and holds from the
worker's first instruction: it refuses kernel-attack-surface calls (namespaces, mounts,
ptrace, bpf, io_uring, keyrings, modules...) and every socket that is not AF_UNIX.
`worker_filter()` is installed by the worker itself once Python and wasmtime are loaded:
it adds execve/execveat and creating processes (clone without CLONE_THREAD, fork, vfork;
clone3 answers ENOSYS so that libc falls back to clone, whose flags a filter can read).
Filters stack, so stage two can only narrow stage one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys

# linux/audit.h, linux/seccomp.h, linux/filter.h
AUDIT_ARCH_X86_64 = 0xC000003E
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
# struct seccomp_data offsets
_NR, _ARCH, _ARG0 = 0, 4, 16
_X32_SYSCALL_BIT = 0x40000000
CLONE_THREAD = 0x00010000
AF_UNIX = 1

# x86_64 syscall numbers (a stable ABI; tests check them against asm/unistd_64.h).
SYSCALLS_X86_64 = {
    "ptrace": 101, "syslog": 103, "personality": 135, "adjtimex": 159, "chroot": 161,
    "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167,
    "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "clock_settime": 227,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
    "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_getfd": 438,
    "process_madvise": 440, "mount_setattr": 442, "pivot_root": 155,
    "socket": 41, "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    "clone3": 435,
}

SANDBOX_DENIED = (
    "ptrace", "syslog", "personality", "adjtimex", "chroot", "acct", "settimeofday", "mount",
    "umount2", "swapon", "swapoff", "reboot", "iopl", "ioperm", "init_module",
    "delete_module", "quotactl", "lookup_dcookie", "clock_settime", "kexec_load", "add_key",
    "request_key", "keyctl", "unshare", "perf_event_open", "fanotify_init",
    "name_to_handle_at", "open_by_handle_at", "setns", "process_vm_readv",
    "process_vm_writev", "kcmp", "finit_module", "kexec_file_load", "bpf", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "pidfd_getfd", "process_madvise",
    "mount_setattr", "pivot_root",
)
WORKER_DENIED = ("execve", "execveat", "fork", "vfork")


def supported() -> str | None:
    """None when filters can be built for this machine, else why not."""
    if not sys.platform.startswith("linux"):
        return "seccomp exists only on Linux"
    machine = os.uname().machine  # what platform.machine() reads, without its import
    if machine != "x86_64":
        return f"wasmforge's seccomp filter is built for x86_64 only, not {machine}"
    return None


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _program(denied: tuple[str, ...], *, unix_sockets_only: bool,
             no_processes: bool) -> bytes:
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    body: list[bytes] = []
    for name in denied:
        body += [_insn(_JEQ_K, SYSCALLS_X86_64[name], 0, 1), _insn(_RET_K, eperm)]
    if unix_sockets_only:
        # socket(domain, ...): anything but AF_UNIX is refused (the worker needs no network)
        body += [
            _insn(_JEQ_K, SYSCALLS_X86_64["socket"], 0, 4),
            _insn(_LD_W_ABS, _ARG0),
            _insn(_JEQ_K, AF_UNIX, 0, 1),
            _insn(_RET_K, SECCOMP_RET_ALLOW),
            _insn(_RET_K, SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT),
        ]
    if no_processes:
        body += [
            _insn(_JEQ_K, SYSCALLS_X86_64["clone3"], 0, 1),
            _insn(_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS),
            _insn(_JEQ_K, SYSCALLS_X86_64["clone"], 0, 4),
            _insn(_LD_W_ABS, _ARG0),
            _insn(_JSET_K, CLONE_THREAD, 0, 1),
            _insn(_RET_K, SECCOMP_RET_ALLOW),
            _insn(_RET_K, eperm),
        ]
    head = [
        _insn(_LD_W_ABS, _ARCH),
        _insn(_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _insn(_RET_K, SECCOMP_RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _NR),
        _insn(_JGE_K, _X32_SYSCALL_BIT, 0, 1),
        _insn(_RET_K, SECCOMP_RET_KILL_PROCESS),
    ]
    # Blocks that load an argument into A end in RET on both paths, so every other block
    # still compares the syscall number.
    return b"".join(head + body + [_insn(_RET_K, SECCOMP_RET_ALLOW)])


def sandbox_filter(network: bool = False) -> bytes:
    """The program bubblewrap installs (struct sock_filter array).

    With `network`, IP sockets are allowed: the sandbox's network namespace holds only a
    loopback device on which the allow-list forwarder listens (runtime/network.py).
    """
    return _program(SANDBOX_DENIED, unix_sockets_only=not network, no_processes=False)


def worker_filter() -> bytes:
    return _program(WORKER_DENIED, unix_sockets_only=False, no_processes=True)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install a filter on the calling thread group (after PR_SET_NO_NEW_PRIVS)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    # SECCOMP_SET_MODE_FILTER with TSYNC so threads already running get it too
    seccomp_nr, tsync = 317, 1
    if (libc.syscall(seccomp_nr, 1, tsync, ctypes.byref(prog)) != 0
            and libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) != 0):
        raise OSError(ctypes.get_errno(), "installing the seccomp filter failed")
