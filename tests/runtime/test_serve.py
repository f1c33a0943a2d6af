"""`wasmforge serve` end to end, per language and tier: the real CLI scaffolds, builds and
signs a handler, serves it on loopback, and a real HTTP client talks to it.

Builds are shared per session (one per language); servers per module. Loads are bounded
and stay on 127.0.0.1."""

from __future__ import annotations

import hashlib
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.runtime.conftest import Keys, MakeImage, require_tier
from tests.runtime.serve_support import (
    LANGUAGE_NAMES,
    LARGE_BODY,
    TEST_HANDLERS,
    Server,
    Upstream,
    build_handler,
    cli,
    load,
    start_server,
    wait_gone,
)

# The languages whose test handler (serve_support.TEST_HANDLERS) runs every case below.
LANGUAGES = ("c", "go", "rust", "javascript", "python")
TIERS = ("wasm", "process")
BuildImage = Callable[..., Path]  # (language, scaffold=False) -> a signed image


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture(scope="session")
def http_image(keys: Keys, upstream: Upstream,
               tmp_path_factory: pytest.TempPathFactory) -> BuildImage:
    built: dict[tuple[str, bool], Path | str] = {}
    root = tmp_path_factory.mktemp("handlers")

    def build(language: str, scaffold: bool = False) -> Path:
        key = (language, scaffold)
        if key not in built:
            try:
                built[key] = build_handler(root, language, keys.trusted, upstream.port,
                                           scaffold=scaffold)
            except AssertionError as failed:  # reported once, by every test that needs it
                built[key] = str(failed)
        found = built[key]
        if isinstance(found, str):
            what = "scaffold" if scaffold else "handler"
            pytest.fail(f"building the {language} {what} failed: {found}")
        return found

    return build


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data")
    (path / "note.txt").write_text("a note for the handler\n")
    return path


@pytest.fixture(scope="module", params=[(lang, tier) for lang in LANGUAGES for tier in TIERS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def server(request: pytest.FixtureRequest, http_image: BuildImage,
           data_dir: Path) -> Iterator[Server]:
    language, tier = request.param
    why = _missing_prerequisite(language)
    if why:
        pytest.skip(why)
    require_tier(tier)
    image = http_image(language)
    running = start_server(image, "--isolation", tier, "--env", "GREETING=howdy",
                           "--mount", f"{data_dir}:/data:ro")
    running.language = language  # type: ignore[attr-defined]
    yield running
    running.stop()


def test_hello_names_the_language_and_path(server: Server) -> None:
    status, body = server.get("/some/where?x=1")
    assert status == 200
    language = LANGUAGE_NAMES[server.language]  # type: ignore[attr-defined]
    assert f"Hello from {language} at /some/where" in body


def test_each_request_gets_a_fresh_instance(server: Server) -> None:
    sequential = [server.get("/state") for _ in range(10)]
    assert sequential == [(200, "1\n")] * 10
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda _i: server.get("/state"), range(32)))
    assert concurrent == [(200, "1\n")] * 32


def test_only_granted_env_is_visible(server: Server) -> None:
    assert server.get("/env?name=GREETING") == (200, "howdy\n")
    assert server.get("/env?name=PATH") == (200, "(unset)\n")
    assert server.get("/env?name=HOME") == (200, "(unset)\n")


def test_only_the_declared_mount_is_visible(server: Server) -> None:
    if not TEST_HANDLERS[server.language].reads_files:  # type: ignore[attr-defined]
        assert server.get("/dirs") == (200, "/data\n")
        return
    assert server.get("/file?path=/data/note.txt") == (200, "a note for the handler\n")
    status, _ = server.get("/file?path=/etc/passwd")
    assert status == 404
    status, body = server.get("/write?path=/data/new.txt")
    assert status == 403, body


@pytest.mark.parametrize("server", [("javascript", tier) for tier in TIERS], indirect=True,
                         ids=lambda p: f"{p[0]}-{p[1]}")
