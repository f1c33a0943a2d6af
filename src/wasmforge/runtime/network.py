"""Outbound network restricted to the manifest's allow-list (the `process` tier only).

wasmtime-py can grant a guest all of the host's network or none of it, so the allow-list is
enforced outside wasmtime. The worker's sandbox has its own network namespace holding only a
loopback device, and an /etc/hosts that maps each allowed host name to a loopback address
(127.0.1.N). On that address and the allowed port the worker listens; each connection it
accepts is handed to the host over a socket pair as "connect HOST:PORT", the host checks
the pair against the allow-list, connects, and passes the connected socket back
(SCM_RIGHTS); the worker then copies bytes both ways. Nothing else leaves the namespace:
other names do not resolve and other addresses have no route. HTTPS works end to end (the
guest's TLS talks to the real host). UDP entries and IP literals are not forwarded.
"""

from __future__ import annotations

import array
import contextlib
import json
import re
import socket
import threading
from dataclasses import dataclass

_ENTRY_RE = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):"
                       r"(?P<port>\d{1,5})$")
_IP_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$|^\[")
_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Endpoint:
    """One allow-listed host:port and where the sandbox reaches it."""

    host: str
    port: int
    address: str  # the loopback address the sandbox resolves `host` to


def plan(entries: tuple[str, ...]) -> tuple[tuple[Endpoint, ...], tuple[str, ...]]:
    """Allow-list entries -> forwardable endpoints, and the entries that cannot be."""
    endpoints: list[Endpoint] = []
    skipped: list[str] = []
    addresses: dict[str, str] = {}
    for entry in entries:
        match = _ENTRY_RE.match(entry)
        if not match or match["scheme"] not in ("http", "https", "tcp"):
            skipped.append(entry)
            continue
        host, port = match["host"].lower(), int(match["port"])
        if _IP_RE.match(host) or "*" in host or not 0 < port < 65536:
            skipped.append(entry)
            continue
        if host not in addresses:
            if len(addresses) >= 250:
                skipped.append(entry)
                continue
            addresses[host] = f"127.0.1.{len(addresses) + 1}"
        endpoint = Endpoint(host, port, addresses[host])
        if endpoint not in endpoints:
            endpoints.append(endpoint)
    return tuple(endpoints), tuple(skipped)


def hosts_file(endpoints: tuple[Endpoint, ...]) -> bytes:
    named = {endpoint.host for endpoint in endpoints}
    lines = [] if "localhost" in named else ["127.0.0.1 localhost"]
    seen = set()
    for endpoint in endpoints:
        if endpoint.host not in seen:
            seen.add(endpoint.host)
            lines.append(f"{endpoint.address} {endpoint.host}")
    return ("\n".join(lines) + "\n").encode()


NSSWITCH = b"hosts: files\n"
SOCKETS_NOTICE = (
    "note: the component can connect only through wasi:sockets, and wasmtime-py {version} "
    "cannot grant TCP or UDP sockets (its C API offers no allow_tcp), so its connections "
    "fail with EACCES even to the allow-list")


def sockets_notice(imports: tuple[str, ...]) -> str | None:
    """The note for a process-tier run whose guest imports wasi:sockets but not wasi:http
    (Python's socket, http.client and urllib; see runtime/instance.py for why)."""
    names = [name.split("@")[0] for name in imports]
    if "wasi:sockets/tcp-create-socket" not in names or "wasi:http/outgoing-handler" in names:
        return None
    from importlib.metadata import version

    return SOCKETS_NOTICE.format(version=version("wasmtime"))


# ------------------------------------------------------------------ host side


class Connector:
    """Serves one worker's connect requests, for allowed endpoints only."""

    def __init__(self, channel: socket.socket, endpoints: tuple[Endpoint, ...]) -> None:
        self.channel = channel
        self.allowed = {(e.host, e.port) for e in endpoints}
        self.thread = threading.Thread(target=self._serve, daemon=True,
                                       name="wasmforge-connector")
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                message = self.channel.recv(4096)
            except OSError:
                return
            if not message:
                return
            try:
                request = json.loads(message)
                host, port = str(request["host"]), int(request["port"])
            except (ValueError, KeyError, TypeError):
                return  # a worker that speaks nonsense gets nothing more
            if (host, port) not in self.allowed:
                self._reply({"error": f"{host}:{port} is not in the allow-list"})
                continue
            try:
                upstream = socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S)
            except OSError as err:
                self._reply({"error": f"cannot connect to {host}:{port}: {err.strerror or err}"})
                continue
            try:
                upstream.settimeout(None)
                self.channel.sendmsg([b'{"ok": true}'], [(
                    socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    array.array("i", [upstream.fileno()]).tobytes())])
            except OSError:
                return
            finally:
                upstream.close()

    def _reply(self, data: dict[str, object]) -> None:
        with contextlib.suppress(OSError):
            self.channel.send(json.dumps(data).encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.close()


# ------------------------------------------------------------------ sandbox side


class Forwarder:
    """Listens on each endpoint's loopback address inside the sandbox and relays."""

    def __init__(self, channel: socket.socket, endpoints: list[dict[str, object]]) -> None:
        self.channel = channel
        self.lock = threading.Lock()
        self.listeners: list[tuple[socket.socket, str, int]] = []
        for endpoint in endpoints:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((str(endpoint["address"]), int(endpoint["port"])))  # type: ignore[arg-type]
            listener.listen(64)
            self.listeners.append((listener, str(endpoint["host"]),
                                   int(endpoint["port"])))  # type: ignore[arg-type]

    def start(self) -> None:
        for listener, host, port in self.listeners:
            threading.Thread(target=self._accept, args=(listener, host, port), daemon=True,
                             name=f"wasmforge-forward-{host}:{port}").start()

    def _accept(self, listener: socket.socket, host: str, port: int) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = self._connect(host, port)
            if upstream is None:
                client.close()
                continue
            _Relay(client, upstream).start()

    def _connect(self, host: str, port: int) -> socket.socket | None:
        with self.lock:
            try:
                self.channel.send(json.dumps({"host": host, "port": port}).encode())
                fds = array.array("i")
                message, ancillary, _flags, _addr = self.channel.recvmsg(
                    4096, socket.CMSG_SPACE(fds.itemsize))
            except OSError:
                return None
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            return None
        return socket.socket(fileno=fds[0])


class _Relay:
    """Copies bytes both ways; closes both sockets when both directions have ended."""

    def __init__(self, a: socket.socket, b: socket.socket) -> None:
        self.sockets = (a, b)
        self.open = 2
        self.lock = threading.Lock()

    def start(self) -> None:
        a, b = self.sockets
        for source, sink in ((a, b), (b, a)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with self.lock:
            self.open -= 1
            done = self.open == 0
        if done:
            for sock in self.sockets:
                sock.close()
