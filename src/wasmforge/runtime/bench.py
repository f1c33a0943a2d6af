"""`wasmforge bench`: cold start per tier (instantiate + run to exit) and throughput.

For each usable tier: the first run of a fresh backend (compiled code from disk, or a new
worker sandbox), then `runs` sequential runs (p50/p99), then `runs` runs spread over one
thread per CPU (runs/s). The guest gets no arguments, no mounts and no env; its output
is discarded.
"""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from wasmforge.runtime import tiers
from wasmforge.runtime.backend import TIER_ORDER, Backend, Invocation, Stdio
from wasmforge.runtime.run import RunRequest, for_tier, invocation_for, load, unfit


def bench_image(image: Path, runs: int = 200, allow_unsigned: bool = False,
                tier_names: tuple[str, ...] = TIER_ORDER,
                concurrency: int | None = None) -> dict[str, Any]:
    request = RunRequest(image=str(image), allow_unsigned=allow_unsigned)
    loaded = load(request, notice=lambda _message: None)
    invocation = replace(invocation_for(loaded, request, notice=lambda _message: None),
                         stdio=Stdio(stdin=-1, stdout=-1, stderr=-1))
    threads = concurrency or os.cpu_count() or 1
    minimum = getattr(loaded.capabilities, "isolation", "wasm")
    strength = {name: rank for rank, name in enumerate(reversed(TIER_ORDER))}
    rows = []
    for name in tier_names:
        state = tiers.status(name)
        if strength[name] < strength.get(minimum, 0):
            why = f"the image requires isolation tier {minimum} or stronger"
        else:
            why = unfit(loaded, invocation, name) if state.usable else state.detail
        rows.append({"tier": name, "unavailable": why} if why else
                    _bench_tier(name, for_tier(loaded, invocation, name), max(runs, 1),
                                threads))
    return {"image": str(image), "name": loaded.name, "language": loaded.language,
            "runs": runs, "concurrency": concurrency or os.cpu_count() or 1,
            "machine": _machine(), "tiers": rows}


def _bench_tier(name: str, invocation: Invocation, runs: int, threads: int) -> dict[str, Any]:
    """Measure a tier that bench_image found usable for this image."""
    backend = _fresh(name, threads)
    try:
        first = _timed(backend, invocation)
        if first is None:
            return {"tier": name, "unavailable": "the guest failed on its first run"}
        if name == "process":
            backend.prewarm(invocation)  # type: ignore[attr-defined]
        samples = [_timed(backend, invocation) for _ in range(runs)]
        if any(sample is None for sample in samples):
            return {"tier": name, "unavailable": "the guest failed during the benchmark"}
        times = sorted(sample for sample in samples if sample is not None)
        p50 = statistics.median(times)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda _i: backend.run(invocation), range(runs)))
        elapsed = time.perf_counter() - started
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    return {"tier": name, "p50_ms": p50 * 1000, "p99_ms": _percentile(times, 0.99) * 1000,
            "first_ms": first * 1000, "first_over_later": first / p50 if p50 else 0.0,
            "runs_per_s": runs / elapsed if elapsed else 0.0}


def _fresh(name: str, threads: int) -> Backend:
    """A backend with cold in-process caches, as a new `wasmforge run` would see it."""
    if name == "wasm":
        from wasmforge.runtime import engine, instance

        engine.forget_compiled()
        instance.forget_linkers()
    if name == "process":
        from wasmforge.runtime.process import ProcessBackend

        return ProcessBackend(warm=threads)
    return tiers.backend(name)


def _timed(backend: Backend, invocation: Invocation) -> float | None:
    started = time.perf_counter()
    outcome = backend.run(invocation)
    elapsed = time.perf_counter() - started
    return elapsed if outcome.failure is None else None


def _percentile(ordered: list[float], fraction: float) -> float:
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _machine() -> str:
    import platform

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()} x{os.cpu_count()}, {platform.system()} " \
           f"{platform.release()}, Python {platform.python_version()}"
