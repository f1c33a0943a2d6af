"""Reading images safely: the runtime's entry point and the base of verify and inspect.

Nothing in an archive is trusted until checked. The tar is read in memory, never
extracted: only regular files and directories with the layout's own names are accepted
(no '..', absolute paths, links, devices or duplicates), every entry must hold the bytes
its header declares, every blob must hash to its name, and every descriptor's digest,
size and media type must match a blob wasmforge knows how to read. Each failure is an
ImageError of one sentence.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.errors import ImageError
from wasmforge.image.layout import (
    CAPABILITIES_MEDIA_TYPE,
    DSSE_MEDIA_TYPE,
    IMAGE_LAYER_MEDIA_TYPES,
    LANGUAGE,
    OCI_CONFIG_MEDIA_TYPE,
    OCI_LAYOUT_FILE,
    OCI_MANIFEST_MEDIA_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    TITLE,
    VERSION,
    WASM_CONFIG_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
    OciLayout,
    att_tag,
    ref_name_of,
    sha256_digest,
    sig_tag,
)
from wasmforge.image.model import Layer, LoadedImage, WitSummary

MAX_IMAGE_BYTES = 4 * 1024**3
MAX_ENTRIES = 4096
_BLOB_NAME = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DIRS = {"blobs", "blobs/sha256"}
REFRESH = "rebuild it with `wasmforge build` or pull it again"


@dataclass(frozen=True)
class ParsedImage:
    """A structurally sound image layout whose every digest and size has been checked."""

    where: str
    layout: OciLayout
    digest: str  # the image manifest's digest
    manifest: dict[str, Any]
    config: dict[str, Any]
    signatures: dict[str, Any] | None  # the cosign .sig manifest, if any
    attestations: dict[str, Any] | None  # the cosign .att manifest, if any

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.manifest.get("annotations") or {})

    @property
    def name(self) -> str:
        return self.annotations.get(TITLE, "")

    @property
    def version(self) -> str:
        return self.annotations.get(VERSION, "")

    def layer_bytes(self, media_type: str) -> bytes:
        matches = [d for d in self.manifest["layers"] if d["mediaType"] == media_type]
        if len(matches) != 1:
            raise ImageError(f"image {self.where} has {len(matches)} layers of type "
                             f"{media_type}, not one", fix=REFRESH)
        return self.layout.blobs[matches[0]["digest"]]

    @property
    def wit(self) -> WitSummary:
        component = self.config.get("component") or {}
        return WitSummary(imports=tuple(component.get("imports", ())),
                          exports=tuple(component.get("exports", ())))


def _fail(where: str, what: str, fix: str = REFRESH) -> ImageError:
    return ImageError(what, where=where, fix=fix)


def read_archive(data: bytes, where: str) -> dict[str, bytes]:
    """The regular files of a layout tar by normalised name, after the safety checks."""
    if len(data) > MAX_IMAGE_BYTES:
        raise _fail(where, f"the archive is larger than {MAX_IMAGE_BYTES} bytes")
    files: dict[str, bytes] = {}
    seen: set[str] = set()
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, EOFError, ValueError, OverflowError):
        raise _fail(where, "is not an OCI image archive (not a tar file, or garbage)") from None
    with tar:
        while True:
            try:
                member = tar.next()
            except (tarfile.TarError, EOFError, ValueError, OverflowError, UnicodeError):
                raise _fail(where, "is a damaged or truncated archive") from None
            if member is None:
                break
            if len(seen) >= MAX_ENTRIES:
                raise _fail(where, f"holds more than {MAX_ENTRIES} entries")
            name = _check_member(member, where)
            if name in seen:
                raise _fail(where, f"holds the entry '{name}' twice")
            seen.add(name)
            if member.isdir():
                continue
            if member.size > len(data) - member.offset_data:
                raise _fail(where, f"entry '{name}' declares {member.size} bytes, more than "
                                   "the archive holds")
            try:
                handle = tar.extractfile(member)
                content = handle.read() if handle is not None else b""
            except (tarfile.TarError, EOFError, ValueError, OSError):
                raise _fail(where, f"entry '{name}' declares more bytes than the archive "
                                   "holds") from None
            if len(content) != member.size:
                raise _fail(where, f"entry '{name}' declares {member.size} bytes but holds "
                                   f"{len(content)}")
            files[name] = content
        trailer = data[tar.offset:]
    if len(trailer) < 1024 or trailer.strip(b"\0"):
        raise _fail(where, "is a truncated archive (it does not end where a tar file ends)")
    return files


def _check_member(member: tarfile.TarInfo, where: str) -> str:
    raw = member.name
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise _fail(where, f"holds the absolute path '{raw}'", "refuse this archive")
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _fail(where, f"holds the path '{raw}', which climbs out with '..'",
                    "refuse this archive")
    name = "/".join(parts)
    if member.issym() or member.islnk():
        raise _fail(where, f"holds the link '{raw}' -> '{member.linkname}'",
                    "image archives hold only files and directories")
    if member.ischr() or member.isblk() or member.isfifo():
        raise _fail(where, f"holds the device or fifo '{raw}'",
                    "image archives hold only files and directories")
    if member.isdir():
        if name not in _DIRS:
            raise _fail(where, f"holds the unexpected directory '{raw}'")
        return name
    if not member.isreg():
        raise _fail(where, f"holds '{raw}', which is not a regular file")
    if name not in (OCI_LAYOUT_FILE, "index.json") and not _BLOB_NAME.match(name):
        raise _fail(where, f"holds the unexpected file '{raw}'")
    return name


def _json(data: bytes, where: str, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _fail(where, f"its {what} is not JSON") from None
    except RecursionError:  # e.g. 100,000 nested '[': no image nests that deep
        raise _fail(where, f"its {what} nests JSON too deeply to be an image's") from None


def _descriptor(desc: Any, blobs: dict[str, bytes], where: str, what: str,
                allowed: set[str] | frozenset[str]) -> str:
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str) \
            or not isinstance(desc.get("size"), int) or isinstance(desc.get("size"), bool) \
            or not isinstance(desc.get("mediaType"), str):
        raise _fail(where, f"its {what} is not a valid descriptor")
    digest, size, media_type = desc["digest"], desc["size"], desc["mediaType"]
    if media_type not in allowed:
        raise _fail(where, f"its {what} has the unknown media type '{media_type[:80]}'",
                    "this wasmforge cannot read it; refuse the image or upgrade wasmforge")
    if not _DIGEST.match(digest):
        raise _fail(where, f"its {what} has the unsupported digest '{digest[:80]}'")
    blob = blobs.get(digest)
    if blob is None:
        raise _fail(where, f"its {what} refers to the missing blob {digest}")
    if size != len(blob):
        raise _fail(where, f"its {what} declares {size} bytes but blob {digest} holds "
                           f"{len(blob)}")
    return digest


def parse_layout(files: dict[str, bytes], where: str) -> ParsedImage:
    """Check the index, manifests and descriptors of a layout read by read_archive."""
    blobs = _blobs(files, where)
    index = _index(files, where)
    layout = OciLayout(manifests=[], blobs=blobs)
    image, artifacts = _manifests(index, layout, where)
    digest, manifest = image
    for ref in artifacts:
        if ref not in (sig_tag(digest), att_tag(digest)):
            raise _fail(where, f"holds the artifact '{ref}', which belongs to another image")
    config = _config(blobs, manifest, where)
    # drop blobs no manifest reaches, so a rewrite never carries smuggled data along
    reachable = layout.reachable()
    layout.blobs = {d: b for d, b in blobs.items() if d in reachable}
    return ParsedImage(where=where, layout=layout, digest=digest, manifest=manifest,
                       config=config, signatures=artifacts.get(sig_tag(digest)),
                       attestations=artifacts.get(att_tag(digest)))


def _blobs(files: dict[str, bytes], where: str) -> dict[str, bytes]:
    """The layout's blobs by digest, each checked against its name."""
    blobs: dict[str, bytes] = {}
    for name, content in files.items():
        match = _BLOB_NAME.match(name)
        if match:
            digest = "sha256:" + match.group(1)
            if sha256_digest(content) != digest:
                raise _fail(where, f"blob {digest} is corrupt: its content does not hash to "
                                   "its name", "the image was tampered with or damaged; "
                                   "refuse it")
            blobs[digest] = content
    return blobs


