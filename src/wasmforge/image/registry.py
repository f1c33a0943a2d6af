"""Pushing and pulling images to and from OCI distribution registries.

HTTP goes through the `oras` package's Registry (its session and its token-auth dance,
with credentials from ~/.docker/config.json), but manifests are sent and received as exact
bytes so digests survive the trip, and there are no silent retries: a registry that is
down or fails answers in one sentence at once. Plain HTTP is used only for loopback
registries (localhost, 127.0.0.0/8, ::1); anything else is HTTPS with verification.

A push uploads every blob, then the image manifest by digest, then the cosign signature
(`sha256-<hex>.sig`) and attestation (`.att`) manifests, and only then moves the tag: a
push that fails midway never leaves the tag pointing at an image without its signature.
A pull verifies each blob's digest and size while reading it and writes the image
atomically, so a failed pull leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from oras.container import Container
from oras.provider import Registry

from wasmforge.errors import ImageError
from wasmforge.image.layout import (
    OCI_LAYOUT_FILE,
    OCI_MANIFEST_MEDIA_TYPE,
    OciLayout,
    att_tag,
    canonical_json,
    sig_tag,
    write_layout,
)
from wasmforge.image.reader import ParsedImage, open_image, parse_layout

DEFAULT_REGISTRY = "registry-1.docker.io"
MANIFEST_LIMIT = 4 * 1024 * 1024
BLOB_LIMIT = 2 * 1024**3
TIMEOUT = (5.0, 120.0)
_REF = re.compile(
    r"^(?:(?P<host>(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+)(?::\d+)?)/)?"
    r"(?P<repo>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_ACCEPT = ", ".join([OCI_MANIFEST_MEDIA_TYPE,
                     "application/vnd.docker.distribution.manifest.v2+json"])


@dataclass(frozen=True)
class Reference:
    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def repository_name(self) -> str:
        """`host/repository`, as a signature's docker-reference names it (cosign, through
        go-containerregistry, calls Docker Hub `index.docker.io`)."""
        host = "index.docker.io" if self.host == DEFAULT_REGISTRY else self.host
        return f"{host}/{self.repository}"

    @property
    def loopback(self) -> bool:
        name = self.host.rsplit(":", 1)[0] if not self.host.endswith("]") else self.host
        name = name.strip("[]")
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    @property
    def base(self) -> str:
        scheme = "http" if self.loopback else "https"
        return f"{scheme}://{self.host}/v2/{self.repository}"

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(ref: str) -> Reference:
    match = _REF.match(ref.strip())
    if not match:
        raise ImageError(f"'{ref}' is not an image reference",
                         fix="write REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. "
                             "localhost:5000/hello:0.1.0")
    host = match.group("host")
    repository = match.group("repo")
    if host and "." not in host and ":" not in host and host != "localhost":
        host, repository = None, f"{host}/{repository}"
    if not host:
        host = DEFAULT_REGISTRY
        if "/" not in repository:
            repository = f"library/{repository}"
    if not _REPOSITORY.match(repository):
        raise ImageError(f"'{ref}' names the repository '{repository}', which is not valid",
                         fix="use lowercase letters, digits and . _ - separated by '/'")
    return Reference(host=host, repository=repository, tag=match.group("tag"),
                     digest=match.group("digest"))


class _Client:
    """One registry, over oras' session and auth; raises ImageError for every failure."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.registry = Registry(hostname=ref.host, insecure=ref.loopback)
        configs = []
        if os.environ.get("DOCKER_CONFIG"):  # docker's own override of ~/.docker
            configs.append(str(Path(os.environ["DOCKER_CONFIG"]) / "config.json"))
        self.registry.auth.load_configs(Container(ref.repository, registry=ref.host),
                                        configs=configs)

    def request(self, method: str, url: str, what: str, *, ok: tuple[int, ...] = (200,),
                data: bytes | None = None, headers: dict[str, str] | None = None,
                stream: bool = False) -> requests.Response:
        headers = dict(headers or {})
        try:
            response = self._send(method, url, data, headers, stream)
            if response.status_code in (401, 403):
                response = self._authenticate(response, method, url, data, headers, stream)
        except requests.exceptions.SSLError as err:
            raise ImageError(f"TLS to registry {self.ref.host} failed while {what} ({err})",
                             fix="check the registry's certificate") from None
        except requests.exceptions.ConnectionError:
            raise ImageError(f"cannot reach registry {self.ref.host} while {what}",
                             fix="check that the registry is running and the reference is "
                                 "right") from None
        except requests.exceptions.Timeout:
            raise ImageError(f"registry {self.ref.host} timed out while {what}",
                             fix="try again later") from None
        except requests.exceptions.RequestException as err:
            raise ImageError(f"talking to registry {self.ref.host} failed while {what} "
                             f"({err.__class__.__name__})") from None
        if response.status_code not in ok:
            raise ImageError(f"registry {self.ref.host} answered HTTP {response.status_code} "
                             f"while {what}{_registry_message(response)}",
                             fix=_fix_for(response.status_code))
        return response

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str],
              stream: bool) -> requests.Response:
        return self.registry.session.request(method, url, data=data, headers=headers,
                                             stream=stream, timeout=TIMEOUT,
                                             verify=True)

    def _authenticate(self, first: requests.Response, method: str, url: str,
                      data: bytes | None, headers: dict[str, str],
                      stream: bool) -> requests.Response:
        challenge = first.headers.get("Www-Authenticate", "")
        auth = self.registry.auth
        basic = getattr(auth, "_basic_auth", None)
        if challenge.lower().startswith("basic") and basic:
            headers["Authorization"] = f"Basic {basic}"
            return self._send(method, url, data, headers, stream)
        try:
            headers, changed = auth.authenticate_request(first, headers)
        except Exception:  # oras raises plain exceptions for auth failures
            changed = False
        if not changed:
            return first
        return self._send(method, url, data, headers, stream)

    # ---------------------------------------------------------------- operations

    def has_blob(self, digest: str) -> bool:
        response = self.request("HEAD", f"{self.ref.base}/blobs/{digest}",
                                f"checking blob {digest[:19]}", ok=(200, 404))
        return response.status_code == 200

    def put_blob(self, digest: str, data: bytes) -> None:
        what = f"uploading blob {digest[:19]}"
        start = self.request("POST", f"{self.ref.base}/blobs/uploads/", what, ok=(202,),
                             headers={"Content-Length": "0"})
        location = start.headers.get("Location")
        if not location:
            raise ImageError(f"registry {self.ref.host} gave no upload location while {what}")
        if location.startswith("/"):
            location = self.ref.base.split("/v2/", 1)[0] + location
        separator = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{separator}digest={digest}", what, ok=(201,),
                     data=data, headers={"Content-Type": "application/octet-stream",
                                         "Content-Length": str(len(data))})

    def put_manifest(self, reference: str, data: bytes) -> None:
        self.request("PUT", f"{self.ref.base}/manifests/{reference}",
                     f"storing manifest {reference}", ok=(201,), data=data,
                     headers={"Content-Type": OCI_MANIFEST_MEDIA_TYPE})

    def get_manifest(self, reference: str, *, optional: bool = False) -> bytes | None:
        what = f"fetching manifest {reference}"
        response = self.request("GET", f"{self.ref.base}/manifests/{reference}", what,
                                ok=(200, 404) if optional else (200,),
                                headers={"Accept": _ACCEPT}, stream=True)
        if response.status_code == 404:
            response.close()
            return None
        return _read_limited(response, MANIFEST_LIMIT, what, self.ref)

    def get_blob(self, digest: str, size: int) -> bytes:
        what = f"fetching blob {digest[:19]}"
        if size > BLOB_LIMIT:
            raise ImageError(f"blob {digest} declares {size} bytes, more than wasmforge "
                             "accepts", where=str(self.ref), fix="refuse this image")
        response = self.request("GET", f"{self.ref.base}/blobs/{digest}", what, stream=True)
        data = _read_limited(response, size, what, self.ref, expect_digest=digest)
        if len(data) != size:
            raise ImageError(f"blob {digest} holds {len(data)} bytes, not the {size} its "
                             "manifest declares", where=str(self.ref), fix="refuse this image")
        return data


