"""inspect: everything an operator needs to decide whether to run an image."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from wasmforge.image import keys, trust
from wasmforge.image.inspect import describe, render
from wasmforge.image.signing import sign_image

Build = Callable[..., tuple[Path, str]]


def test_describe_reports_identity_wit_capabilities_layers_and_signers(
        signed_image: tuple[Path, str], keypair) -> None:
    path, digest = signed_image
    info = describe(path)
    json.dumps(info)  # JSON-able
    assert (info["name"], info["version"], info["digest"]) == ("hello", "0.1.0", digest)
    assert (info["language"], info["world"], info["target"]) == ("c", "command", "wasm32-wasip2")
    assert any(i.startswith("wasi:cli/stdout@") for i in info["imports"])
    assert any(e.startswith("wasi:cli/run@") for e in info["exports"])
    caps = info["capabilities"]
    assert caps["env"] == ["GREETING"] and caps["mounts"] == [{"guest": "/data", "mode": "ro"}]
    assert caps["network"] == ["https://api.example.com:443"] and caps["tools"] == ["add"]
    assert caps["limits"] == {"memory": "32MiB", "timeout": "2500ms", "fuel": None}
    assert [layer["mediaType"] for layer in info["layers"]] == [
        "application/wasm", "application/vnd.wasmforge.capabilities.v1+json",
        "application/vnd.wasmforge.precompiled.wasmtime.v1"]
    assert info["layers"][0]["size"] > 1000 and info["layers"][0]["title"] == "hello.wasm"
    assert info["hyperlight"] == ""  # built without --hyperlight
    assert info["signatures"] == [{"signer": keypair.fingerprint, "verified": True,
                                   "covers_image": True}]
    assert info["provenance"]["signed_by"] == [keypair.fingerprint]
    assert info["provenance"]["toolchains"]["zig"] == "0.17.0"


def test_untrusted_and_missing_signatures_are_shown_as_such(
        build_image: Build, tmp_path: Path) -> None:
    path, _ = build_image()
    assert describe(path)["signatures"] == []
    stranger = keys.generate_keypair(tmp_path / "stranger", None)
    sign_image(path, stranger.private)
    for item in trust.keys_dir().iterdir():
        item.unlink()
    [sig] = describe(path)["signatures"]
    assert sig["verified"] is False and sig["signer"] == stranger.fingerprint


def test_render_prints_the_essentials(signed_image: tuple[Path, str]) -> None:
    path, digest = signed_image
    console = Console(record=True, width=200)
    for renderable in render(describe(path)):
        console.print(renderable)
    text = console.export_text()
    for expected in ("hello", "0.1.0", digest, "wasi:cli/run@", "GREETING", "/data (ro)",
                     "application/wasm", "capabilities", "signatures", "yes",
                     "https://slsa.dev/provenance/v1"):
        assert expected in text, expected