def _index(files: dict[str, bytes], where: str) -> dict[str, Any]:
    """The layout's index.json, once oci-layout says this is an OCI image layout."""
    if OCI_LAYOUT_FILE not in files or "index.json" not in files:
        raise _fail(where, "is not an OCI image layout (oci-layout or index.json is missing)")
    marker = _json(files[OCI_LAYOUT_FILE], where, "oci-layout file")
    if not isinstance(marker, dict) or marker.get("imageLayoutVersion") != "1.0.0":
        raise _fail(where, "its oci-layout file does not say imageLayoutVersion 1.0.0")
    index = _json(files["index.json"], where, "index.json")
    if not isinstance(index, dict) or index.get("schemaVersion") != 2 \
            or not isinstance(index.get("manifests"), list):
        raise _fail(where, "its index.json is not an OCI image index")
    return index


def _manifests(index: dict[str, Any], layout: OciLayout, where: str
               ) -> tuple[tuple[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The one wasm image manifest (digest, manifest) and the cosign artifacts by tag,
    each manifest's descriptors checked; every index entry joins `layout.manifests`."""
    blobs = layout.blobs
    image: tuple[str, dict[str, Any]] | None = None
    artifacts: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(index["manifests"]):
        what = f"index entry {position}"
        digest = _descriptor(entry, blobs, where, what, {OCI_MANIFEST_MEDIA_TYPE})
        manifest = _json(blobs[digest], where, f"manifest {digest}")
        if not isinstance(manifest, dict) or manifest.get("schemaVersion") != 2 \
                or manifest.get("mediaType", OCI_MANIFEST_MEDIA_TYPE) != OCI_MANIFEST_MEDIA_TYPE \
                or not isinstance(manifest.get("layers"), list):
            raise _fail(where, f"manifest {digest} is not an OCI image manifest")
        ref = ref_name_of(entry)
        config_type = (manifest.get("config") or {}).get("mediaType") \
            if isinstance(manifest.get("config"), dict) else None
        if config_type == WASM_CONFIG_MEDIA_TYPE:
            if image is not None:
                raise _fail(where, "holds more than one wasm image manifest")
            layer_types: frozenset[str] | set[str] = IMAGE_LAYER_MEDIA_TYPES
            image = (digest, manifest)
        elif isinstance(ref, str) and ref.endswith(".sig"):
            layer_types = {SIMPLE_SIGNING_MEDIA_TYPE}
            artifacts[ref] = manifest
        elif isinstance(ref, str) and ref.endswith(".att"):
            layer_types = {DSSE_MEDIA_TYPE}
            artifacts[ref] = manifest
        else:
            raise _fail(where, f"manifest {digest} is neither a wasm image nor a cosign "
                               "signature or attestation")
        _descriptor(manifest["config"], blobs, where, f"manifest {digest}'s config",
                    {WASM_CONFIG_MEDIA_TYPE, OCI_CONFIG_MEDIA_TYPE})
        for number, layer in enumerate(manifest["layers"]):
            _descriptor(layer, blobs, where, f"manifest {digest}'s layer {number}", layer_types)
        layout.manifests.append(entry)
    if image is None:
        raise _fail(where, "holds no wasm image manifest (config "
                           f"{WASM_CONFIG_MEDIA_TYPE})")
    return image, artifacts


def _config(blobs: dict[str, bytes], manifest: dict[str, Any], where: str) -> dict[str, Any]:
    """The image's config, and its manifest's annotations, checked for shape."""
    config = _json(blobs[manifest["config"]["digest"]], where, "config")
    if not isinstance(config, dict):
        raise _fail(where, "its config is not a JSON object")
    component = config.get("component") or {}
    if not isinstance(component, dict) or not all(
            isinstance(component.get(k, []), list)
            and all(isinstance(i, str) for i in component.get(k, []))
            for k in ("imports", "exports")):
        raise _fail(where, "its config's component imports/exports are not lists of names")
    annotations = manifest.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
        raise _fail(where, "its manifest annotations are not strings")
    return config


def parse_image_bytes(data: bytes, where: str = "image") -> ParsedImage:
    return parse_layout(read_archive(data, where), where)


def open_image(path: Path) -> ParsedImage:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return parse_image_bytes(_read_bounded(handle, path), str(path))
    except FileNotFoundError:
        raise ImageError(f"image {path} does not exist",
                         fix="build one with `wasmforge build` or pull one") from None
    except IsADirectoryError:
        raise ImageError(f"image {path} is a directory, not an .oci.tar file") from None
    except OSError as err:
        raise ImageError(f"cannot read image {path} ({err.strerror or err})") from None


def _read_bounded(handle: io.BufferedReader, path: Path) -> bytes:
    """The file's bytes, refusing one larger than MAX_IMAGE_BYTES before reading it."""
    import os
    import stat

    info = os.fstat(handle.fileno())
    if stat.S_ISREG(info.st_mode) and info.st_size > MAX_IMAGE_BYTES:
        raise _fail(str(path), f"is {info.st_size} bytes, larger than the "
                               f"{MAX_IMAGE_BYTES} bytes an image may have", "refuse it")
    data = handle.read(MAX_IMAGE_BYTES + 1)  # a pipe or device has no size to check first
    if len(data) > MAX_IMAGE_BYTES:
        raise _fail(str(path), f"holds more than the {MAX_IMAGE_BYTES} bytes an image may "
                               "have", "refuse it")
    return data


def load_image(path: Path, *, trust: Sequence[Path] = (),
               allow_unsigned: bool = False) -> LoadedImage:
    """Open, check and (unless allow_unsigned) require a trusted signature; for the runtime."""
    return loaded_from(open_image(path), trust=trust, allow_unsigned=allow_unsigned)


def load_image_bytes(data: bytes, *, where: str = "image", trust: Sequence[Path] = (),
                     allow_unsigned: bool = False) -> LoadedImage:
    return loaded_from(parse_image_bytes(data, where), trust=trust,
                       allow_unsigned=allow_unsigned)


def loaded_from(parsed: ParsedImage, *, trust: Sequence[Path] = (),
                allow_unsigned: bool = False) -> LoadedImage:
    from wasmforge.image import capabilities as capability_manifest
    from wasmforge.image.verifycache import signers as checked_signers

    signers = checked_signers(parsed, list(trust), required=not allow_unsigned)
    component = parsed.layer_bytes(WASM_LAYER_MEDIA_TYPE)
    caps = capability_manifest.from_json(parsed.layer_bytes(CAPABILITIES_MEDIA_TYPE))
    layers = tuple(
        Layer(media_type=d["mediaType"], data=parsed.layout.blobs[d["digest"]],
              annotations=dict(d.get("annotations") or {}))
        for d in parsed.manifest["layers"]
        if d["mediaType"] not in (WASM_LAYER_MEDIA_TYPE, CAPABILITIES_MEDIA_TYPE)
    )
    annotations = parsed.annotations
    return LoadedImage(
        name=parsed.name, version=parsed.version, language=annotations.get(LANGUAGE, ""),
        digest=parsed.digest, component=component, capabilities=caps, wit=parsed.wit,
        layers=layers, signers=tuple(signers),
    )


