"""`wasmforge serve`'s checks before anything is started, and `new --world http`'s
templates: no toolchain, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmforge.errors import CapabilityError, ImageError, WasmforgeError
from wasmforge.image.model import LoadedImage, WitSummary
from wasmforge.project import Capabilities, Limits, Mount
from wasmforge.runtime.serve.plan import (
    ServeRequest,
    check_http_world,
    parse_listen,
    plan_json,
    served,
)
from wasmforge.templates import scaffold

HANDLER = WitSummary(imports=("wasi:http/types@0.2.12",),
                     exports=("wasi:http/incoming-handler@0.2.12",))
COMMAND = WitSummary(imports=(), exports=("wasi:cli/run@0.2.12",))


def _image(wit: WitSummary, caps: Capabilities | None = None) -> LoadedImage:
    return LoadedImage(name="svc", version="0.1.0", language="javascript", digest="sha256:0",
                       component=b"", capabilities=caps or Capabilities(), wit=wit, layers=(),
                       signers=("me",))


def test_a_command_world_image_is_not_served() -> None:
    with pytest.raises(ImageError, match="not an HTTP handler"):
        check_http_world(_image(COMMAND))
    check_http_world(_image(HANDLER))


@pytest.mark.parametrize("text", ["8080", "localhost:8080", "127.0.0.1:99999", "[::1]"])
def test_listen_must_be_an_ip_and_port(text: str) -> None:
    with pytest.raises(CapabilityError, match="--listen"):
        parse_listen(text)


def test_listen_defaults_and_ipv6() -> None:
    assert parse_listen(ServeRequest(image="x").listen) == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)


def test_the_plan_holds_only_what_is_granted(tmp_path: Path) -> None:
    caps = Capabilities(env=("GREETING",), mounts=(Mount("/data", "ro"),),
                        network=("http://localhost:9",),
                        limits=Limits(memory_bytes=32 << 20, timeout_s=2.5))
    request = ServeRequest(image="x", env=("GREETING=hi",), mounts=(f"{tmp_path}:/data",),
                           timeout_s=1.0, max_concurrency=3)
    plan = served(_image(HANDLER, caps), request)
    text = plan_json(plan, component="/c.wasm", compiled="/c.cwasm", listen_fd=5,
                     preopens=[(str(tmp_path), "/data", True)]).decode()
    assert '"env": [["GREETING", "hi"]]' in text
    assert '"read_only": true' in text and '"timeout_ms": 1000' in text
    assert '"memory_bytes": 33554432' in text and '"max_concurrency": 3' in text
    assert '"network": ["http://localhost:9"]' in text


def test_operator_flags_cannot_widen_the_manifest(tmp_path: Path) -> None:
    caps = Capabilities(env=("GREETING",), mounts=(Mount("/data", "ro"),))
    for request in (ServeRequest(image="x", env=("SECRET=1",)),
                    ServeRequest(image="x", mounts=(f"{tmp_path}:/data:rw",)),
                    ServeRequest(image="x", timeout_s=99.0)):
        with pytest.raises(CapabilityError):
            served(_image(HANDLER, caps), request)


@pytest.mark.parametrize("language,entry", [("javascript", "main.js"), ("python", "app.py"),
                                            ("go", "main.go"), ("c", "main.c"),
                                            ("rust", "src/lib.rs")])
def test_new_http_scaffolds_a_handler(tmp_path: Path, language: str, entry: str) -> None:
    files = scaffold("svc", language, tmp_path / "svc", "http")
    assert Path(entry) in files
    assert 'world = "http"' in (tmp_path / "svc" / "wasmforge.toml").read_text()
    assert not any(part == "http" for path in files for part in path.parts)


def test_the_command_world_is_unchanged_by_http_templates(tmp_path: Path) -> None:
    files = scaffold("cmd", "javascript", tmp_path / "cmd")
    assert Path("main.js") in files and not (tmp_path / "cmd" / "http").exists()
    assert 'world = "command"' in (tmp_path / "cmd" / "wasmforge.toml").read_text()


def test_a_language_without_an_http_template_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WasmforgeError, match="no http template for csharp"):
        scaffold("svc", "csharp", tmp_path / "svc", "http")
    assert not (tmp_path / "svc").exists()
