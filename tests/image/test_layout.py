"""write_image: the CNCF wasm artifact layout, determinism, atomic writes."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from image_helpers import PROVENANCE, make_project

from wasmforge.errors import ImageError
from wasmforge.image import layout
from wasmforge.image.model import CAPABILITIES_MEDIA_TYPE, PRECOMPILED_MEDIA_TYPE, Layer
from wasmforge.image.reader import open_image

Build = Callable[..., tuple[Path, str]]


def test_image_follows_the_wasm_artifact_layout(build_image: Build, component: bytes) -> None:
    path, digest = build_image()
    parsed = open_image(path)
    assert parsed.digest == digest
    manifest = parsed.manifest
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    types = [layer["mediaType"] for layer in manifest["layers"]]
    assert types == ["application/wasm", CAPABILITIES_MEDIA_TYPE, PRECOMPILED_MEDIA_TYPE]
    assert parsed.layout.blobs[manifest["layers"][0]["digest"]] == component
    config = parsed.config
    assert config["architecture"] == "wasm" and config["os"] == "wasip2"
    assert config["layerDigests"] == [layer["digest"] for layer in manifest["layers"]]
    assert config["component"]["target"] == "wasm32-wasip2"
    assert any(e.startswith("wasi:cli/run@") for e in config["component"]["exports"])
    assert any(i.startswith("wasi:cli/stdout@") for i in config["component"]["imports"])
    assert config["created"] == "2023-11-14T22:13:20Z"  # SOURCE_DATE_EPOCH=1700000000
    notes = manifest["annotations"]
    assert notes["org.opencontainers.image.title"] == "hello"
    assert notes["org.opencontainers.image.version"] == "0.1.0"
    assert notes["dev.wasmforge.language"] == "c" and notes["dev.wasmforge.world"] == "command"
    assert manifest["layers"][2]["annotations"] == {"dev.wasmforge.engine": "wasmtime 50.0.1"}


def test_layout_files_and_index(build_image: Build) -> None:
    path, digest = build_image()
    with tarfile.open(path) as tar:
        names = tar.getnames()
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        marker = json.load(tar.extractfile("oci-layout"))  # type: ignore[arg-type]
        infos = tar.getmembers()
    assert marker == {"imageLayoutVersion": "1.0.0"}
    assert names == sorted(names)
    assert {(m.uid, m.gid, m.mtime) for m in infos} == {(0, 0, 1700000000)}
    refs = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert refs == ["0.1.0", digest.replace(":", "-") + ".att"]
    assert index["manifests"][0]["digest"] == digest


def test_two_writes_give_one_digest_and_identical_bytes(build_image: Build) -> None:
    first, digest_a = build_image("a.oci.tar")
    second, digest_b = build_image("b.oci.tar")
    assert digest_a == digest_b
    assert first.read_bytes() == second.read_bytes()


def test_inputs_change_the_digest(build_image: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    _path, base = build_image("a.oci.tar")
    _path, other_caps = build_image("b.oci.tar", env=("OTHER",))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    _path, later = build_image("c.oci.tar")
    assert len({base, other_caps, later}) == 3


def test_provenance_rides_as_a_cosign_attestation(build_image: Build) -> None:
    from wasmforge.image.provenance import decode_statement

    path, digest = build_image()
    parsed = open_image(path)
    assert parsed.attestations is not None and parsed.signatures is None
    layer = parsed.attestations["layers"][0]
    assert layer["mediaType"] == "application/vnd.dsse.envelope.v1+json"
    assert layer["annotations"]["predicateType"] == "https://slsa.dev/provenance/v1"
    envelope = json.loads(parsed.layout.blobs[layer["digest"]])
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert envelope["signatures"] == []
    statement = decode_statement(parsed.layout.blobs[layer["digest"]])
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0] == {"name": "hello", "digest": {"sha256": digest[7:]}}
    definition = statement["predicate"]["buildDefinition"]
    assert definition["internalParameters"]["toolchains"] == PROVENANCE.toolchains
    assert {d["uri"] for d in definition["resolvedDependencies"]} == {
        "file:main.c", "file:wasmforge.toml"}
    assert statement["predicate"]["runDetails"]["builder"]["version"] == {"wasmforge": "0.1.0"}


def test_unknown_extra_layer_type_is_refused_and_nothing_written(
        component: bytes, wit, tmp_path: Path) -> None:
    out = tmp_path / "x.oci.tar"
    with pytest.raises(ImageError, match="media type"):
        layout.write_image(out, project=make_project(tmp_path), component=component, wit=wit,
                           extra_layers=[Layer("application/x-mystery", b"?")],
                           provenance=PROVENANCE)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing_and_keeps_the_old_image(
        build_image: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _digest = build_image()
    before = path.read_bytes()

    def broken_fsync(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ImageError, match="No space left on device"):
        build_image(env=("CHANGED",))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_bad_source_date_epoch_is_one_sentence(build_image: Build,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ImageError, match="SOURCE_DATE_EPOCH"):
        build_image()
