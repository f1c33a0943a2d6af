"""Signing images the cosign way.

The signature covers cosign's simple-signing payload, which names the image manifest
digest; it is stored as a layer of the `sha256-<hex>.sig` artifact manifest with the
base64 signature in the `dev.cosignproject.cosign/signature` annotation. After `wasmforge
push`, `cosign verify --key PREFIX.pub --insecure-ignore-tlog=true REF` accepts it (there
is no Rekor transparency-log entry, hence the flag; tests/image/test_cosign_interop.py
checks this with the real cosign, both ways). The same key also signs the DSSE envelope of
the provenance attestation. Signing again with the same key replaces that
key's signature; another key adds a second one.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.image import keys as keyring
from wasmforge.image import provenance
from wasmforge.image.layout import (
    COSIGN_SIGNATURE,
    SIGNER,
    SIMPLE_SIGNING_MEDIA_TYPE,
    artifact_manifest,
    att_tag,
    canonical_json,
    sig_tag,
    write_layout,
)
from wasmforge.image.reader import ParsedImage, open_image

SIMPLE_SIGNING_TYPE = "cosign container image signature"


def simple_signing_payload(digest: str, reference: str) -> bytes:
    return canonical_json({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": None,
    })


@dataclass(frozen=True)
class Signature:
    """One layer of the .sig artifact."""

    signature: bytes | None  # None when the annotation is missing or not base64
    payload: bytes
    claimed_signer: str  # the signer annotation (informational; never trusted)
    covers_image: bool  # the payload names this image's digest


def signatures_of(parsed: ParsedImage) -> list[Signature]:
    if parsed.signatures is None:
        return []
    found = []
    for layer in parsed.signatures["layers"]:
        annotations = layer.get("annotations") or {}
        payload = parsed.layout.blobs[layer["digest"]]
        try:
            signature: bytes | None = base64.b64decode(
                annotations.get(COSIGN_SIGNATURE, ""), validate=True) or None
        except (ValueError, TypeError):
            signature = None
        found.append(Signature(signature=signature, payload=payload,
                               claimed_signer=str(annotations.get(SIGNER, "")),
                               covers_image=_covers(payload, parsed.digest)))
    return found


def _covers(payload: bytes, digest: str) -> bool:
    try:
        doc: Any = json.loads(payload)
        critical = doc["critical"]
        return (critical["image"]["docker-manifest-digest"] == digest
                and critical["type"] == SIMPLE_SIGNING_TYPE)
    except (ValueError, KeyError, TypeError):
        return False


def sign_image(image: Path, key: Path, passphrase: str | None = None,
               reference: str | None = None) -> str:
    """Sign `image` in place (atomically) with the private key at `key`; returns its digest.

    `reference` is the repository the signature names as its docker-reference, as cosign
    writes it (`registry.example.com/team/hello`); by default the image's own name, since a
    build does not know where it will be pushed (`wasmforge push --sign-key` signs for the
    destination)."""
    private = keyring.load_private_key(key, passphrase)
    parsed = open_image(image)
    layout = parsed.layout
    fingerprint = keyring.fingerprint(private.public_key())
    payload = simple_signing_payload(parsed.digest, reference or parsed.name or "wasmforge")
    signature = base64.b64encode(keyring.sign(private, payload)).decode()

    layers: list[tuple[str, bytes, dict[str, str]]] = []
    if parsed.signatures is not None:
        for layer in parsed.signatures["layers"]:
            annotations = dict(layer.get("annotations") or {})
            if annotations.get(SIGNER) != fingerprint:
                layers.append((layer["mediaType"], layout.blobs[layer["digest"]], annotations))
    layers.append((SIMPLE_SIGNING_MEDIA_TYPE, payload,
                   {COSIGN_SIGNATURE: signature, SIGNER: fingerprint}))
    layout.add_manifest(artifact_manifest(layout, layers), sig_tag(parsed.digest))

    if parsed.attestations is not None:
        signed = []
        for layer in parsed.attestations["layers"]:
            envelope = provenance.sign_envelope(layout.blobs[layer["digest"]], private)
            signed.append((layer["mediaType"], envelope, dict(layer.get("annotations") or {})))
        layout.add_manifest(artifact_manifest(layout, signed), att_tag(parsed.digest))
    write_layout(Path(image), layout)
    return parsed.digest
