"""The outbound allow-list's parts: planning and the host-side connector. What users meet,
images from `wasmforge build` run in each tier, is tested in test_network_built.py."""

from __future__ import annotations

import array
import json
import socket
from collections.abc import Iterator

import pytest
from conftest import HERE, JCO, NET_WIT_VERSION, NET_WORLD, MakeImage, _compile, require_tier
from loopback_http import LoopbackHttp

from wasmforge.project import Capabilities
from wasmforge.runtime.network import Connector, hosts_file, plan
from wasmforge.runtime.run import RunRequest, run_image

OLDER_WASI = "0.2.10"  # what componentize-js 0.23.0 imports wasi:http at


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
    httpd = LoopbackHttp(b"hello from the host")
    try:
        yield httpd.port
    finally:
        httpd.close()


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
def older_net_guest(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """net_guest.c against WASI 0.2.10, older than the 0.2.12 that wasmtime-py 50 defines
    (jco ships wasi:http only at 0.2.12: its WIT, relabelled 0.2.10, the same interfaces)."""
    builtin = JCO / "lib" / "wit" / "builtin" / NET_WIT_VERSION
    if not (builtin / "wasi-http").is_dir():
        pytest.fail(f"jco at {JCO} ships no WASI {NET_WIT_VERSION} WIT (reinstall jco 1.35.0)")
    work = tmp_path_factory.mktemp("older-net-guest")
    (work / "wit" / "deps").mkdir(parents=True)
    for package in builtin.iterdir():
        if package.is_dir():
            text = (package / "package.wit").read_text().replace(NET_WIT_VERSION, OLDER_WASI)
            (work / "wit" / "deps" / f"{package.name}.wit").write_text(text)
    (work / "wit" / "world.wit").write_text(NET_WORLD.replace(NET_WIT_VERSION, OLDER_WASI))
    source = (HERE / "net_guest.c").read_text().replace("@VERSION", f"@{OLDER_WASI}")
    return _compile(work, "net", source, (work / "wit", "net"))


@pytest.mark.parametrize("tier", ["process", "wasm"])
def test_wasi_http_matched_by_semver_is_linked_where_the_network_is_granted(
        make_image: MakeImage, older_net_guest: bytes, tier: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    # define_unknown_imports_as_traps used to shadow the semver-matched wasi:http@0.2.10
    require_tier(tier)
    image = make_image(older_net_guest, Capabilities(network=("http://localhost:8080",)))
    notices: list[str] = []
    code = run_image(RunRequest(image=str(image), args=("http",), isolation=tier),
                     notices.append)
    out = capfd.readouterr().out
    if tier == "process":
        assert code == 0 and "fetched (headers " in out, notices
    else:
        assert code == 1 and "fetched" not in out.replace("fetching", "")
        assert any(f"the guest called wasi:http/types@{OLDER_WASI} ([constructor]fields), "
                   "which this run does not grant; [capabilities] network reaches a guest only "
                   "in the process tier" in notice for notice in notices), notices

