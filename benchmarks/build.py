"""Build benchmark: per language, cold build, no-op rebuild, the raw toolchain's time
for the same source, wasmforge's overhead ratio and the component size.

    python benchmarks/build.py [LANG ...] [--repeat N]

"Raw toolchain" is the driver's own compile step (the compiler/componentizer alone,
timed inside the build); overhead = cold build / (compile + adapt). "Run-compile" is the
step that leaves the component compiled for the first `run` (wasmtime's compiler, which a
first run would otherwise pay); "overhead w/o" leaves it out. The no-op rebuild is the
whole `wasmforge build` command in a fresh process, as a user runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from wasmforge.languages import get_driver
from wasmforge.languages.tools import toolchains_dir
from wasmforge.project import LANGUAGES


def cli(*args: str, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "wasmforge", *args], env=env,
                          capture_output=True, text=True, timeout=1800)
    return time.perf_counter() - started, proc


def bench_language(language: str, work: Path, repeat: int) -> list[str]:
    env = dict(os.environ, WASMFORGE_TOOLCHAINS=str(toolchains_dir()),
               WASMFORGE_HOME=str(work / f"home-{language}"))
    project = work / f"bench-{language}"
    _, created = cli("new", f"bench-{language}", "--lang", language, "--dir", str(project),
                     env=env)
    if created.returncode != 0:
        return [language, "new failed", *[""] * 6, created.stderr.strip()[-80:]]
    cold_s, built = cli("build", str(project), "--json", env=env)
    if built.returncode != 0:
        return [language, "build failed", *[""] * 6, built.stderr.strip()[-80:]]
    result = json.loads(built.stdout)
    steps = result["steps"]
    raw_s = steps.get("compile", 0.0) + steps.get("adapt", 0.0)
    run_compile_s = steps.get("run-compile", 0.0)
    noop = []
    for _ in range(repeat):
        seconds, again = cli("build", str(project), "--json", env=env)
        assert json.loads(again.stdout)["cached"], "a no-op rebuild was not cached"
        noop.append(seconds)
    return [language, f"{cold_s:.2f}", f"{statistics.median(noop):.3f}", f"{raw_s:.2f}",
            f"{run_compile_s:.2f}", f"{cold_s / raw_s:.2f}x" if raw_s else "-",
            f"{(cold_s - run_compile_s) / raw_s:.2f}x" if raw_s else "-",
            f"{result['component_size'] / 1e6:.2f} MB", ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    parser.add_argument("--repeat", type=int, default=5, help="no-op rebuilds to time")
    options = parser.parse_args()
    table = Table(title="wasmforge build benchmark")
    for column in ("language", "cold build s", "no-op rebuild s", "raw toolchain s",
                   "run-compile s", "overhead", "overhead w/o", "component", "note"):
        table.add_column(column)
    work = Path(tempfile.mkdtemp(prefix="wasmforge-bench-"))
    try:
        for language in options.languages:
            status = get_driver(language).status()
            if not status.usable:
                table.add_row(language, *["-"] * 7, status.problem)
                continue
            table.add_row(*bench_language(language, work, options.repeat))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