def test_javascript_has_node_builtins_and_unicode_regexps(server: Server) -> None:
    words = ["h\u00e9llo", "w\u00f6rld", "\u03b1\u03b2\u03b3"]
    status, body = server.get("/node?text=" + quote(", ".join(words) + " 42!"))
    digest = hashlib.sha256(" ".join(words).encode()).hexdigest()
    assert (status, body) == (200, f"/srv/b/c.txt {'|'.join(words)} {digest}\n")


@pytest.mark.parametrize("server", [("go", tier) for tier in TIERS], indirect=True,
                         ids=lambda p: f"{p[0]}-{p[1]}")
def test_go_handlers_read_the_body_run_goroutines_and_survive_a_panic(
        server: Server, upstream: Upstream) -> None:
    assert server.request("POST", "/sum", b"[1, 2, 3, 40]") == (
        200, '{"count":4,"squares":1614}\n')
    status, body = server.request("POST", "/sum", b"not json")
    assert status == 400 and "want a JSON list of numbers" in body
    large = bytes(range(256)) * 4096  # 1 MiB, across many of the bridges' chunks
    assert server.request("POST", "/echo", large.hex().encode()) == (200, large.hex())
    status, body = server.get(f"/fetch?url=http://localhost:{upstream.port}/large")
    assert (status, body) == (200, f"upstream 200: {LARGE_BODY.decode()}\n")
    assert server.get("/panic") == (500, "Internal Server Error\n")
    assert server.get("/state") == (200, "1\n")


@pytest.mark.parametrize("server", [("c", tier) for tier in TIERS], indirect=True,
                         ids=lambda p: f"{p[0]}-{p[1]}")
def test_a_handler_failing_after_its_answer_is_logged(server: Server) -> None:
    logged = len(server.lines)
    assert server.get("/crash-after-answer") == (200, "Hello from C at /crash-after-answer\n")
    lines = server.logged(logged, "GET /crash-after-answer ", 1)
    assert lines and "(after answering: the handler trapped" in lines[0], lines
    assert server.get("/state") == (200, "1\n")


def test_outbound_http_follows_the_allow_list(server: Server, upstream: Upstream) -> None:
    logged = len(server.lines)
    status, body = server.get(f"/fetch?url=http://localhost:{upstream.port}/")
    assert (status, body) == (200, "upstream 200: pong from upstream\n")
    other = Upstream()
    try:
        status, body = server.get(f"/fetch?url=http://127.0.0.1:{other.port}/")
    finally:
        other.close()
    assert status == 502 and "denied" in body, body
    # Each line follows its handler's end: neither handler failed after answering.
    fetches = server.logged(logged, "GET /fetch ", 2)
    assert [line.split(" ms")[1] for line in fetches] == ["", ""], fetches


@pytest.mark.parametrize("path", ["/spin", "/alloc"])
def test_a_runaway_handler_gets_a_5xx_and_the_next_request_works(server: Server,
                                                                  path: str) -> None:
    status, _ = server.get(path, timeout=60)
    assert 500 <= status < 600
    assert server.get("/state") == (200, "1\n")


def test_two_thousand_requests_at_concurrency_8(server: Server) -> None:
    counts = load(server, "/state", 2000, 8)
    assert counts == {"200": 2000}


def test_requests_are_logged(server: Server) -> None:
    logged = len(server.lines)
    server.get("/logged-path")
    lines = server.logged(logged, "GET /logged-path ", 1)
    assert len(lines) == 1 and lines[0].startswith("GET /logged-path 200 "), lines
    assert lines[0].endswith(" ms"), lines  # and no failure after answering


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_drains_and_leaves_no_process(http_image: BuildImage, tier: str,
                                               signum: int) -> None:
    require_tier(tier)
    running = start_server(http_image(LANGUAGES[0]), "--isolation", tier, "--log-json")
    assert running.get("/state") == (200, "1\n")
    family = running.descendants()
    assert family, "the server started no host process"
    time.sleep(0.5)  # the log line follows the answer
    assert running.stop(signum) == 0, "\n".join(running.lines)
    assert wait_gone(family) == set()
    assert any('"path": "/state"' in line for line in running.lines), running.lines


