"""The outbound allow-list: planning, the host-side connector, and a real fetch through the
process tier's sandbox (a componentize-js guest calling fetch() over wasi:http)."""

from __future__ import annotations

import array
import http.server
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import JCO, MakeImage, require_tier

from wasmforge.project import Capabilities
from wasmforge.runtime.network import Connector, hosts_file, plan
from wasmforge.runtime.run import RunRequest, run_image

COMPONENTIZE_JS = next(
    (path for path in (JCO.parent / "componentize-js" / "src" / "componentize.js",
                       Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/componentize-js/"
                            "src/componentize.js")) if path.is_file()),
    JCO.parent / "componentize-js" / "src" / "componentize.js")
WIT_VERSION = "0.2.12"
FETCH_WORLD = f"""package wasmforge-test:fetch;
world command {{
  include wasi:cli/imports@{WIT_VERSION};
  import wasi:http/outgoing-handler@{WIT_VERSION};
  export wasi:cli/run@{WIT_VERSION};
}}
"""


def test_plan_maps_names_to_loopback_and_skips_what_it_cannot_forward() -> None:
    endpoints, skipped = plan(("https://api.example.com:443", "http://api.example.com:80",
                               "tcp://db.internal:5432", "udp://dns.example:53",
                               "http://10.0.0.1:80", "https://*.example.com:443"))
    assert [(e.host, e.port, e.address) for e in endpoints] == [
        ("api.example.com", 443, "127.0.1.1"), ("api.example.com", 80, "127.0.1.1"),
        ("db.internal", 5432, "127.0.1.2")]
    assert skipped == ("udp://dns.example:53", "http://10.0.0.1:80",
                       "https://*.example.com:443")
    hosts = hosts_file(endpoints).decode()
    assert "127.0.1.1 api.example.com" in hosts and "127.0.1.2 db.internal" in hosts


@pytest.fixture
def server() -> Iterator[int]:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"hello from the host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _ask(channel: socket.socket, host: str, port: int) -> tuple[dict, list[int]]:
    channel.send(json.dumps({"host": host, "port": port}).encode())
    fds = array.array("i")
    message, ancillary, _f, _a = channel.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for _level, _kind, data in ancillary:
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return json.loads(message), list(fds)


def test_connector_connects_only_to_the_allow_list(server: int) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    endpoints, _ = plan((f"http://localhost:{server}",))
    connector = Connector(ours, endpoints)
    try:
        reply, fds = _ask(theirs, "localhost", server + 1 if server < 65535 else 1)
        assert "not in the allow-list" in reply["error"] and fds == []
        reply, fds = _ask(theirs, "127.0.0.1", server)
        assert "not in the allow-list" in reply["error"] and fds == []
        reply, fds = _ask(theirs, "localhost", server)
        assert reply == {"ok": True} and len(fds) == 1
        with socket.socket(fileno=fds[0]) as upstream:
            upstream.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            assert b"hello from the host" in upstream.makefile("rb").read()
    finally:
        theirs.close()
        connector.close()


@pytest.fixture(scope="module")
def fetch_guest(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    node = shutil.which("node")
    if node is None or not COMPONENTIZE_JS.is_file():
        pytest.skip("node and @bytecodealliance/componentize-js are needed to build the "
                    f"fetch guest (looked for {COMPONENTIZE_JS})")
    work = tmp_path_factory.mktemp("fetch-guest")
    builtin = JCO / "lib" / "wit" / "builtin" / WIT_VERSION
    (work / "wit" / "deps").mkdir(parents=True)
    for package in builtin.iterdir():
        if package.is_dir():
            shutil.copy(package / "package.wit", work / "wit" / "deps" / f"{package.name}.wit")
    (work / "wit" / "world.wit").write_text(FETCH_WORLD)
    shutil.copy(Path(__file__).with_name("fetch_guest.js"), work / "app.js")
    (work / "build.mjs").write_text(
        f"import {{ componentize }} from {json.dumps(str(COMPONENTIZE_JS))};\n"
        "import { writeFile } from 'node:fs/promises';\n"
        "const { component } = await componentize({ sourcePath: 'app.js', witPath: 'wit', "
        "worldName: 'command' });\n"
        "await writeFile('fetch.wasm', component);\n")
    subprocess.run([node, "build.mjs"], cwd=work, check=True, capture_output=True, timeout=600)
    return (work / "fetch.wasm").read_bytes()


@pytest.mark.slow
def test_fetch_reaches_only_allowed_endpoints(make_image: MakeImage, fetch_guest: bytes,
                                              server: int,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    from wasmforge.toolchain.precompile import precompile_layer

    require_tier("process")
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        unlisted = spare.getsockname()[1]
    image = make_image(fetch_guest, Capabilities(network=(f"http://localhost:{server}",)),
                       layers=(precompile_layer(fetch_guest),), name="fetch")

    def fetch(url: str, tier: str, expect: int = 0) -> str:
        notices: list[str] = []
        code = run_image(RunRequest(image=str(image), args=(url,), isolation=tier),
                         notices.append)
        assert code == expect, notices
        return capfd.readouterr().out + "\n".join(notices)

    allowed = f"http://localhost:{server}/"
    assert f"fetched {allowed}: 200 hello from the host" in fetch(allowed, "process")
    for url in (f"http://127.0.0.1:{server}/", f"http://localhost:{unlisted}/",
                "http://example.com/"):
        assert f"fetch {url} failed" in fetch(url, "process")
    # the wasm tier cannot confine the network, so even the allowed endpoint is denied
    said = fetch(allowed, "wasm", expect=1)
    assert "stays denied" in said and "hello from the host" not in said
