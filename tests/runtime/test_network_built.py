"""The network allow-list as users meet it: images made by `wasmforge build --sign-key` from
the programs under programs/net_*, run with `wasmforge run` in each tier, against real servers
on this host's loopback.

What connects, and why only that (runtime/instance.py explains the wasmtime side):
- JavaScript's fetch() goes over wasi:http. In the process tier it reaches exactly the listed
  endpoints (the sandbox's forwarders); an unlisted port, an IP literal or another host fails
  with the TypeError fetch() gives for any network error. The wasm tier cannot confine the
  network, so it refuses with a sentence. Built with no grant, fetch() rejects with an error
  that names [capabilities] network.
- Python's sockets go over wasi:sockets, where wasmtime-py 50 cannot create a TCP socket in any
  tier (its C API lacks allow_tcp): connecting fails with PermissionError (EACCES, 2 in WASI's
  numbering) even to a listed endpoint, and the servers see no connection. Name lookup works
  where granted: the sandbox resolves each listed name, and only those.
- C, Go and Rust build through WASI preview 1 and the adapter, which has no call that opens a
  connection: wasi-libc declares socket() and connect() only for wasip2, so C calling them
  does not compile; Go's wasip1 net package is an in-process fake network (a Dial to a
  listed 127.0.0.1:PORT ends in "connect: Connection refused"); Rust's std::net on wasip1
  answers every connect with "operation not supported on this platform".
"""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Keys, require_tier
from loopback_http import LoopbackHttp

pytestmark = pytest.mark.slow
PROGRAMS = Path(__file__).parent / "programs"
HELLO = "hello from the host"
SECRET = "secret behind an unlisted port"
FETCH_ERROR = "TypeError: NetworkError when attempting to fetch resource"
NOT_GRANTED = "is not granted: [capabilities] network in wasmforge.toml is empty"
EACCES_IN_WASI = 2


@dataclass
class Servers:
    http: int  # listed
    echo: int  # listed, a line-echo TCP server
    unlisted: int  # an HTTP server no manifest lists
    connections: list[str] = field(default_factory=list)  # "http" / "echo" / "unlisted"


def _echo_server(seen: list[str]) -> socketserver.ThreadingTCPServer:
    class Echo(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            seen.append("echo")
            self.wfile.write(b"echo " + self.rfile.readline())

    return socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    seen: list[str] = []
    listed = LoopbackHttp(HELLO.encode(), lambda _path: seen.append("http"))
    echo = _echo_server(seen)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    unlisted = LoopbackHttp(SECRET.encode(), lambda _path: seen.append("unlisted"))
    try:
        yield Servers(listed.port, echo.server_address[1], unlisted.port, connections=seen)
    finally:
        listed.close()
        unlisted.close()
        echo.shutdown()
        echo.server_close()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, timeout=900, env={**os.environ, "WASMFORGE_HOME": str(home)})


MANIFEST = """[project]
name = "{name}"
version = "0.1.0"
language = "{language}"
world = "command"

[build]
deny_ungranted = true

[capabilities]
args = true
stdio = true
network = [{network}]
clocks = true
random = true
isolation = "wasm"

[capabilities.limits]
memory = "128MiB"
timeout = "60s"
"""

Build = Callable[[str, tuple[str, ...]], Path]