def test_a_command_world_image_is_refused(make_image: MakeImage, guest: bytes) -> None:
    done = cli("serve", str(make_image(guest)), "--listen", "127.0.0.1:0")
    assert done.returncode != 0
    assert "not an HTTP handler" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unsigned_image_is_refused(http_image: BuildImage, tmp_path: Path) -> None:
    project = http_image(LANGUAGES[0]).parent.parent
    copy = tmp_path / project.name
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build"))
    built = cli("build", str(copy))  # no --sign-key: the build cache answers, unsigned
    assert built.returncode == 0, built.stderr
    done = cli("serve", str(copy / "build" / f"{project.name}.oci.tar"), "--listen",
               "127.0.0.1:0")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--insecure-allow-unsigned" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_hypervisor_tier_is_refused_with_the_reason(http_image: BuildImage) -> None:
    done = cli("serve", str(http_image(LANGUAGES[0])), "--isolation", "hypervisor")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "hyperlight:sandbox/executor" in done.stderr


def test_a_javascript_handler_importing_node_net_fails_at_its_line(tmp_path: Path) -> None:
    project = tmp_path / "netsvc"
    assert cli("new", "netsvc", "--lang", "javascript", "--world", "http", "--dir",
               str(project)).returncode == 0
    (project / "lib").mkdir()
    (project / "lib" / "sockets.js").write_text(
        '// raw sockets\nexport const hello = "hi";\nimport net from "node:net";\n'
        "export const server = net.createServer();\n")
    (project / "main.js").write_text(
        'import { hello } from "./lib/sockets.js";\n'
        'addEventListener("fetch", (e) => e.respondWith(new Response(hello)));\n')
    done = cli("build", str(project))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "lib/sockets.js:3" in done.stderr and '"node:net"' in done.stderr, done.stderr
    assert not (project / "build" / "netsvc.oci.tar").exists()


def test_undeclared_env_is_refused_before_serving(http_image: BuildImage) -> None:
    done = cli("serve", str(http_image(LANGUAGES[0])), "--env", "SECRET=1")
    assert done.returncode != 0 and "not declared" in done.stderr



# ------------------------------------------------------------------ the scaffolds' own hellos

HELLO_LANGUAGES = ("c", "rust", "go")


def _missing_prerequisite(language: str) -> str:
    """Why this host cannot build `language`'s HTTP hello, or "" when it can."""

    if language in ("c", "go"):  # C's bindings and Go's bridges
        from wasmforge.languages.http.c import wit_bindgen_path

        if not wit_bindgen_path().is_file():
            return "wit-bindgen is not built (wasmforge toolchain install serve)"
    if language == "rust":
        import wasmforge.languages.rust as rust

        if not all(hasattr(rust, name) for name in ("_find_toolchain", "_cargo_env",
                                                     "_target_dir")):
            return "this wasmforge's Rust driver predates current Rust"
    return ""


@pytest.fixture(scope="module", params=[(lang, tier) for lang in HELLO_LANGUAGES
                                        for tier in TIERS], ids=lambda p: f"{p[0]}-{p[1]}")
def hello_server(request: pytest.FixtureRequest, http_image: BuildImage) -> Iterator[Server]:
    language, tier = request.param
    why = _missing_prerequisite(language)
    if why:
        pytest.skip(why)
    require_tier(tier)
    running = start_server(http_image(language, scaffold=True), "--isolation", tier)
    running.language = language  # type: ignore[attr-defined]
    yield running
    running.stop()


def test_hello_of_each_language_is_fresh_per_request(hello_server: Server) -> None:
    language = LANGUAGE_NAMES[hello_server.language]  # type: ignore[attr-defined]
    for path in ("/", "/a/b"):
        assert hello_server.get(path) == (
            200, f"Hello from {language} at {path} (request 1 of this instance)\n")
    assert load(hello_server, "/x", 2000, 8) == {"200": 2000}
