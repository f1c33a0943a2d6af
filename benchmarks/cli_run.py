"""One-shot `wasmforge run` from the shell: what a user waits for, per isolation tier.

    python benchmarks/cli_run.py [LANG ...] [--runs N] [--json]

Each language's hello is made with `wasmforge new`, built signed with `[build] precompile =
true`, run once per tier to warm the caches (compiled code, the hypervisor probe), then
`wasmforge run IMAGE --isolation TIER -- bench` is started --runs times as a fresh process.
The table gives p50/p90 wall time of the whole command (interpreter start, imports, image
verification, policy, sandbox start, the guest, exit) beside two floors measured in the
same run: the interpreter alone (`python -c pass`) and the interpreter importing wasmtime.
Byte code is cached as on a user's machine (PYTHONDONTWRITEBYTECODE is dropped).
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
from typing import Any

from rich.console import Console
from rich.table import Table

TIERS = ("wasm", "process", "auto")


def _wall(argv: list[str], runs: int, env: dict[str, str]) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    samples.sort()
    return {"p50_ms": round(statistics.median(samples) * 1000, 1),
            "p90_ms": round(samples[int(len(samples) * 0.9) - 1] * 1000, 1)}


def _hello(language: str, work: Path, key: Path, env: dict[str, str]) -> Path | str:
    project = work / f"cli-{language}"
    wasmforge = [sys.executable, "-m", "wasmforge"]
    made = subprocess.run([*wasmforge, "new", project.name, "--lang", language, "--dir",
                           str(project)], capture_output=True, text=True, env=env)
    if made.returncode != 0:
        return made.stderr.strip().splitlines()[-1]
    manifest = project / "wasmforge.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace("[build]", "[build]\nprecompile = true", 1)
                        if "[build]" in text else text + "\n[build]\nprecompile = true\n")
    built = subprocess.run([*wasmforge, "build", str(project), "--sign-key", str(key),
                            "--json"], capture_output=True, text=True, env=env)
    if built.returncode != 0:
        return (built.stderr.strip().splitlines() or ["build failed"])[-1]
    return Path(json.loads(built.stdout)["image"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="*", default=["c"])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    from wasmforge.image.keys import generate_keypair
    from wasmforge.languages.tools import toolchains_dir

    work = Path(tempfile.mkdtemp(prefix="wasmforge-cli-run-"))
    env = dict(os.environ, WASMFORGE_TOOLCHAINS=str(toolchains_dir()),
               WASMFORGE_HOME=str(work / "home"))
    os.environ.update(env)
    # As on a user's machine: byte code is cached after the first start (some sandboxes set
    # PYTHONDONTWRITEBYTECODE, which would make every start compile every module).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    rows: list[dict[str, Any]] = [
        {"what": "python -c pass", **_wall([sys.executable, "-c", "pass"], options.runs, env)},
        {"what": "python -c 'import wasmtime'",
         **_wall([sys.executable, "-c", "import wasmtime"], options.runs, env)},
    ]
    try:
        keys = generate_keypair(work / "bench", None)
        for language in options.languages:
            image = _hello(language, work, keys.private, env)
            if isinstance(image, str):
                rows.append({"what": f"{language}: not built", "error": image})
                continue
            for tier in TIERS:
                argv = [sys.executable, "-m", "wasmforge", "run", str(image), "--trust",
                        str(keys.public), "--isolation", tier, "--", "bench"]
                subprocess.run(argv, capture_output=True, env=env)  # warm the caches
                rows.append({"what": f"{language}: run --isolation {tier}",
                             **_wall(argv, options.runs, env)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"wasmforge run from the shell ({options.runs} runs each, "
                        f"{os.cpu_count()} CPUs)")
    for column in ("command", "p50 ms", "p90 ms"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for row in rows:
        if "error" in row:
            table.add_row(row["what"], row["error"], "")
        else:
            table.add_row(row["what"], f"{row['p50_ms']:.1f}", f"{row['p90_ms']:.1f}")
    Console(highlight=False).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
