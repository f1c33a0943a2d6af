"""1,000 sequential runs in one process keep the host's memory bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wasmforge.runtime.backend import Grants, Invocation, RunLimits, Stdio
from wasmforge.runtime.process import ProcessBackend
from wasmforge.runtime.run import component_digest
from wasmforge.runtime.wasm import WasmBackend

RSS_GROWTH_BOUND = 24 * 1024 * 1024


def _rss() -> int:
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize("tier", ["wasm", "process"])
def test_thousand_runs_bounded_rss(guest: bytes, home: Path, tier: str) -> None:
    backend = WasmBackend() if tier == "wasm" else ProcessBackend(warm=1)
    if not backend.available().usable:
        pytest.skip(f"tier {tier} is unusable here: {backend.available().detail}")
    devnull = os.open(os.devnull, os.O_WRONLY)
    invocation = Invocation(name="guest", component=guest, digest=component_digest(guest),
                            grants=Grants(args=("env", "GREETING"),
                                          env=(("GREETING", "x" * 100),)),
                            limits=RunLimits(memory_bytes=32 << 20, timeout_s=5.0),
                            stdio=Stdio(stdin=devnull, stdout=devnull, stderr=devnull))
    try:
        for _ in range(50):  # warm-up: caches, pools, allocator arenas
            assert backend.run(invocation).exit_code == 0
        before = _rss()
        for _ in range(1000):
            assert backend.run(invocation).exit_code == 0
        growth = _rss() - before
    finally:
        os.close(devnull)
        close = getattr(backend, "close", None)
        if close:
            close()
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / 2**20:.1f} MiB over 1,000 runs"
