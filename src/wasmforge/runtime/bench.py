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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from wasmforge.isolation import TIER_ORDER, TierName, at_least
from wasmforge.runtime import tiers
from wasmforge.runtime.backend import Backend, Invocation, Stdio
from wasmforge.runtime.run import RunRequest, invocation_for, load


@dataclass(frozen=True)
class TierBench:
    """One tier's row: its timings, or why it was not measured."""

    tier: TierName
    unavailable: str = ""  # set: the tier was not measured, and why
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    first_ms: float = 0.0
    first_over_later: float = 0.0
    runs_per_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        if self.unavailable:
            return {"tier": self.tier, "unavailable": self.unavailable}
        row = asdict(self)
        del row["unavailable"]
        return row


@dataclass(frozen=True)
class BenchReport:
    image: str
    name: str
    language: str
    runs: int
    concurrency: int
    machine: str
    tiers: list[TierBench]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "tiers": [row.to_json() for row in self.tiers]}


def bench_image(image: Path, runs: int = 200, allow_unsigned: bool = False,
                tier_names: tuple[TierName, ...] = TIER_ORDER,
                concurrency: int | None = None) -> BenchReport:
    request = RunRequest(image=str(image), allow_unsigned=allow_unsigned)
    loaded = load(request, notice=lambda _message: None)
    invocation = replace(invocation_for(loaded, request, notice=lambda _message: None),
                         stdio=Stdio(stdin=-1, stdout=-1, stderr=-1))
    threads = concurrency or os.cpu_count() or 1
    minimum = loaded.capabilities.isolation
    rows = []
    for name in tier_names:
        state = tiers.status(name)
        if not at_least(name, minimum):
            why = f"the image requires isolation tier {minimum} or stronger"
        else:
            why = tiers.backend(name).unfit(loaded, invocation) if state.usable else state.detail
        if why:
            rows.append(TierBench(name, unavailable=why))
            continue
        backend = tiers.backend_class(name).cold(threads)
        rows.append(_bench_tier(name, backend, backend.prepare(loaded, invocation),
                                max(runs, 1), threads))
    return BenchReport(str(image), loaded.name, loaded.language, runs, threads, _machine(),
                       rows)


def _bench_tier(name: TierName, backend: Backend, invocation: Invocation, runs: int,
                threads: int) -> TierBench:
    """Measure a tier that bench_image found usable for this image (then close it)."""
    try:
        first = _timed(backend, invocation)
        if first is None:
            return TierBench(name, unavailable="the guest failed on its first run")
        backend.prewarm(invocation)
        samples = [_timed(backend, invocation) for _ in range(runs)]
        if any(sample is None for sample in samples):
            return TierBench(name, unavailable="the guest failed during the benchmark")
        times = sorted(sample for sample in samples if sample is not None)
        p50 = statistics.median(times)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda _i: backend.run(invocation), range(runs)))
        elapsed = time.perf_counter() - started
    finally:
        backend.close()
    return TierBench(name, p50_ms=p50 * 1000, p99_ms=_percentile(times, 0.99) * 1000,
                     first_ms=first * 1000, first_over_later=first / p50 if p50 else 0.0,
                     runs_per_s=runs / elapsed if elapsed else 0.0)


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
