"""The process tier's confinement itself: bubblewrap's view of the host, seccomp, rlimits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wasmforge
from wasmforge.runtime import seccomp
from wasmforge.runtime.process import ProcessBackend
from wasmforge.runtime.sandbox import BWRAP, SandboxShape, bwrap_args

UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")

pytestmark = pytest.mark.skipif(not ProcessBackend().available().usable,
                                reason="the process tier is not usable here "
                                "(bubblewrap with namespaces and x86_64 seccomp are needed)")


def test_syscall_numbers_match_the_kernel_headers() -> None:
    if not UNISTD.is_file():
        pytest.skip(f"{UNISTD} is absent (apt install linux-libc-dev)")
    table = dict(re.findall(r"#define __NR_(\w+) (\d+)", UNISTD.read_text()))
    for name, number in seccomp.SYSCALLS_X86_64.items():
        assert int(table[name]) == number, name


def _in_sandbox(code: str, shape: SandboxShape | None = None,
                home: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    read_end, write_end = os.pipe()
    os.write(write_end, seccomp.sandbox_filter())
    os.close(write_end)
    args = bwrap_args(shape or SandboxShape(binds=(), memory_bytes=64 << 20))
    try:
        # -I ignores PYTHONPATH: name this checkout's src/ (bound into the sandbox) itself
        boot = f"import sys; sys.path.insert(0, {str(Path(wasmforge.__file__).parent.parent)!r})\n"
        return subprocess.run([BWRAP, *args, "--seccomp", str(read_end), sys.executable, "-I",
                               "-c", boot + code], pass_fds=(read_end,), capture_output=True,
                              text=True, timeout=60)
    finally:
        os.close(read_end)


def test_sandbox_sees_a_minimal_read_only_filesystem(home: Path, tmp_path: Path) -> None:
    (tmp_path / "host-secret.txt").write_text("secret")
    result = _in_sandbox(
        "import os\n"
        f"print('secret', os.path.exists({str(tmp_path / 'host-secret.txt')!r}))\n"
        "print('passwd', os.path.exists('/etc/passwd'))\n"
        "print('work', os.path.exists('/work/shared'))\n"
        "try:\n open('/usr/evil', 'w')\nexcept OSError as e: print('usr', e.errno)\n"
        "try:\n open('/evil', 'w')\nexcept OSError as e: print('root', e.errno)\n"
        "devices = [line.split(':')[0].strip() for line in open('/proc/net/dev')][2:]\n"
        "print('net', devices)\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "secret False" in out and "passwd False" in out and "work False" in out
    assert "usr 30" in out  # EROFS
    assert "root 30" in out
    assert "net ['lo']" in out.splitlines()  # its own network namespace: loopback only


def test_only_declared_mounts_are_bound_and_ro_is_enforced_by_the_kernel(
        home: Path, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("data")
    shape = SandboxShape(binds=((str(tmp_path), "/mnt/0", True),), memory_bytes=64 << 20)
    result = _in_sandbox("print(open('/mnt/0/f.txt').read())\n"
                         "try:\n open('/mnt/0/g.txt', 'w')\nexcept OSError as e: print(e.errno)\n",
                         shape)
    assert result.stdout.split() == ["data", "30"], result.stderr


def test_seccomp_refuses_network_sockets_and_namespaces(home: Path) -> None:
    result = _in_sandbox(
        "import socket, ctypes, os\n"
        "try:\n socket.socket(socket.AF_INET)\nexcept OSError as e: print('inet', e.errno)\n"
        "try:\n socket.socket(socket.AF_INET6)\nexcept OSError as e: print('inet6', e.errno)\n"
        "socket.socket(socket.AF_UNIX); print('unix ok')\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('unshare', libc.unshare(0x20000), ctypes.get_errno())\n"
        "print('ptrace', libc.ptrace(0, 0, 0, 0), ctypes.get_errno())\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:5] == ["inet 97", "inet6 97", "unix ok", "unshare -1 1",
                                             "ptrace -1 1"]


def test_worker_filter_forbids_exec_and_fork_but_not_threads(home: Path) -> None:
    result = _in_sandbox(
        "import os, threading\n"
        "from wasmforge.runtime import seccomp\n"
        "seccomp.install(seccomp.worker_filter())\n"
        "t = threading.Thread(target=lambda: print('thread ok')); t.start(); t.join()\n"
        "try:\n os.fork()\nexcept OSError as e: print('fork', e.errno)\n"
        "try:\n os.execv('/usr/bin/true', ['true'])\nexcept OSError as e: print('exec', e.errno)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["thread ok", "fork 1", "exec 1"]


def test_worker_is_killed_when_its_host_dies(home: Path, guest: bytes, tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(
        "import os, sys\n"
        "from wasmforge.runtime.sandbox import Worker, SandboxShape\n"
        "w = Worker(SandboxShape(binds=(), memory_bytes=64 << 20))\n"
        "print(w.proc.pid, flush=True)\n"
        "os._exit(0)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    pid = int(result.stdout.split()[0])
    import time

    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"bwrap {pid} outlived its host")


def test_workers_started_from_short_lived_threads_stay_alive(home: Path) -> None:
    # bwrap's --die-with-parent follows the *thread* that forked it: workers that a pool
    # refill or a prestart makes in a background thread must outlive that thread.
    import threading
    import time

    backend = ProcessBackend(warm=2)
    shape = SandboxShape(binds=(), memory_bytes=64 << 20)
    try:
        filler = threading.Thread(target=backend._fill, args=(shape,))
        filler.start()
        filler.join(60)
        time.sleep(0.5)  # a death signal would have arrived by now
        idle = backend._idle.get(shape, [])
        assert len(idle) == 2
        assert all(worker.alive() for worker in idle)
    finally:
        backend.close()


def test_a_prestarted_worker_serves_the_run(home: Path, guest: bytes) -> None:
    from wasmforge.runtime.backend import Grants, Invocation, RunLimits, Stdio
    from wasmforge.runtime.run import component_digest

    backend = ProcessBackend(warm=0)
    invocation = Invocation(name="guest", component=guest, digest=component_digest(guest),
                            grants=Grants(args=("hello",)),
                            limits=RunLimits(memory_bytes=64 << 20, timeout_s=10.0),
                            stdio=Stdio(stdout=-1, stderr=-1))
    try:
        backend.prestart(invocation)
        outcome = backend.run(invocation)
        assert outcome.exit_code == 0, outcome.message
        assert backend._starting == {}
    finally:
        backend.close()


def test_the_link_guard_refuses_climbing_targets_only_in_guarded_folders(
        tmp_path: Path) -> None:
    from wasmforge.runtime import linkguard

    assert linkguard.refusal("data.txt") == "" and linkguard.refusal("a/b/./c") == ""
    assert linkguard.refusal("../x") == "its target climbs with '..'"
    assert linkguard.refusal("a/../../x") == "its target climbs with '..'"
    assert linkguard.refusal("/etc/passwd") == "its target is an absolute path"
    assert linkguard.guarded("/m/sub", ["/m"]) and not linkguard.guarded("/mx", ["/m"])
    guarded, free = tmp_path / "guarded", tmp_path / "free"
    (guarded / "sub").mkdir(parents=True)
    free.mkdir()
    # in a process of its own: the filter, once installed, stays for the process's life
    code = (
        "import os, sys\n"
        "from wasmforge.runtime import linkguard\n"
        "assert linkguard.install() == ''\n"
        "linkguard.guard([sys.argv[1]])\n"
        "for target, link in [('../x', 'guarded/sub/up'), ('/etc', 'guarded/abs'),\n"
        "                     ('sub', 'guarded/down'), ('../x', 'free/up')]:\n"
        "    try:\n"
        "        os.symlink(target, link); print(link, 'made')\n"
        "    except OSError as err:\n"
        "        print(link, os.strerror(err.errno))\n"
        "linkguard.unguard([sys.argv[1]])\n"
        "os.symlink('../y', 'guarded/sub/later'); print('unguarded made')\n")
    done = subprocess.run([sys.executable, "-c", code, str(guarded)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "guarded/sub/up Operation not permitted", "guarded/abs Operation not permitted",
        "guarded/down made", "free/up made", "unguarded made"]
    assert sorted(os.listdir(guarded)) == ["down", "sub"]


def test_the_bubblewrap_probe_runs_once_per_boot_and_kernel_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wasmforge.runtime import process

    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    probes: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        probes.append(argv)
        return real_run(argv, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(process.subprocess, "run", counting_run)
    assert ProcessBackend().available().usable and len(probes) == 1
    assert ProcessBackend().available().usable and len(probes) == 1  # the passed probe holds
    monkeypatch.setattr(process, "_sandbox_facts", lambda: "after-a-sysctl-change")
    assert ProcessBackend().available().usable and len(probes) == 2
