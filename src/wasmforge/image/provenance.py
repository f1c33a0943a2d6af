"""Build provenance: an in-toto Statement (SLSA provenance v1) in a DSSE envelope.

write_image stores it unsigned in the image's cosign attestation artifact
(`sha256-<hex>.att`); sign_image adds a DSSE signature with the image's signing key, so
`cosign verify-attestation --key PREFIX.pub --type slsaprovenance1 --insecure-ignore-tlog=true
REF` can check it after a push (tests/image/test_cosign_interop.py runs the real cosign).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from wasmforge.errors import ImageError
from wasmforge.image import keys as keyring
from wasmforge.image.layout import (
    COSIGN_SIGNATURE,
    DSSE_MEDIA_TYPE,
    PREDICATE_TYPE,
    canonical_json,
    rfc3339,
)
from wasmforge.image.model import ProvenanceInputs
from wasmforge.project import Project

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "https://wasmforge.dev/build/v1"


def statement(*, project: Project, digest: str, component_digest: str,
              inputs: ProvenanceInputs) -> dict[str, Any]:
    """The unsigned DSSE envelope around the provenance statement for image `digest`."""
    body = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": project.name, "digest": {"sha256": digest.split(":", 1)[1]}},
            {"name": f"{project.name}.wasm",
             "digest": {"sha256": component_digest.split(":", 1)[1]}},
        ],
        "predicateType": SLSA_PROVENANCE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "project": project.name, "version": project.version,
                    "language": project.language, "world": project.world,
                },
                "internalParameters": {"toolchains": dict(sorted(inputs.toolchains.items()))},
                "resolvedDependencies": [
                    {"uri": f"file:{path}", "digest": {"sha256": value.split(":", 1)[-1]}}
                    for path, value in sorted(inputs.sources.items())
                ],
            },
            "runDetails": {
                "builder": {
                    "id": f"https://wasmforge.dev/wasmforge@{inputs.wasmforge_version}",
                    "version": {"wasmforge": inputs.wasmforge_version},
                },
                "metadata": {
                    "startedOn": rfc3339(inputs.build_started),
                    "finishedOn": rfc3339(inputs.build_finished),
                },
            },
        },
    }
    return {"payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(canonical_json(body)).decode(),
            "signatures": []}


def attestation_layer(envelope: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """The .att layer as cosign writes it (empty signature annotation, predicate type)."""
    return (DSSE_MEDIA_TYPE, canonical_json(envelope),
            {COSIGN_SIGNATURE: "", PREDICATE_TYPE: SLSA_PROVENANCE})


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def parse_envelope(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The envelope and its decoded payload, or ImageError."""
    try:
        envelope = json.loads(data)
        payload = base64.b64decode(envelope["payload"], validate=True)
        if not isinstance(envelope.get("payloadType"), str) or not isinstance(
                envelope.get("signatures"), list):
            raise ValueError("missing fields")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ImageError("the provenance attestation is not a DSSE envelope",
                         fix="rebuild the image with `wasmforge build`") from None
    return envelope, payload


def sign_envelope(data: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Add (or replace) this key's DSSE signature; returns the new envelope bytes."""
    envelope, payload = parse_envelope(data)
    keyid = keyring.fingerprint(key.public_key())
    signature = keyring.sign(key, pae(envelope["payloadType"], payload))
    others = [s for s in envelope["signatures"]
              if not (isinstance(s, dict) and s.get("keyid") == keyid)]
    envelope["signatures"] = [*others, {"keyid": keyid,
                                        "sig": base64.b64encode(signature).decode()}]
    return canonical_json(envelope)


def verified_signers(data: bytes, trusted: list[Any]) -> list[str]:
    """Fingerprints of the trusted keys (TrustedKey) whose DSSE signature verifies."""
    envelope, payload = parse_envelope(data)
    message = pae(envelope["payloadType"], payload)
    found: list[str] = []
    for entry in envelope["signatures"]:
        try:
            signature = base64.b64decode(entry["sig"], validate=True)
        except (ValueError, KeyError, TypeError):
            continue
        for candidate in trusted:
            if candidate.fingerprint not in found and keyring.verifies(
                    candidate.key, signature, message):
                found.append(candidate.fingerprint)
    return found


def decode_statement(data: bytes) -> dict[str, Any]:
    _envelope, payload = parse_envelope(data)
    try:
        return json.loads(payload)
    except ValueError:
        raise ImageError("the provenance statement is not JSON",
                         fix="rebuild the image with `wasmforge build`") from None
