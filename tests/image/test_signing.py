"""Signing the cosign way and verifying against keys, the trust store and the policy."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wasmforge.errors import ImageError
from wasmforge.image import keys, trust
from wasmforge.image.provenance import pae
from wasmforge.image.reader import load_image, open_image
from wasmforge.image.signing import sign_image
from wasmforge.image.verify import verify_image

Build = Callable[..., tuple[Path, str]]


def test_signature_is_stored_the_cosign_way(signed_image: tuple[Path, str], keypair) -> None:
    path, digest = signed_image
    parsed = open_image(path)
    index_refs = [(m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                  for m in parsed.layout.manifests]
    assert f"sha256-{digest[7:]}.sig" in index_refs
    sig_manifest = parsed.signatures
    assert sig_manifest is not None and len(sig_manifest["layers"]) == 1
    layer = sig_manifest["layers"][0]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    payload = parsed.layout.blobs[layer["digest"]]
    doc = json.loads(payload)
    assert doc["critical"]["image"]["docker-manifest-digest"] == digest
    assert doc["critical"]["type"] == "cosign container image signature"
    # exactly what `cosign verify --key` does: ECDSA-SHA256 over the payload blob
    public = serialization.load_pem_public_key(keypair.public.read_bytes())
    signature = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]


def test_provenance_is_signed_with_the_same_key(signed_image: tuple[Path, str], keypair) -> None:
    path, _digest = signed_image
    parsed = open_image(path)
    assert parsed.attestations is not None
    envelope = json.loads(parsed.layout.blobs[parsed.attestations["layers"][0]["digest"]])
    [entry] = envelope["signatures"]
    assert entry["keyid"] == keypair.fingerprint
    public = serialization.load_pem_public_key(keypair.public.read_bytes())
    public.verify(base64.b64decode(entry["sig"]),  # type: ignore[union-attr]
                  pae(envelope["payloadType"], base64.b64decode(envelope["payload"])),
                  ec.ECDSA(hashes.SHA256()))


def test_verify_with_the_key_and_with_the_trust_store(signed_image: tuple[Path, str],
                                                      keypair) -> None:
    path, digest = signed_image
    report = verify_image(path, [keypair.public])
    assert report.digest == digest and report.signers == (keypair.fingerprint,)
    assert report.provenance_signers == (keypair.fingerprint,)
    assert "intact" in report.summary() and digest in report.summary()
    assert verify_image(path, []).signers == (keypair.fingerprint,)


def test_signing_does_not_change_the_digest_and_is_reproducible(
        build_image: Build, keypair) -> None:
    path_a, digest = build_image("a.oci.tar")
    path_b, _ = build_image("b.oci.tar")
    assert sign_image(path_a, keypair.private) == digest
    sign_image(path_b, keypair.private)
    assert path_a.read_bytes() == path_b.read_bytes()  # deterministic ECDSA (RFC 6979)
    sign_image(path_a, keypair.private)  # same key again replaces its signature
    assert path_a.read_bytes() == path_b.read_bytes()
    assert len(open_image(path_a).signatures["layers"]) == 1  # type: ignore[index]


def test_a_second_key_adds_a_signature(signed_image: tuple[Path, str], keypair,
                                       tmp_path: Path) -> None:
    path, _ = signed_image
    other = keys.generate_keypair(tmp_path / "other", None)
    sign_image(path, other.private)
    assert len(open_image(path).signatures["layers"]) == 2  # type: ignore[index]
    assert verify_image(path, [keypair.public]).signers == (keypair.fingerprint,)
    assert verify_image(path, [other.public]).signers == (other.fingerprint,)


def test_unsigned_image_is_refused(build_image: Build, keypair) -> None:
    path, _ = build_image()
    with pytest.raises(ImageError, match="not signed"):
        verify_image(path, [keypair.public])
    with pytest.raises(ImageError, match="not signed"):
        load_image(path)
    loaded = load_image(path, allow_unsigned=True)
    assert loaded.signers == () and loaded.name == "hello"


def test_signature_by_another_key_is_refused(build_image: Build, tmp_path: Path) -> None:
    path, _ = build_image()
    mallory = keys.generate_keypair(tmp_path / "mallory", None)
    sign_image(path, mallory.private)
    for item in trust.keys_dir().iterdir():  # the machine trusts only alice
        item.unlink()
    alice = keys.generate_keypair(tmp_path / "alice", None)
    with pytest.raises(ImageError, match="made by no key trusted by the keys given"):
        verify_image(path, [alice.public])
    with pytest.raises(ImageError, match="made by no key trusted by the trust store"):
        load_image(path)


def test_no_trusted_keys_at_all_is_explained(build_image: Build, tmp_path: Path) -> None:
    path, _ = build_image()
    pair = keys.generate_keypair(tmp_path / "k", None)
    sign_image(path, pair.private)
    for item in trust.keys_dir().iterdir():
        item.unlink()
    with pytest.raises(ImageError, match="no key is trusted"):
        verify_image(path, [])


def test_policy_restricts_which_keys_count(signed_image: tuple[Path, str], keypair,
                                          tmp_path: Path) -> None:
    path, _ = signed_image
    ops = keys.generate_keypair(tmp_path / "ops", None)
    trust.add_rule("hel*", [ops.fingerprint])
    with pytest.raises(ImageError, match="policy rule for 'hel\\*'"):
        verify_image(path, [])
    trust.add_rule("*", [keypair.fingerprint])  # later rules never override the first match
    with pytest.raises(ImageError, match="policy rule for 'hel\\*'"):
        load_image(path)


def test_encrypted_key_signs_with_its_passphrase(build_image: Build, tmp_path: Path) -> None:
    path, _ = build_image()
    pair = keys.generate_keypair(tmp_path / "locked", "s3cret")
    before = path.read_bytes()
    with pytest.raises(ImageError, match="encrypted"):
        sign_image(path, pair.private)
    assert path.read_bytes() == before
    sign_image(path, pair.private, "s3cret")
    assert verify_image(path, [pair.public]).signers == (pair.fingerprint,)


def test_signing_a_missing_image_or_with_a_missing_key(build_image: Build,
                                                       tmp_path: Path) -> None:
    path, _ = build_image()
    with pytest.raises(ImageError, match="cannot read signing key"):
        sign_image(path, tmp_path / "nope.key")
    pair = keys.generate_keypair(tmp_path / "k", None)
    with pytest.raises(ImageError, match="does not exist"):
        sign_image(tmp_path / "missing.oci.tar", pair.private)
    assert not (tmp_path / "missing.oci.tar").exists()


def test_a_signature_replayed_from_another_image_is_refused(build_image: Build,
                                                            keypair) -> None:
    from wasmforge.image.layout import sig_tag, write_layout

    path_a, _ = build_image("a.oci.tar", env=("A",))
    path_b, digest_b = build_image("b.oci.tar", env=("B",))
    sign_image(path_a, keypair.private)
    a = open_image(path_a)
    b = open_image(path_b)
    assert a.signatures is not None
    sig_entry = a.layout.manifest_named(sig_tag(a.digest))
    assert sig_entry is not None
    sig_bytes = a.layout.blobs[sig_entry["digest"]]
    for desc in [a.signatures["config"], *a.signatures["layers"]]:
        b.layout.blobs[desc["digest"]] = a.layout.blobs[desc["digest"]]
    b.layout.add_manifest_bytes(sig_bytes, sig_tag(digest_b))  # A's signature, B's tag
    write_layout(path_b, b.layout)
    with pytest.raises(ImageError, match="name another image's digest"):
        verify_image(path_b, [keypair.public])
    with pytest.raises(ImageError, match="name another image's digest"):
        load_image(path_b)


def test_a_tampered_and_consistently_readdressed_image_fails_the_signature_check(
        signed_image: tuple[Path, str], keypair) -> None:
    """The attacker changes the component and then fixes every digest, the index, and the
    signature payload's `docker-manifest-digest`, so that only the ECDSA signature itself
    (which needs the private key) can tell: the refusal must come from that check."""
    from wasmforge.image.layout import (
        WASM_LAYER_MEDIA_TYPE,
        OciLayout,
        canonical_json,
        descriptor,
        sig_tag,
        write_layout,
    )

    path, digest = signed_image
    parsed = open_image(path)
    blobs = parsed.layout.blobs
    layout = OciLayout()
    manifest = json.loads(json.dumps(parsed.manifest))
    for number, layer in enumerate(manifest["layers"]):
        data = blobs[layer["digest"]]
        if layer["mediaType"] == WASM_LAYER_MEDIA_TYPE:
            data = data.replace(b"wasi:cli", b"wasi:cLi", 1)  # the guest, changed
        manifest["layers"][number] = {**layer, **descriptor(layer["mediaType"], data)}
        layout.add_blob(data)
    layout.add_blob(blobs[manifest["config"]["digest"]])
    [entry] = [m for m in parsed.layout.manifests if m["digest"] == digest]
    new_digest = layout.add_manifest(manifest, entry["annotations"]
                                     ["org.opencontainers.image.ref.name"])
    signatures = json.loads(json.dumps(parsed.signatures))
    [sig_layer] = signatures["layers"]
    payload = json.loads(blobs[sig_layer["digest"]])
    payload["critical"]["image"]["docker-manifest-digest"] = new_digest
    payload_bytes = canonical_json(payload)
    signatures["layers"] = [{**sig_layer, **descriptor(sig_layer["mediaType"], payload_bytes)}]
    layout.add_blob(payload_bytes)
    layout.add_blob(blobs[signatures["config"]["digest"]])
    layout.add_manifest(signatures, sig_tag(new_digest))  # the old signature, re-addressed
    write_layout(path, layout)

    assert open_image(path).digest == new_digest  # every digest and size is consistent
    sentence = "the image's signature was made by no key trusted by the keys given"
    with pytest.raises(ImageError, match=sentence):
        verify_image(path, [keypair.public])
    with pytest.raises(ImageError, match="the image's signature was made by no key trusted "
                                         "by the trust store"):
        load_image(path)
