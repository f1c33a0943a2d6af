"""Writing OCI image layouts: blobs, manifests, index and the deterministic tar around them.

An image is one `.oci.tar` holding an OCI image layout (`oci-layout`, `index.json`,
`blobs/sha256/...`) with up to three manifests, each named in the index by
`org.opencontainers.image.ref.name`:

* the image itself (tagged with the project version), following the CNCF TAG Runtime wasm
  artifact layout: config `application/vnd.wasm.config.v0+json`, first layer
  `application/wasm` (the component), then the capabilities layer and any extra layers;
* `sha256-<hex>.sig`: cosign's signature artifact (simple-signing payload, one layer per
  signature, the signature in the `dev.cosignproject.cosign/signature` annotation);
* `sha256-<hex>.att`: cosign's attestation artifact, a DSSE envelope holding the in-toto
  SLSA provenance statement.

The signature and attestation live beside the image, not inside it, so signing never
changes the image's manifest digest, and a push writes them under the tags cosign looks
for. The tar is deterministic: sorted entries, uid/gid 0, fixed modes and SOURCE_DATE_EPOCH
for every mtime, so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.errors import ImageError
from wasmforge.image import capabilities as capability_manifest
from wasmforge.image import model
from wasmforge.image.model import (
    CAPABILITIES_MEDIA_TYPE,
    Layer,
    ProvenanceInputs,
    WitSummary,
)
from wasmforge.project import Project

OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
WASM_CONFIG_MEDIA_TYPE = "application/vnd.wasm.config.v0+json"
WASM_LAYER_MEDIA_TYPE = "application/wasm"
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"

REF_NAME = "org.opencontainers.image.ref.name"
TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"
CREATED = "org.opencontainers.image.created"
LANGUAGE = "dev.wasmforge.language"
WORLD = "dev.wasmforge.world"
BUILDER = "dev.wasmforge.builder"
COSIGN_SIGNATURE = "dev.cosignproject.cosign/signature"
SIGNER = "dev.wasmforge.signer"  # fingerprint of the signing key, so re-signing replaces
PREDICATE_TYPE = "predicateType"

TARGET = "wasm32-wasip2"
# Every *_MEDIA_TYPE that image.model declares is a layer type images may carry, so a
# layer type added there is readable everywhere without touching this module.
IMAGE_LAYER_MEDIA_TYPES = frozenset({WASM_LAYER_MEDIA_TYPE} | {
    value for name, value in vars(model).items()
    if name.endswith("_MEDIA_TYPE") and isinstance(value, str)})


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def descriptor(media_type: str, data: bytes,
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    desc: dict[str, Any] = {"mediaType": media_type, "digest": sha256_digest(data),
                            "size": len(data)}
    if annotations:
        desc["annotations"] = dict(sorted(annotations.items()))
    return desc


def sig_tag(digest: str) -> str:
    """cosign's tag for the signatures of `digest`: sha256:abc -> sha256-abc.sig."""
    return digest.replace(":", "-") + ".sig"


def att_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".att"


def source_date_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        return max(0, int(raw)) if raw else 0
    except ValueError:
        raise ImageError(f"SOURCE_DATE_EPOCH is {raw!r}, not a number of seconds",
                         fix="set it to a Unix time such as 1700000000 or unset it") from None


def rfc3339(epoch: int) -> str:
    from datetime import UTC, datetime  # writers only: `run` reads images

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class OciLayout:
    """An image layout in memory: index.json's manifest list and the blobs by digest."""

    manifests: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def add_blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self.blobs[digest] = data
        return digest

    def add_manifest(self, manifest: dict[str, Any], ref_name: str) -> str:
        """Store a manifest and name it in the index, replacing any entry of that name."""
        return self.add_manifest_bytes(canonical_json(manifest), ref_name)

    def add_manifest_bytes(self, data: bytes, ref_name: str) -> str:
        """As add_manifest, keeping the exact bytes (a pulled manifest keeps its digest)."""
        self.add_blob(data)
        entry = descriptor(OCI_MANIFEST_MEDIA_TYPE, data, {REF_NAME: ref_name})
        self.manifests = [m for m in self.manifests if ref_name_of(m) != ref_name]
        self.manifests.append(entry)
        return entry["digest"]

    def manifest_named(self, ref_name: str) -> dict[str, Any] | None:
        return next((m for m in self.manifests if ref_name_of(m) == ref_name), None)

    def json_blob(self, digest: str) -> Any:
        return json.loads(self.blobs[digest])

    def index(self) -> dict[str, Any]:
        # the image first, then its artifacts by name: stable whatever the order of edits
        ordered = sorted(self.manifests, key=lambda m: (
            (ref_name_of(m) or "").endswith((".sig", ".att")), ref_name_of(m) or ""))
        return {"schemaVersion": 2, "mediaType": OCI_INDEX_MEDIA_TYPE, "manifests": ordered}

    def reachable(self) -> set[str]:
        """Digests of every blob the index reaches (manifests, configs, layers)."""
        found: set[str] = set()
        for entry in self.manifests:
            found.add(entry["digest"])
            manifest = self.json_blob(entry["digest"])
            found.add(manifest["config"]["digest"])
            found.update(layer["digest"] for layer in manifest.get("layers", []))
        return found