def _read_limited(response: requests.Response, limit: int, what: str, ref: Reference,
                  expect_digest: str | None = None) -> bytes:
    """Read at most `limit` bytes, hashing as we go; refuse more, or a digest mismatch."""
    hasher = hashlib.sha256()
    chunks: list[bytes] = []
    total = 0
    try:
        with response:
            for chunk in response.iter_content(chunk_size=1 << 16):
                total += len(chunk)
                if total > limit:
                    raise ImageError(f"registry {ref.host} sent more than {limit} bytes while "
                                     f"{what}", where=str(ref), fix="refuse this image")
                hasher.update(chunk)
                chunks.append(chunk)
    except requests.exceptions.RequestException:
        raise ImageError(f"the connection to registry {ref.host} broke while {what}",
                         fix="try again") from None
    if expect_digest and "sha256:" + hasher.hexdigest() != expect_digest:
        raise ImageError(f"blob {expect_digest} from registry {ref.host} does not match its "
                         "digest", where=str(ref), fix="refuse this image; the registry or "
                         "the network corrupted or tampered with it")
    return b"".join(chunks)


def _registry_message(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        message = "; ".join(str(e.get("message", e.get("code", ""))) for e in errors
                            if isinstance(e, dict))
    except (ValueError, AttributeError):
        message = ""
    return f" ({message[:200]})" if message else ""


def _fix_for(status: int) -> str:
    if status in (401, 403):
        return "log in with `docker login` (credentials are read from ~/.docker/config.json)"
    if status == 404:
        return "check the repository and tag"
    if status >= 500:
        return "the registry failed; try again later"
    return "check the reference and the registry's logs"


def push_image(image: Path, ref: str, *, sign_key: Path | None = None,
               passphrase: str | None = None) -> str:
    """Push `image` (checked first) with its signature and provenance; returns its digest.

    With `sign_key`, a copy of the image is signed for the destination repository first (its
    signature names `host/repository`, as `cosign sign` does after a push); the file at
    `image` is left as it was."""
    target = parse_reference(ref)
    parsed = open_image(Path(image))  # a missing or broken image is refused here
    if sign_key is None:
        return _push(parsed, target)
    import shutil
    import tempfile

    from wasmforge.image.signing import sign_image

    with tempfile.TemporaryDirectory(prefix="wasmforge-push-") as tmp:
        copy = Path(tmp) / "image.oci.tar"
        shutil.copyfile(image, copy)
        sign_image(copy, sign_key, passphrase, reference=target.repository_name)
        return _push(open_image(copy), target)


def _push(parsed: ParsedImage, target: Reference) -> str:
    if target.digest and target.digest != parsed.digest:
        raise ImageError(f"the reference names {target.digest} but the image is "
                         f"{parsed.digest}", fix="push by tag, or use the image's digest")
    tag = target.tag or (None if target.digest else parsed.version or "latest")
    client = _Client(target)
    layout = parsed.layout
    manifests = [(entry, layout.blobs[entry["digest"]]) for entry in layout.manifests]
    for entry, _data in manifests:
        manifest = layout.json_blob(entry["digest"])
        for desc in [manifest["config"], *manifest["layers"]]:
            if not client.has_blob(desc["digest"]):
                client.put_blob(desc["digest"], layout.blobs[desc["digest"]])
    client.put_manifest(parsed.digest, layout.blobs[parsed.digest])
    for entry, data in manifests:
        name = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        if name in (sig_tag(parsed.digest), att_tag(parsed.digest)):
            client.put_manifest(name, data)
    if tag:
        client.put_manifest(tag, layout.blobs[parsed.digest])
    return parsed.digest


def pull_image(ref: str, out: Path | None) -> Path:
    """Pull `ref` with its signature and provenance into an .oci.tar; returns its path."""
    source = parse_reference(ref)
    client = _Client(source)
    reference = source.digest or source.tag or "latest"
    data = client.get_manifest(reference)
    assert data is not None
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if source.digest and digest != source.digest:
        raise ImageError(f"registry {source.host} sent a manifest whose digest is {digest}, "
                         f"not {source.digest}", where=str(source), fix="refuse this image")
    layout = OciLayout()
    manifest = _manifest(data, source)
    tag = source.tag or (manifest.get("annotations") or {}).get(
        "org.opencontainers.image.version") or "latest"
    _fetch(client, layout, manifest)
    layout.add_manifest_bytes(data, tag)
    for name in (sig_tag(digest), att_tag(digest)):
        extra = client.get_manifest(name, optional=True)
        if extra is not None:
            _fetch(client, layout, _manifest(extra, source))
            layout.add_manifest_bytes(extra, name)
    path = Path(out) if out is not None else Path.cwd() / (
        source.repository.rsplit("/", 1)[-1] + ".oci.tar")
    # the layout must pass the same checks as a local image before it is written
    files = {f"blobs/sha256/{d.split(':', 1)[1]}": b for d, b in layout.blobs.items()}
    files["index.json"] = canonical_json(layout.index())
    files[OCI_LAYOUT_FILE] = canonical_json({"imageLayoutVersion": "1.0.0"})
    parse_layout(files, str(source))
    write_layout(path, layout)
    return path


def _manifest(data: bytes, ref: Reference) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict) \
            or not isinstance(manifest.get("layers"), list):
        raise ImageError("the registry's manifest is not an OCI image manifest",
                         where=str(ref), fix="check that the reference names a wasmforge image")
    return manifest


def _fetch(client: _Client, layout: OciLayout, manifest: dict[str, Any]) -> None:
    for desc in [manifest["config"], *manifest["layers"]]:
        digest, size = desc.get("digest"), desc.get("size")
        if not isinstance(digest, str) or not re.match(r"^sha256:[0-9a-f]{64}$", digest) \
                or not isinstance(size, int) or size < 0:
            raise ImageError("the registry's manifest has a malformed descriptor",
                             where=str(client.ref), fix="refuse this image")
        if digest not in layout.blobs:
            layout.blobs[digest] = client.get_blob(digest, size)
