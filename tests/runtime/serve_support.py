"""Helpers for the `wasmforge serve` tests: building handler projects with the real CLI,
a running server, an upstream HTTP server on loopback, and a bounded loopback load."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from loopback_http import LoopbackHttp

HERE = Path(__file__).parent
HANDLERS = HERE / "serve_handlers"


@dataclass(frozen=True)
class HandlerSource:
    """A language's test handler: serve_handlers/`source`, written over the scaffold's
    `target`. `reads_files` is False where the runtime has no file API (StarlingMonkey): the
    handler then answers /dirs with its preopened directories instead of /file and /write."""

    source: str
    target: str
    reads_files: bool = True


# The test handler of each language; a language without one serves the scaffold's hello.
TEST_HANDLERS = {
    "c": HandlerSource("main.c", "main.c"),
    "rust": HandlerSource("lib.rs", "src/lib.rs"),
    "go": HandlerSource("main.go", "main.go"),
    "javascript": HandlerSource("main.js", "main.js", reads_files=False),
    "python": HandlerSource("app.py", "app.py"),
}
LANGUAGE_NAMES = {"c": "C", "go": "Go", "rust": "Rust", "python": "Python",
                  "javascript": "JavaScript"}
# What the upstream answers on /large: 1 MiB, for handlers that read big answers.
LARGE_BODY = bytes(range(256)).hex().encode() * 2048
_READY = re.compile(r"serving http://([0-9.]+):(\d+)/")


def cli(*args: str, cwd: Path | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)


def manifest(name: str, language: str, upstream_port: int) -> str:
    return f"""[project]
name = "{name}"
version = "0.1.0"
language = "{language}"
world = "http"

[build]
deny_ungranted = true

[capabilities]
args = false
stdio = true
env = ["GREETING"]
mounts = [{{ guest = "/data", mode = "ro" }}]
network = ["http://localhost:{upstream_port}"]
clocks = true
random = true
isolation = "wasm"

[capabilities.limits]
memory = "64MiB"
timeout = "3s"
"""


def build_handler(root: Path, language: str, key: Path, upstream_port: int,
                  scaffold: bool = False) -> Path:
    """The signed image of `language`'s test handler, or of the scaffold's own hello."""
    name = f"{'hello' if scaffold else 'svc'}-{language}"
    made = cli("new", name, "--lang", language, "--world", "http", "--dir", str(root / name))
    assert made.returncode == 0, made.stderr
    project = root / name
    handler = None if scaffold else TEST_HANDLERS.get(language)
    if handler is not None:
        (project / handler.target).write_text((HANDLERS / handler.source).read_text())
    (project / "wasmforge.toml").write_text(manifest(name, language, upstream_port))
    built = cli("build", str(project), "--sign-key", str(key))
    assert built.returncode == 0, built.stderr
    return project / "build" / f"{name}.oci.tar"


@dataclass
class Server:
    proc: subprocess.Popen[str]
    host: str = ""
    port: int = 0
    lines: list[str] = field(default_factory=list)

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        return self.request("GET", path, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                timeout: float = 30) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            answer = conn.getresponse()
            return answer.status, answer.read().decode()
        finally:
            conn.close()

    def logged(self, start: int, prefix: str, count: int) -> list[str]:
        """The first `count` log lines from line `start` on that begin with `prefix`; a line
        follows its handler's end, so this waits for them (10 s at most)."""
        deadline = time.monotonic() + 10
        while True:
            found = [line for line in self.lines[start:] if line.startswith(prefix)]
            if len(found) >= count or time.monotonic() > deadline:
                return found[:count]
            time.sleep(0.05)

    def descendants(self) -> set[int]:
        return descendants(self.proc.pid)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)


def start_server(image: Path, *args: str, ready_timeout: float = 300) -> Server:
    proc = subprocess.Popen([sys.executable, "-m", "wasmforge", "serve", str(image),
                             "--listen", "127.0.0.1:0", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    server = Server(proc)
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            server.lines.append(line.rstrip("\n"))
            found = _READY.search(line)
            if found:
                server.host, server.port = found[1], int(found[2])
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(ready_timeout)
    if not server.port:
        server.stop(signal.SIGKILL)
        raise AssertionError("the server did not start:\n" + "\n".join(server.lines))
    return server


@contextlib.contextmanager
def serving(image: Path, *args: str) -> Iterator[Server]:
    server = start_server(image, *args)
    try:
        yield server
    finally:
        server.stop()


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        todo.append(int(child))
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                living.add(pid)
    return living


def load(server: Server, path: str, total: int, concurrency: int) -> dict[str, int]:
    """`total` GETs over `concurrency` keep-alive connections; counts answers by status."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    share = [total // concurrency + (1 if i < total % concurrency else 0)
             for i in range(concurrency)]

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        for _ in range(count):
            try:
                conn.request("GET", path)
                answer = conn.getresponse()
                answer.read()
                key = str(answer.status)
            except (OSError, http.client.HTTPException) as err:
                key = type(err).__name__
                conn.close()
                conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
            with lock:
                counts[key] = counts.get(key, 0) + 1
        conn.close()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, share))
    return counts


class Upstream(LoopbackHttp):
    """A loopback HTTP server the handlers may (or may not) reach."""

    def __init__(self) -> None:
        super().__init__(lambda path: LARGE_BODY if path == "/large"
                         else b"pong from upstream\n")


def wait_gone(pids: set[int], timeout: float = 10) -> set[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)