def ref_name_of(entry: dict[str, Any]) -> str | None:
    return (entry.get("annotations") or {}).get(REF_NAME)


def _tar_entries(layout: OciLayout) -> Iterator[tuple[str, bytes | None]]:
    yield "blobs/", None
    yield "blobs/sha256/", None
    for digest in sorted(layout.reachable()):
        yield "blobs/sha256/" + digest.split(":", 1)[1], layout.blobs[digest]
    yield "index.json", canonical_json(layout.index())
    yield OCI_LAYOUT_FILE, canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION})


def write_layout(out: Path, layout: OciLayout) -> None:
    """Write `layout` as a tar at `out`, atomically: a temp file beside it, then rename."""
    import tempfile  # writers only, like datetime

    mtime = source_date_epoch()
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as err:
        raise ImageError(f"cannot write the image to {out} ({err.strerror})",
                         fix="choose a writable location") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for name, data in sorted(_tar_entries(layout)):
                    info = tarfile.TarInfo(name)
                    info.mtime = mtime
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if data is None:
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        tar.addfile(info)
                    else:
                        info.mode = 0o644
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        tmp.chmod(0o644)
        os.replace(tmp, out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ImageError(f"cannot write the image to {out} ({err.strerror})",
                         fix="check the free space and permissions there") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def cosign_config(layer_digests: Sequence[str]) -> bytes:
    """The image config cosign writes for its .sig/.att artifacts (fixed times)."""
    zero = "0001-01-01T00:00:00Z"
    return canonical_json({
        "architecture": "", "os": "", "config": {}, "created": zero,
        "history": [{"created": zero}],
        "rootfs": {"type": "layers", "diff_ids": list(layer_digests)},
    })


def artifact_manifest(layout: OciLayout, layers: Sequence[tuple[str, bytes, dict[str, str]]]
                      ) -> dict[str, Any]:
    """A cosign-style artifact manifest over `layers` (media type, data, annotations)."""
    descriptors = []
    for media_type, data, notes in layers:
        layout.add_blob(data)
        descriptors.append(descriptor(media_type, data, notes))
    config = cosign_config([d["digest"] for d in descriptors])
    layout.add_blob(config)
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST_MEDIA_TYPE,
            "config": descriptor(OCI_CONFIG_MEDIA_TYPE, config), "layers": descriptors}


def write_image(out: Path, *, project: Project, component: bytes, wit: WitSummary,
                extra_layers: Sequence[Layer], provenance: ProvenanceInputs) -> str:
    """Write the project's image (unsigned, with unsigned provenance); return its digest."""
    from wasmforge.image.provenance import attestation_layer, statement

    for layer in extra_layers:
        if layer.media_type not in IMAGE_LAYER_MEDIA_TYPES:
            raise ImageError(f"extra layer media type {layer.media_type!r} is not one wasmforge "
                             "knows", fix="add it to image.model and image.layout first")
    epoch = source_date_epoch()
    layout = OciLayout()
    layers: list[dict[str, Any]] = []

    def add(media_type: str, data: bytes, annotations: dict[str, str]) -> None:
        layout.add_blob(data)
        layers.append(descriptor(media_type, data, annotations))

    add(WASM_LAYER_MEDIA_TYPE, component, {TITLE: f"{project.name}.wasm"})
    add(CAPABILITIES_MEDIA_TYPE, capability_manifest.to_json(project.capabilities),
        {TITLE: "capabilities.json"})
    for layer in extra_layers:
        add(layer.media_type, layer.data, layer.annotations)

    config = canonical_json({
        "created": rfc3339(epoch),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer["digest"] for layer in layers],
        "component": {"imports": list(wit.imports), "exports": list(wit.exports),
                      "target": TARGET},
    })
    layout.add_blob(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": descriptor(WASM_CONFIG_MEDIA_TYPE, config),
        "layers": layers,
        "annotations": {
            TITLE: project.name,
            VERSION: project.version,
            CREATED: rfc3339(epoch),
            LANGUAGE: project.language,
            WORLD: project.world,
            BUILDER: f"wasmforge {provenance.wasmforge_version}",
        },
    }
    digest = layout.add_manifest(manifest, project.version)
    envelope = statement(project=project, digest=digest,
                         component_digest=sha256_digest(component), inputs=provenance)
    layout.add_manifest(artifact_manifest(layout, [attestation_layer(envelope)]),
                        att_tag(digest))
    write_layout(out, layout)
    return digest
