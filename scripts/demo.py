"""The main job, as a user would do it: for every language with a toolchain here,
`wasmforge new` -> `wasmforge build --sign-key` -> `wasmforge run --trust`, then a table.

Runs the real CLI in subprocesses. Keys, trust store and build cache live in a fresh
WASMFORGE_HOME under ./demo-out (the installed toolchains are shared), so the demo
never touches the user's own trust store and every build is a cold one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from wasmforge.languages import get_driver
from wasmforge.languages.tools import toolchains_dir
from wasmforge.project import LANGUAGES

OUT = Path(__file__).resolve().parent.parent / "demo-out"
console = Console()


def wasmforge(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    env = dict(os.environ, WASMFORGE_TOOLCHAINS=str(toolchains_dir()),
               WASMFORGE_HOME=str(OUT / "home"))
    keys = wasmforge("keygen", "--out", str(OUT / "demo"), env=env, cwd=OUT)
    if keys.returncode != 0:
        console.print(keys.stderr)
        return 1
    table = Table(title="wasmforge: new -> build --sign-key -> run, per language")
    for column in ("language", "result", "build s", "component", "run ms"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    table.add_column("guest output", no_wrap=True, overflow="ellipsis", max_width=48)
    failures = 0
    for language in LANGUAGES:
        status = get_driver(language).status()
        if not status.usable:
            table.add_row(language, "[yellow]no toolchain[/]", "-", "-", "-",
                          f"{status.problem} {status.remedy}".strip())
            continue
        row = demo_language(language, env)
        failures += row[1] != "[green]ok[/]"
        table.add_row(language, *row[1:])
        console.print(f"{language}: {row[1]}")
    console.print(table)
    return 1 if failures else 0


def demo_language(language: str, env: dict[str, str]) -> tuple[str, ...]:
    name = f"hello-{language}"
    project = OUT / name
    created = wasmforge("new", name, "--lang", language, "--dir", str(project), env=env,
                        cwd=OUT)
    if created.returncode != 0:
        return (language, "[red]new failed[/]", "-", "-", "-", last_line(created.stderr))
    started = time.perf_counter()
    built = wasmforge("build", str(project), "--sign-key", str(OUT / "demo.key"), "--json",
                      env=env, cwd=OUT)
    build_s = time.perf_counter() - started
    if built.returncode != 0:
        return (language, "[red]build failed[/]", f"{build_s:.1f}", "-", "-",
                last_line(built.stderr))
    result = json.loads(built.stdout)
    started = time.perf_counter()
    ran = wasmforge("run", result["image"], "--trust", str(OUT / "demo.pub"),
                    "--env", "GREETING=Howdy", "--", "wasmforge", env=env, cwd=OUT)
    run_ms = (time.perf_counter() - started) * 1000
    status = "[green]ok[/]" if ran.returncode == 0 else f"[red]run exit {ran.returncode}[/]"
    output = ran.stdout.strip().replace("\n", " / ") or last_line(ran.stderr)
    return (language, status, f"{build_s:.1f}", f"{result['component_size'] / 1e6:.2f} MB",
            f"{run_ms:.0f}", output)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "(no output)"


if __name__ == "__main__":
    sys.exit(main())
