"""Push and pull against a real OCI registry (Debian's docker-registry on loopback)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from wasmforge.errors import ImageError
from wasmforge.image.reader import open_image
from wasmforge.image.registry import parse_reference, pull_image, push_image
from wasmforge.image.verify import verify_image

Build = Callable[..., tuple[Path, str]]


def tags(host: str, repository: str) -> list[str]:
    with urllib.request.urlopen(f"http://{host}/v2/{repository}/tags/list", timeout=10) as resp:
        return sorted(json.load(resp).get("tags") or [])


def test_round_trip_sign_push_pull_verify(signed_image: tuple[Path, str], keypair, registry,
                                          tmp_path: Path) -> None:
    path, digest = signed_image
    ref = f"{registry.host}/wasmforge/roundtrip:0.1.0"
    assert push_image(path, ref) == digest
    assert tags(registry.host, "wasmforge/roundtrip") == sorted(
        ["0.1.0", f"sha256-{digest[7:]}.sig", f"sha256-{digest[7:]}.att"])
    pulled = pull_image(ref, tmp_path / "pulled" / "hello.oci.tar")
    report = verify_image(pulled, [keypair.public])
    assert report.digest == digest and report.signers == (keypair.fingerprint,)
    assert report.provenance_signers == (keypair.fingerprint,)
    original, copy = open_image(path), open_image(pulled)
    assert copy.layout.blobs == original.layout.blobs
    assert pulled.read_bytes() == path.read_bytes()  # same layout, same tar


def test_push_with_a_key_signs_for_the_destination_repository(
        signed_image: tuple[Path, str], keypair, registry, tmp_path: Path) -> None:
    from wasmforge.image.signing import signatures_of

    path, digest = signed_image
    before = path.read_bytes()
    ref = f"{registry.host}/team/hello:0.1.0"
    assert push_image(path, ref, sign_key=keypair.private) == digest
    assert path.read_bytes() == before  # the local image is left as it was
    pulled = pull_image(ref, tmp_path / "pulled.oci.tar")
    assert verify_image(pulled, [keypair.public]).signers == (keypair.fingerprint,)
    [signature] = signatures_of(open_image(pulled))  # the same key's signature is replaced
    identity = json.loads(signature.payload)["critical"]["identity"]
    assert identity == {"docker-reference": f"{registry.host}/team/hello"}
    [local] = signatures_of(open_image(path))
    assert json.loads(local.payload)["critical"]["identity"] == {"docker-reference": "hello"}


def test_push_with_a_key_refuses_a_missing_image_in_one_sentence(keypair, registry,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(ImageError):
        push_image(tmp_path / "absent.oci.tar", f"{registry.host}/team/absent:1",
                   sign_key=keypair.private)


def test_the_docker_reference_is_the_repository_cosign_names() -> None:
    assert parse_reference("127.0.0.1:5000/team/hello:1").repository_name == \
        "127.0.0.1:5000/team/hello"
    assert parse_reference("ghcr.io/me/hello@sha256:" + "a" * 64).repository_name == \
        "ghcr.io/me/hello"
    assert parse_reference("hello:1").repository_name == "index.docker.io/library/hello"


def test_pull_by_digest_and_default_output(signed_image: tuple[Path, str], registry,
                                           tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path, digest = signed_image
    push_image(path, f"{registry.host}/wasmforge/bydigest:v1")
    monkeypatch.chdir(tmp_path)
    pulled = pull_image(f"{registry.host}/wasmforge/bydigest@{digest}", None)
    assert pulled == tmp_path / "bydigest.oci.tar"
    assert open_image(pulled).digest == digest


def test_push_without_a_tag_uses_the_version(signed_image: tuple[Path, str],
                                             registry) -> None:
    path, _ = signed_image
    push_image(path, f"{registry.host}/wasmforge/versioned")
    assert "0.1.0" in tags(registry.host, "wasmforge/versioned")


def test_a_registry_that_is_down_is_one_sentence_and_writes_nothing(
        signed_image: tuple[Path, str], tmp_path: Path) -> None:
    from registry_support import free_port

    path, _ = signed_image
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(ImageError, match=f"cannot reach registry {dead}"):
        push_image(path, f"{dead}/wasmforge/hello:0.1.0")
    out = tmp_path / "out" / "hello.oci.tar"
    with pytest.raises(ImageError, match=f"cannot reach registry {dead}"):
        pull_image(f"{dead}/wasmforge/hello:0.1.0", out)
    assert not (tmp_path / "out").exists()


def test_a_registry_failing_mid_push_leaves_no_tag(signed_image: tuple[Path, str], registry,
                                                   failing_registry: str) -> None:
    path, _ = signed_image
    with pytest.raises(ImageError, match="answered HTTP 500 .*disk quota exceeded"):
        push_image(path, f"{failing_registry}/wasmforge/midway:0.1.0")
    # the blobs went up through the proxy, but no tag points at a half-pushed image
    with pytest.raises(urllib.error.HTTPError):
        tags(registry.host, "wasmforge/midway")


def test_pull_of_a_missing_tag_writes_nothing(registry, tmp_path: Path) -> None:
    out = tmp_path / "missing.oci.tar"
    with pytest.raises(ImageError, match="HTTP 404"):
        pull_image(f"{registry.host}/wasmforge/nothing-here:1.0", out)
    assert list(tmp_path.iterdir()) == []


def test_pull_refuses_a_blob_corrupted_in_the_registry(build_image: Build, keypair, registry,
                                                       tmp_path: Path) -> None:
    from wasmforge.image.signing import sign_image

    path, digest = build_image(env=("CORRUPT_ME",))  # blobs of its own in the registry
    sign_image(path, keypair.private)
    push_image(path, f"{registry.host}/wasmforge/corrupt:1")
    component = open_image(path).manifest["layers"][1]["digest"]  # the capabilities blob
    blob = registry.blob_path(component)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    out = tmp_path / "pulled.oci.tar"
    with pytest.raises(ImageError, match="does not match its digest"):
        pull_image(f"{registry.host}/wasmforge/corrupt:1", out)
    assert not out.exists()
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_pushing_a_tampered_image_is_refused_before_any_upload(
        signed_image: tuple[Path, str], registry) -> None:
    path, _ = signed_image
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError):
        push_image(path, f"{registry.host}/wasmforge/tampered:1")
    with pytest.raises(urllib.error.HTTPError):
        tags(registry.host, "wasmforge/tampered")


@pytest.mark.parametrize(("text", "host", "repo", "tag", "loopback"), [
    ("localhost:5000/hello:0.1.0", "localhost:5000", "hello", "0.1.0", True),
    ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", None, True),
    ("[::1]:5000/hello:1", "[::1]:5000", "hello", "1", True),
    ("ghcr.io/org/hello:1.2", "ghcr.io", "org/hello", "1.2", False),
    ("hello:1", "registry-1.docker.io", "library/hello", "1", False),
    ("org/hello", "registry-1.docker.io", "org/hello", None, False),
])
def test_references(text: str, host: str, repo: str, tag: str | None, loopback: bool) -> None:
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.tag, ref.loopback) == (host, repo, tag, loopback)
    assert ref.base.startswith("http://" if loopback else "https://")


@pytest.mark.parametrize("text", ["", "UPPER/case", "host:5000/", "a/b:", "a@sha256:12"])
def test_bad_references_are_one_sentence(text: str) -> None:
    with pytest.raises(ImageError, match="is not an image reference|is not valid"):
        parse_reference(text)


def test_credentials_come_from_the_docker_config(signed_image: tuple[Path, str], keypair,
                                                 auth_registry: tuple[str, str, str],
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    host, user, password = auth_registry
    path, digest = signed_image
    ref = f"{host}/private/hello:0.1.0"
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    with pytest.raises(ImageError, match="HTTP 401.*docker login"):
        push_image(path, ref)
    docker = tmp_path / "nobody" / ".docker"
    docker.mkdir(parents=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))
    assert push_image(path, ref) == digest
    pulled = pull_image(ref, tmp_path / "pulled.oci.tar")
    assert verify_image(pulled, [keypair.public]).digest == digest
