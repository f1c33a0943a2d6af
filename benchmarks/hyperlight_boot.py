"""Hyperlight boot check and cold-start figures for the hypervisor tier.

    PYTHONPATH=src python benchmarks/hyperlight_boot.py --aot build/hyperlight-device/hello.aot \
        [--runs 200] [--json]

Needs only the standard library, wasmforge's sources and hyperlight-sandbox-backend-wasm
(no registry). Prints the probe's verdict; where VMs boot it measures, for the executor AOT
built by scripts/hyperlight_device_prepare.py (or `wasmforge build --hyperlight`):
  create_load_ms   WasmSandbox created, guest runtime and module loaded (run of "")
  snapshot_ms      snapshot after load
  call_p50/p99_ms  restore + run of one hello request (what every call costs)
  backend_first_ms / backend_p50_ms  the same through runtime.hypervisor.HypervisorBackend
                   (worker process, pipe, /output capture)
and checks the hello's output, arguments, environment and exit status. Where VMs cannot
boot it prints the probe's reason and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def measure_sandbox(aot: Path, runs: int) -> dict[str, Any]:
    from hyperlight_sandbox_backend_wasm import WasmSandbox

    from wasmforge.guest.executor import request_json
    from wasmforge.runtime.hyperlight_vm import take_captured, vm_memory

    heap, stack = vm_memory(64 << 20, aot.stat().st_size)
    with tempfile.TemporaryDirectory(prefix="hl-boot-") as tmp:
        output = Path(tmp)
        started = time.perf_counter()
        sandbox = WasmSandbox(str(aot), output_dir=str(output), heap_size=f"{heap}Mi",
                              stack_size=f"{stack}Mi")
        sandbox.run("")
        create_load = time.perf_counter() - started
        started = time.perf_counter()
        snapshot = sandbox.snapshot()
        snap = time.perf_counter() - started
        request = request_json(["hello", "from", "wasmforge"], [("GREETING", "hi")])
        samples, results = [], []
        for _ in range(runs):
            started = time.perf_counter()
            sandbox.restore(snapshot)
            result = sandbox.run(request)
            samples.append(time.perf_counter() - started)
            results.append((result.exit_code, *take_captured(output)))
    samples.sort()
    return {"create_load_ms": _ms(create_load), "snapshot_ms": _ms(snap),
            "call_p50_ms": _ms(statistics.median(samples)),
            "call_p99_ms": _ms(samples[min(len(samples) - 1, int(len(samples) * 0.99))]),
            "first_result": list(results[0]),
            "all_calls_same": all(r == results[0] for r in results)}


def measure_backend(aot: Path, runs: int) -> dict[str, Any]:
    from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, Layer
    from wasmforge.runtime.backend import Grants, Invocation, RunLimits, Stdio
    from wasmforge.runtime.hypervisor import HypervisorBackend

    devnull = os.open(os.devnull, os.O_WRONLY)
    data = aot.read_bytes()
    backend = HypervisorBackend()

    def invocation(args: tuple[str, ...]) -> Invocation:
        return Invocation(name="hello", component=b"", digest="sha256:device-check",
                          grants=Grants(args=args, env=(("GREETING", "hi"),)),
                          limits=RunLimits(memory_bytes=64 << 20, timeout_s=10.0),
                          stdio=Stdio(stdout=devnull, stderr=devnull),
                          precompiled=Layer(HYPERLIGHT_AOT_MEDIA_TYPE, data,
                                            {"org.wasmforge.hyperlight.wasmtime": "device"}))

    try:
        started = time.perf_counter()
        first = backend.run(invocation(("hello",)))
        first_s = time.perf_counter() - started
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            outcome = backend.run(invocation(("hello",)))
            samples.append(time.perf_counter() - started)
            if outcome.exit_code != 0:
                return {"error": outcome.message}
        failing = backend.run(invocation(("fail",)))
    finally:
        backend.close()
        os.close(devnull)
    return {"backend_first_ms": _ms(first_s), "backend_first_exit": first.exit_code,
            "backend_first_message": first.message,
            "backend_p50_ms": _ms(statistics.median(samples)),
            "fail_exit_code": failing.exit_code}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aot", type=Path, default=Path("build/hyperlight-device/hello.aot"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    from wasmforge.guest import hyperlight as guest
    from wasmforge.runtime.probe import probe_hypervisor

    status = probe_hypervisor(refresh=True)
    report: dict[str, Any] = {"usable": status.usable, "detail": status.detail}
    backend = guest.backend_guest()
    report["backend"] = backend.package_version if backend else None
    report["guest_wasmtime"] = backend.wasmtime if backend else None
    engine = guest.aot_engine(options.aot.read_bytes()) if options.aot.is_file() else None
    report["aot_wasmtime"] = engine.wasmtime if engine else None
    if status.usable and engine is not None and backend and engine.wasmtime == backend.wasmtime:
        report.update(measure_sandbox(options.aot, options.runs))
        report.update(measure_backend(options.aot, options.runs))
    print(json.dumps(report, indent=None if options.json else 2))
    if not status.usable:
        print(f"hypervisor tier unusable: {status.detail}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
