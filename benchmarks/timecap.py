"""The wall-time cap under load: how late a capped guest is stopped, and what it is told.

    python benchmarks/timecap.py [--caps 1,2] [--runs 5] [--load N] [--json]

A C guest built and signed with `wasmforge build --sign-key` spins in a pure wasm loop
(`loop`) or sleeps in a host call (`sleep`). While N busy processes load the machine
(default: twice its CPUs), each tier runs the loop under each cap --runs times in this
process (the tier's own `elapsed_s`, from the start of the run to its end), and the table
gives the worst lateness against the bound the cap promises: 10 % of the cap or 100 ms,
whichever is larger. Then `wasmforge run` itself is started for both guests in the wasm
tier, and the table shows what it said: a loop must be stopped by the cap, a sleep must be
reported as waiting in a host call.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

GUEST = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    volatile unsigned long spins = 0;
    if (argc > 1 && !strcmp(argv[1], "sleep")) { sleep(1000); return 0; }
    for (;;) spins++;
}
"""
MANIFEST = """[project]
name = "timecap"
version = "0.1.0"
language = "c"

[capabilities]
isolation = "wasm"

[capabilities.limits]
memory = "64MiB"
timeout = "60s"
"""


def _build(work: Path) -> Path:
    root = work / "timecap"
    root.mkdir()
    (root / "main.c").write_text(GUEST)
    (root / "wasmforge.toml").write_text(MANIFEST)
    cli = [sys.executable, "-m", "wasmforge"]
    subprocess.run([*cli, "keygen", "--out", str(work / "key")], check=True,
                   capture_output=True)
    built = subprocess.run([*cli, "build", str(root), "--sign-key", str(work / "key.key")],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"the loop guest did not build: {built.stderr.strip()}")
    return root / "build" / "timecap.oci.tar"


def _load(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def _in_process(image: Path, tier: str, cap: float, runs: int) -> dict[str, Any]:
    from wasmforge.runtime.backend import Stdio
    from wasmforge.runtime.run import RunRequest, invocation_for, load
    from wasmforge.runtime.tiers import backend

    request = RunRequest(image=str(image), isolation=tier, timeout_s=cap)
    loaded = load(request, lambda _m: None)
    invocation = invocation_for(loaded, request, lambda _m: None)
    invocation = dataclasses.replace(invocation, stdio=Stdio(-1, -1, -1))
    chosen = backend(tier)
    chosen.run(invocation)  # warm: compiled code, a started worker
    late, messages = [], set()
    for _ in range(runs):
        outcome = chosen.run(invocation)
        late.append(outcome.elapsed_s - cap)
        messages.add(outcome.failure or "none")
    bound = max(0.1 * cap, 0.1)
    return {"tier": tier, "cap_s": cap, "runs": runs, "worst_late_ms": round(max(late) * 1000),
            "best_late_ms": round(min(late) * 1000), "bound_ms": round(bound * 1000),
            "within": all(x <= bound for x in late) and messages == {"timeout"},
            "failure": ",".join(sorted(messages))}


def _cli_says(image: Path, mode: str, cap: float) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "wasmforge", "run", str(image), "--isolation",
                           "wasm", "--timeout", str(cap), "--", mode], capture_output=True,
                          text=True)
    said = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    expected = "host call" if mode == "sleep" else "and was stopped"
    return {"guest": mode, "cap_s": cap, "wall_s": round(time.perf_counter() - started, 2),
            "exit": done.returncode, "true": expected in said, "said": said[:100]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caps", default="1,2")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--tiers", default="wasm,process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    caps = [float(c) for c in args.caps.split(",")]
    with tempfile.TemporaryDirectory(prefix="wasmforge-timecap-") as tmp:
        from wasmforge.languages.tools import toolchains_dir

        os.environ.setdefault("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
        os.environ["WASMFORGE_HOME"] = str(Path(tmp) / "home")
        image = _build(Path(tmp))
        hogs = _load(args.load)
        try:
            time.sleep(2.0)  # let the load average climb
            rows = [_in_process(image, tier, cap, args.runs)
                    for tier in args.tiers.split(",") for cap in caps]
            said = [_cli_says(image, mode, cap) for mode in ("loop", "sleep") for cap in caps]
            loadavg = os.getloadavg()[0]
        finally:
            for hog in hogs:
                hog.kill()
    if args.json:
        print(json.dumps({"load": loadavg, "runs": rows, "messages": said}, indent=2))
        return
    console = Console()
    for title, data in ((f"in-process runs under load {loadavg:.1f} ({args.load} busy "
                         "processes)", rows), ("what `wasmforge run` said (wasm tier)", said)):
        table = Table(title=title)
        for column in data[0]:
            table.add_column(column)
        for row in data:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)


if __name__ == "__main__":
    main()
