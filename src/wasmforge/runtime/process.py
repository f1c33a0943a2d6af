"""Tier `process`: each guest runs in a worker process confined by bubblewrap + seccomp.

The sandbox (runtime/sandbox.py) unshares every namespace, sees a read-only minimal
filesystem and exactly the declared mounts, and dies with its parent. Workers are started
ahead of need and kept in a small pool per sandbox shape (same mounts, memory cap and
network), so a run costs a message round trip, not a Python start-up. A worker serves up
to `max_jobs` runs; every run gets a fresh wasmtime Store, and the sandbox boundary is the
same for all runs of that shape.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

from wasmforge.codecache import compiled_path, verified_sha256
from wasmforge.errors import WasmforgeError
from wasmforge.paths import private_dir, runtime_cache
from wasmforge.runtime import policy, seccomp
from wasmforge.runtime.backend import Backend, Invocation, RunOutcome, TierName, TierStatus
from wasmforge.runtime.network import plan, sockets_notice
from wasmforge.runtime.sandbox import (
    BWRAP,
    SPAWN_TIMEOUT_S,
    SandboxShape,
    Worker,
    system_dirs,
)

# What decides whether bubblewrap can unshare every namespace: this boot, the kernel's
# user-namespace switches and the bwrap binary itself.
_SANDBOX_FACTS = ("/proc/sys/kernel/random/boot_id",
                  "/proc/sys/kernel/unprivileged_userns_clone",
                  "/proc/sys/user/max_user_namespaces",
                  "/proc/sys/kernel/apparmor_restrict_unprivileged_userns")


def _sandbox_facts() -> str:
    """A digest of those facts: a bwrap probe that passed under the same facts is not run
    again (a `run` saves its ~6 ms). A stale answer fails closed: the worker cannot start."""
    facts = []
    for fact in _SANDBOX_FACTS:
        with contextlib.suppress(OSError):
            facts.append(f"{fact}={Path(fact).read_text().strip()}")
    with contextlib.suppress(OSError):
        stat = os.stat(BWRAP)
        facts.append(f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}")
    facts.append(str(os.getuid()))
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


class ProcessBackend(Backend):
    name: TierName = "process"

    def __init__(self, warm: int = 2, max_jobs: int = 10_000) -> None:
        self.warm = warm
        self.max_jobs = max_jobs
        self._idle: dict[SandboxShape, list[Worker]] = {}
        self._lock = threading.Lock()
        self._filling: set[SandboxShape] = set()
        self._starting: dict[SandboxShape, threading.Thread] = {}
        self._status: TierStatus | None = None
        self._runs = 0
        atexit.register(self.close)

    @classmethod
    def cold(cls, concurrency: int = 1) -> ProcessBackend:
        return cls(warm=concurrency)

    def notices(self, invocation: Invocation) -> list[str]:
        if not invocation.grants.network:
            return []
        _, skipped = plan(invocation.grants.network)
        said = [policy.NETWORK_SKIPPED.format(entries=", ".join(skipped))] if skipped else []
        sockets = sockets_notice(invocation.imports)
        return said + ([sockets] if sockets else [])

    def available(self) -> TierStatus:
        if self._status is None:
            self._status = self._probe()
        return self._status

    def _probe(self) -> TierStatus:
        why = seccomp.supported()
        if why:
            return TierStatus(False, why)
        if not os.access(BWRAP, os.X_OK):
            found = shutil.which("bwrap")
            if not found:
                return TierStatus(False, "bubblewrap is not installed; install the Debian "
                                  "package `bubblewrap`")
        usable = TierStatus(True, "bubblewrap (all namespaces unshared) + seccomp + rlimits, "
                            "warm worker pool")
        marker = runtime_cache("process") / f"bwrap-ok-{_sandbox_facts()}"
        if marker.is_file():
            return usable
        probe = subprocess.run([BWRAP, "--unshare-all", "--die-with-parent", "--ro-bind",
                                "/usr", "/usr", *system_dirs(), "/usr/bin/true"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            return TierStatus(False, "bubblewrap cannot create namespaces here: "
                              f"{probe.stderr.strip() or probe.returncode}")
        with contextlib.suppress(OSError, WasmforgeError):
            private_dir(marker.parent, "the runtime cache")
            marker.touch()
        return usable

    # -------------------------------------------------------------- running

    def run(self, invocation: Invocation) -> RunOutcome:
        started = time.perf_counter()
        shape, job = self._job(invocation)
        try:
            worker = self._take(shape)
        except OSError as err:
            return RunOutcome(1, "internal", f"cannot start the process sandbox: {err}")
        outcome = worker.run(invocation, job)
        if worker.alive() and worker.jobs < self.max_jobs:
            with self._lock:
                self._idle.setdefault(shape, []).append(worker)
        else:
            worker.kill()
        self._runs += 1
        if self._runs > 1:  # a one-shot `wasmforge run` gains nothing from spare workers
            self._refill(shape)
        return RunOutcome(outcome.exit_code, outcome.failure, outcome.message,
                          outcome.backtrace, time.perf_counter() - started)

    def prestart(self, invocation: Invocation) -> None:
        """Start the worker `invocation` will need in the background, so that a one-shot
        run overlaps the sandbox's start-up with its own remaining work."""
        shape = self._shape(invocation)
        with self._lock:
            if self._idle.get(shape) or shape in self._starting:
                return
            thread = threading.Thread(target=self._start_one, args=(shape,), daemon=True)
            self._starting[shape] = thread
        thread.start()

    def _start_one(self, shape: SandboxShape) -> None:
        try:
            worker = Worker(shape)
        except OSError:
            return  # _take starts its own and reports why
        finally:
            with self._lock:
                self._starting.pop(shape, None)
        with self._lock:
            self._idle.setdefault(shape, []).append(worker)

    @staticmethod
    def _shape(invocation: Invocation) -> SandboxShape:
        binds = tuple((preopen.host, f"/mnt/{index}", preopen.read_only)
                      for index, preopen in enumerate(invocation.grants.preopens))
        endpoints, _ = plan(invocation.grants.network)
        return SandboxShape(binds=binds, memory_bytes=invocation.limits.memory_bytes,
                            network=endpoints)

    def _job(self, invocation: Invocation) -> tuple[SandboxShape, bytes]:
        fuel = invocation.limits.fuel is not None
        code = verified_sha256(compiled_path(invocation.digest, fuel))  # else no engine here
        if code is None:
            from wasmforge.runtime.engine import cached_file, get_engine

            code = verified_sha256(cached_file(get_engine(fuel=fuel), invocation.digest,
                                             invocation.component, invocation.precompiled))
        grants = invocation.grants
        shape = self._shape(invocation)
        # Inside the sandbox: mounts at their bind points, the allow-list at its forwarders.
        pairs = zip(shape.binds, grants.preopens, strict=True)
        inside = replace(grants, preopens=tuple(replace(preopen, host=path)
                                                for (_, path, _), preopen in pairs),
                         network=tuple(f"tcp://{e.host}:{e.port}" for e in shape.network))
        return shape, replace(invocation, grants=inside, code_sha256=code).to_wire()

    def _take(self, shape: SandboxShape) -> Worker:
        with self._lock:
            starting = self._starting.get(shape)
        if starting is not None:
            starting.join(SPAWN_TIMEOUT_S)
        with self._lock:
            idle = self._idle.get(shape, [])
            while idle:
                worker = idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return Worker(shape)

    def _refill(self, shape: SandboxShape) -> None:
        """Start workers in the background until `warm` wait idle for this shape."""
        with self._lock:
            if shape in self._filling or len(self._idle.get(shape, [])) >= self.warm:
                return
            self._filling.add(shape)
        threading.Thread(target=self._fill, args=(shape,), daemon=True).start()

    def _fill(self, shape: SandboxShape) -> None:
        try:
            while True:
                with self._lock:
                    if len(self._idle.get(shape, [])) >= self.warm:
                        return
                try:
                    worker = Worker(shape)
                except OSError:
                    return
                with self._lock:
                    self._idle.setdefault(shape, []).append(worker)
        finally:
            with self._lock:
                self._filling.discard(shape)

    def prewarm(self, invocation: Invocation) -> None:
        """Fill the pool for this invocation's sandbox shape now (blocking)."""
        shape, _ = self._job(invocation)
        self._fill(shape)

    def close(self) -> None:
        with self._lock:
            workers = [w for idle in self._idle.values() for w in idle]
            self._idle.clear()
        for worker in workers:
            worker.kill()