@pytest.fixture(scope="module")
def build(home: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """`wasmforge build --sign-key` of programs/PROGRAM with `network` granted (once each)."""
    built: dict[tuple[str, tuple[str, ...]], Path] = {}
    languages = {"net_js": "javascript", "net_py": "python"}

    def make(program: str, network: tuple[str, ...]) -> Path:
        if (program, network) not in built:
            name = f"{program.replace('_', '-')}-{len(built)}"
            root = tmp_path_factory.mktemp("net-project") / name
            shutil.copytree(PROGRAMS / program, root)
            (root / "wasmforge.toml").write_text(MANIFEST.format(
                name=name, language=languages[program],
                network=", ".join(f'"{entry}"' for entry in network)))
            done = _cli(home, "build", str(root), "--sign-key", str(keys.trusted))
            assert done.returncode == 0, done.stderr
            built[program, network] = root / "build" / f"{name}.oci.tar"
        return built[program, network]

    return make


def _run(home: Path, image: Path, tier: str, *args: str) -> subprocess.CompletedProcess[str]:
    require_tier(tier)
    return _cli(home, "run", str(image), "--isolation", tier, "--", *args)


def test_js_fetch_in_the_process_tier_reaches_the_allow_list_only(
        home: Path, build: Build, servers: Servers) -> None:
    image = build("net_js", (f"http://localhost:{servers.http}",))
    listed = f"http://localhost:{servers.http}/"
    unlisted = (f"http://localhost:{servers.unlisted}/", f"http://127.0.0.1:{servers.http}/",
                f"http://127.0.0.1:{servers.unlisted}/", "http://example.com/")
    ran = _run(home, image, "process", listed, *unlisted)
    assert f"fetched {listed}: 200 {HELLO}\n" in ran.stdout, ran.stderr
    for url in unlisted:
        assert f"fetch {url} failed: {FETCH_ERROR}\n" in ran.stdout
    assert SECRET not in ran.stdout and "unlisted" not in servers.connections
    assert "wasi:sockets" not in ran.stderr  # fetch goes over wasi:http: no sockets note
    assert ran.returncode == 1  # the program's status 3 (failures) arrives as WASI's failure


def test_js_fetch_in_the_wasm_tier_is_refused_with_a_sentence(
        home: Path, build: Build, servers: Servers) -> None:
    image = build("net_js", (f"http://localhost:{servers.http}",))
    ran = _run(home, image, "wasm", f"http://localhost:{servers.http}/")
    assert ran.returncode == 1 and HELLO not in ran.stdout
    assert "so it stays denied; use --isolation process to grant it" in ran.stderr
    assert "error: the guest called wasi:http/types@" in ran.stderr
    assert ("which this run does not grant; [capabilities] network reaches a guest only in "
            "the process tier (--isolation process)") in ran.stderr
    assert "unreachable" not in ran.stderr and "Traceback" not in ran.stderr


@pytest.mark.parametrize("tier", ["wasm", "process"])
def test_js_fetch_without_a_grant_rejects_with_an_error_the_program_catches(
        home: Path, build: Build, servers: Servers, tier: str) -> None:
    url = f"http://localhost:{servers.http}/"
    ran = _run(home, build("net_js", ()), tier, url)
    assert f"fetch {url} failed: TypeError: fetch({url}) {NOT_GRANTED}" in ran.stdout, ran.stderr
    assert HELLO not in ran.stdout and "unreachable" not in ran.stderr


def _py(home: Path, image: Path, tier: str, mode: str, target: str) -> str:
    ran = _run(home, image, tier, mode, target)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.stdout


def test_python_in_the_process_tier_resolves_listed_names_but_opens_no_socket(
        home: Path, build: Build, servers: Servers) -> None:
    image = build("net_py", (f"tcp://localhost:{servers.echo}",
                             f"http://localhost:{servers.http}"))
    ran = _run(home, image, "process", "lookup", "localhost")
    assert ran.stdout == "resolved 127.0.1.1\n"
    assert ("the component can connect only through wasi:sockets, and wasmtime-py 50.0.1 "
            "cannot grant TCP or UDP sockets") in ran.stderr
    assert "lookup example.com failed: gaierror" in _py(home, image, "process", "lookup",
                                                        "example.com")
    denied = f"PermissionError errno={EACCES_IN_WASI} [Errno {EACCES_IN_WASI}] Permission denied"
    for mode, target in (("tcp", f"localhost:{servers.echo}"),
                         ("http", f"localhost:{servers.http}"),
                         ("url", f"http://localhost:{servers.http}/")):
        assert _py(home, image, "process", mode, target) == f"{mode} {target} failed: {denied}\n"
    assert servers.connections.count("echo") == 0


@pytest.mark.parametrize("granted", [True, False])
def test_python_sockets_are_denied_in_the_wasm_tier_and_without_a_grant(
        home: Path, build: Build, servers: Servers, granted: bool) -> None:
    network = (f"tcp://localhost:{servers.echo}",) if granted else ()
    image = build("net_py", network)
    for tier in ("wasm",) if granted else ("wasm", "process"):
        said = _py(home, image, tier, "tcp", f"localhost:{servers.echo}")
        if granted:  # name lookup is not granted in-process
            assert said == (f"tcp localhost:{servers.echo} failed: gaierror errno=-4 "
                            "[Errno -4] Non-recoverable error\n")
        else:  # the build compiled sockets out: the deny stub answers access-denied
            assert said == (f"tcp localhost:{servers.echo} failed: PermissionError "
                            f"errno={EACCES_IN_WASI} [Errno {EACCES_IN_WASI}] Permission denied\n")
    assert servers.connections.count("echo") == 0


def test_listening_unlisted_port_is_real(servers: Servers) -> None:
    """The unlisted endpoint the denials are checked against does serve (from the host)."""
    with socket.create_connection(("127.0.0.1", servers.unlisted), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert SECRET in conn.makefile("rb").read().decode()
    servers.connections.remove("unlisted")
