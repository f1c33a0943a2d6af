"""The demo's serving part: for every language with a toolchain here, `wasmforge new
--world http` -> `build --sign-key` -> `serve --trust`, one GET of the hello, then a load of
concurrent requests, each on a fresh instance; then a table. Shown where the serving host
is built (`wasmforge toolchain install serve`, which `setup.sh --tests` runs)."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

READY = re.compile(r"serving http://([0-9.]+):(\d+)/")
LOAD, CONCURRENCY = 500, 8
Wasmforge = Callable[..., subprocess.CompletedProcess[str]]


def demo_serve(languages: list[str], out: Path, env: dict[str, str], wasmforge: Wasmforge,
               console: Console) -> int:
    """The failures (0 when the host is not built: it is then only said)."""
    from wasmforge.serve_host import built_host

    if built_host() is None:
        console.print("[yellow]serving not shown[/]: the HTTP host is not built (run "
                      "`wasmforge toolchain install serve`; `bash scripts/setup.sh --tests` "
                      "does)")
        return 0
    table = Table(title=f"wasmforge: new --world http -> build -> serve; GET, then {LOAD} "
                        f"requests at concurrency {CONCURRENCY}, a fresh instance each")
    for column in ("language", "result", "build s", "200s", "req/s"):
        table.add_column(column, no_wrap=True, min_width=max(len(column), 7))
    table.add_column("GET /demo", no_wrap=True, overflow="ellipsis", max_width=40)
    failures = 0
    for language in languages:
        row = _serve_language(language, out, env, wasmforge)
        failures += row[0] != "[green]ok[/]"
        table.add_row(language, *row)
        console.print(f"serve {language}: {row[0]}")
    console.print(table)
    return failures


def _serve_language(language: str, out: Path, env: dict[str, str],
                    wasmforge: Wasmforge) -> tuple[str, ...]:
    project = out / f"api-{language}"
    made = wasmforge("new", project.name, "--lang", language, "--world", "http", "--dir",
                     str(project), env=env, cwd=out)
    if made.returncode != 0:
        return ("[red]new failed[/]", "-", "-", "-", _last(made.stderr))
    started = time.perf_counter()
    built = wasmforge("build", str(project), "--sign-key", str(out / "demo.key"), env=env,
                      cwd=out)
    build_s = f"{time.perf_counter() - started:.1f}"
    if built.returncode != 0:
        return ("[red]build failed[/]", build_s, "-", "-", _last(built.stderr))
    image = project / "build" / f"{project.name}.oci.tar"
    server = subprocess.Popen([sys.executable, "-m", "wasmforge", "serve", str(image),
                               "--trust", str(out / "demo.pub"), "--listen", "127.0.0.1:0"],
                              env=env, cwd=out, stderr=subprocess.PIPE, text=True)
    try:
        address = _wait_ready(server)
        if address is None:
            return ("[red]serve failed[/]", build_s, "-", "-", "did not start")
        status, body = _get(address, "/demo")
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            counts = Counter(pool.map(lambda _: _get(address, "/load")[0], range(LOAD)))
        rate = LOAD / (time.perf_counter() - started)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    ok = status == 200 and counts[200] == LOAD
    return ("[green]ok[/]" if ok else "[red]wrong answers[/]", build_s,
            f"{counts[200]}/{LOAD}", f"{rate:.0f}", f"{status} {body.strip()}")


def _wait_ready(server: subprocess.Popen[str]) -> tuple[str, int] | None:
    assert server.stderr is not None
    for line in server.stderr:
        found = READY.search(line)
        if found:  # the host logs each request there next: keep the pipe drained
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return found[1], int(found[2])
    return None


def _get(address: tuple[str, int], path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "(no output)"
