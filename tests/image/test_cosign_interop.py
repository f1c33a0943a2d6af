"""wasmforge's signatures and provenance against the real cosign, through a real registry.

Both directions: `cosign verify` / `cosign verify-attestation` accept what `wasmforge sign`
and `wasmforge push` wrote (and refuse it under another key), and `wasmforge pull` /
`wasmforge verify` accept what `cosign sign` / `cosign attest` wrote with a key made by
`cosign generate-key-pair`.

The cosign binary is $WASMFORGE_COSIGN, else the one scripts/install-cosign.sh (run by
scripts/setup.sh) built into the toolchain cache, else `cosign` on PATH; without one these
tests skip. There is no transparency log here, so every cosign command runs with the tlog
switched off (`--insecure-ignore-tlog=true`, `--tlog-upload=false`), and TUF_MIRROR points
at a closed loopback port so that cosign never reaches for the public Sigstore TUF
repository: key-based checks need nothing from it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from registry_support import free_port

from wasmforge.errors import ImageError
from wasmforge.image import keys as keyring
from wasmforge.image.layout import sig_tag
from wasmforge.image.provenance import SLSA_PROVENANCE
from wasmforge.image.registry import pull_image, push_image
from wasmforge.image.signing import SIMPLE_SIGNING_TYPE, sign_image
from wasmforge.image.verify import verify_image
from wasmforge.languages.tools import toolchains_dir

Build = Callable[..., tuple[Path, str]]

INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-cosign.sh"
COSIGN_PASSWORD = "interop-test-pw"
# No transparency log, and the classic storage wasmforge reads: signatures in the
# `sha256-<hex>.sig` tag, attestations in `.att`. These are cosign v2's defaults; cosign v3
# defaults to Sigstore bundles stored as OCI referrers, which wasmforge does not read.
CLASSIC_SIGNING = ("--tlog-upload=false", "--new-bundle-format=false",
                   "--use-signing-config=false")


def pinned_version() -> str | None:
    try:
        text = INSTALL_SCRIPT.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^COSIGN_VERSION=(\S+)$", text, re.MULTILINE)
    return match.group(1) if match else None


def find_cosign() -> tuple[str | None, str]:
    """The cosign binary to use, or None and why there is none."""
    explicit = os.environ.get("WASMFORGE_COSIGN")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit, ""
        return None, f"WASMFORGE_COSIGN={explicit} is not an executable file"
    version = pinned_version()
    if version:
        built = toolchains_dir() / f"cosign-{version}" / "cosign"
        if os.access(built, os.X_OK):
            return str(built), ""
    on_path = shutil.which("cosign")
    if on_path:
        return on_path, ""
    return None, (f"no cosign binary: not at WASMFORGE_COSIGN, not built in "
                  f"{toolchains_dir()}/cosign-{version or '<version>'}/, not on PATH (build it "
                  "with `bash scripts/install-cosign.sh`)")


@pytest.fixture(scope="module")
def cosign_bin() -> str:
    binary, why = find_cosign()
    if binary is None:
        pytest.skip(why)
    return binary


class Cosign:
    """Runs cosign with a private HOME, no docker credentials and no way to the public TUF."""

    def __init__(self, binary: str, work: Path) -> None:
        self.binary = binary
        self.work = work
        (work / "home").mkdir(parents=True, exist_ok=True)
        (work / "docker").mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work / "home"),
            "DOCKER_CONFIG": str(work / "docker"),
            "TUF_ROOT": str(work / "tuf"),
            "TUF_MIRROR": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "COSIGN_PASSWORD": COSIGN_PASSWORD,
        }

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], cwd=cwd or self.work, env=self.env,
                              capture_output=True, text=True, timeout=180)

    def verify(self, key: Path, ref: str) -> subprocess.CompletedProcess[str]:
        return self("verify", "--key", str(key), "--insecure-ignore-tlog=true",
                    "--allow-http-registry", ref)

    def verify_attestation(self, key: Path, ref: str) -> subprocess.CompletedProcess[str]:
        return self("verify-attestation", "--key", str(key), "--type", "slsaprovenance1",
                    "--insecure-ignore-tlog=true", "--allow-http-registry", ref)

    def generate_key_pair(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        proc = self("generate-key-pair", cwd=folder)
        assert proc.returncode == 0, proc.stderr
        return folder / "cosign.key", folder / "cosign.pub"


@pytest.fixture()
def cosign(cosign_bin: str, tmp_path: Path) -> Cosign:
    return Cosign(cosign_bin, tmp_path / "cosign")


def wasmforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def payload_digests(stdout: str) -> list[str]:
    """The manifest digests named by the simple-signing payloads `cosign verify` printed."""
    payloads = json.loads(stdout)
    assert all(p["critical"]["type"] == SIMPLE_SIGNING_TYPE for p in payloads), payloads
    return [p["critical"]["image"]["docker-manifest-digest"] for p in payloads]


def attested_statements(stdout: str) -> list[dict]:
    """The in-toto statements of the DSSE envelopes `cosign verify-attestation` printed."""
    return [json.loads(base64.b64decode(json.loads(line)["payload"]))
            for line in stdout.splitlines() if line.strip()]


def fingerprint_of(public: Path) -> str:
    return keyring.fingerprint(keyring.load_public_key(public))


# ------------------------------------------------------------ wasmforge -> cosign


def test_cosign_verify_accepts_a_wasmforge_signed_push(signed_image: tuple[Path, str], keypair,
                                                       registry, cosign: Cosign) -> None:
    path, digest = signed_image
    repo = f"{registry.host}/cosign/accept"
    assert push_image(path, f"{repo}:0.1.0") == digest
    for ref in (f"{repo}:0.1.0", f"{repo}@{digest}"):
        proc = cosign.verify(keypair.public, ref)
        assert proc.returncode == 0, proc.stderr
        assert payload_digests(proc.stdout) == [digest]
        assert "verified against the specified public key" in proc.stderr


def test_a_push_signed_for_its_repository_names_it_as_cosign_does(
        signed_image: tuple[Path, str], keypair, registry, cosign: Cosign) -> None:
    path, digest = signed_image
    repo = f"{registry.host}/cosign/identity"
    push_image(path, f"{repo}:0.1.0", sign_key=keypair.private)
    proc = cosign.verify(keypair.public, f"{repo}:0.1.0")
    assert proc.returncode == 0, proc.stderr
    [payload] = json.loads(proc.stdout)
    assert payload["critical"]["identity"] == {"docker-reference": repo}
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest


def test_cosign_verify_rejects_a_wasmforge_image_under_another_key(
        signed_image: tuple[Path, str], registry, cosign: Cosign, tmp_path: Path) -> None:
    path, _ = signed_image
    ref = f"{registry.host}/cosign/otherkey:0.1.0"
    push_image(path, ref)
    other = keyring.generate_keypair(tmp_path / "other", None)
    proc = cosign.verify(other.public, ref)
    assert proc.returncode != 0
    assert proc.stdout.strip() == ""
    assert "no matching signatures" in proc.stderr, proc.stderr


def test_cosign_verify_rejects_an_unsigned_wasmforge_push(build_image: Build, keypair,
                                                          registry, cosign: Cosign) -> None:
    path, _ = build_image()
    ref = f"{registry.host}/cosign/unsigned:0.1.0"
    push_image(path, ref)
    proc = cosign.verify(keypair.public, ref)
    assert proc.returncode != 0
    assert "no signatures found" in proc.stderr, proc.stderr


def test_cosign_verify_attestation_accepts_wasmforge_provenance(
        signed_image: tuple[Path, str], keypair, registry, cosign: Cosign,
        tmp_path: Path) -> None:
    path, digest = signed_image
    ref = f"{registry.host}/cosign/provenance:0.1.0"
    push_image(path, ref)
    proc = cosign.verify_attestation(keypair.public, ref)
    assert proc.returncode == 0, proc.stderr
    statements = attested_statements(proc.stdout)
    assert len(statements) == 1
    assert statements[0]["predicateType"] == SLSA_PROVENANCE
    assert {"sha256": digest.split(":", 1)[1]} in [s["digest"] for s in statements[0]["subject"]]
    other = keyring.generate_keypair(tmp_path / "other", None)
    refused = cosign.verify_attestation(other.public, ref)
    assert refused.returncode != 0 and refused.stdout.strip() == ""


# ------------------------------------------------------------ cosign -> wasmforge


def test_wasmforge_accepts_an_image_signed_by_cosign(build_image: Build, keypair, registry,
                                                     cosign: Cosign, tmp_path: Path) -> None:
    path, digest = build_image()  # unsigned: cosign writes the .sig artifact from scratch
    repo = f"{registry.host}/cosign/signed-by-cosign"
    push_image(path, f"{repo}:0.1.0")
    cosign_key, cosign_pub = cosign.generate_key_pair(tmp_path / "cosign-keys")
    assert b"ENCRYPTED SIGSTORE PRIVATE KEY" in cosign_key.read_bytes()
    proc = cosign("sign", "--key", str(cosign_key), *CLASSIC_SIGNING, "--yes",
                  "--allow-http-registry", f"{repo}@{digest}")
    assert proc.returncode == 0, proc.stderr

    pulled = tmp_path / "pulled.oci.tar"
    proc = wasmforge("pull", f"{repo}:0.1.0", "-o", str(pulled), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = wasmforge("verify", str(pulled), "--key", str(cosign_pub), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert digest in proc.stderr
    assert fingerprint_of(cosign_pub)[:19] in proc.stderr
    # and a key that did not sign it is refused
    proc = wasmforge("verify", str(pulled), "--key", str(keypair.public), cwd=tmp_path)
    assert proc.returncode != 0
    assert "made by no key trusted" in proc.stderr


def test_cosign_and_wasmforge_signatures_and_attestations_side_by_side(
        signed_image: tuple[Path, str], keypair, registry, cosign: Cosign,
        tmp_path: Path) -> None:
    path, digest = signed_image
    repo = f"{registry.host}/cosign/both"
    push_image(path, f"{repo}:0.1.0")
    cosign_key, cosign_pub = cosign.generate_key_pair(tmp_path / "cosign-keys")
    target = f"{repo}@{digest}"
    proc = cosign("sign", "--key", str(cosign_key), *CLASSIC_SIGNING, "--yes",
                  "--allow-http-registry", target)
    assert proc.returncode == 0, proc.stderr
    predicate = tmp_path / "predicate.json"
    predicate.write_text(json.dumps({
        "buildDefinition": {"buildType": "https://example.com/rebuild/v1",
                            "externalParameters": {}},
        "runDetails": {"builder": {"id": "https://example.com/rebuilder"}}}))
    proc = cosign("attest", "--key", str(cosign_key), "--type", "slsaprovenance1",
                  "--predicate", str(predicate), *CLASSIC_SIGNING, "--yes",
                  "--allow-http-registry", target)
    assert proc.returncode == 0, proc.stderr

    # cosign added its signature beside wasmforge's, and still accepts wasmforge's
    for key in (keypair.public, cosign_pub):
        proc = cosign.verify(key, f"{repo}:0.1.0")
        assert proc.returncode == 0, proc.stderr
        assert set(payload_digests(proc.stdout)) == {digest}
        proc = cosign.verify_attestation(key, f"{repo}:0.1.0")
        assert proc.returncode == 0, proc.stderr

    pulled = pull_image(f"{repo}:0.1.0", tmp_path / "pulled.oci.tar")
    cosign_fp = fingerprint_of(cosign_pub)
    report = verify_image(pulled, [keypair.public, cosign_pub])
    assert report.digest == digest
    assert set(report.signers) == {keypair.fingerprint, cosign_fp}
    assert set(report.provenance_signers) == {keypair.fingerprint, cosign_fp}
    alone = verify_image(pulled, [cosign_pub])
    assert alone.signers == (cosign_fp,) and alone.provenance_signers == (cosign_fp,)
    # the .sig tag is the one cosign computes
    proc = cosign("triangulate", "--allow-http-registry", f"{repo}:0.1.0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{repo}:{sig_tag(digest)}"


def test_both_refuse_a_signature_copied_from_another_image(build_image: Build, keypair,
                                                           registry, cosign: Cosign,
                                                           tmp_path: Path) -> None:
    repo = f"{registry.host}/cosign/copied"
    signed, signed_digest = build_image("signed.oci.tar")
    sign_image(signed, keypair.private)
    other, other_digest = build_image("other.oci.tar", env=("SOMETHING_ELSE",))
    assert other_digest != signed_digest
    push_image(signed, f"{repo}:signed")
    push_image(other, f"{repo}:other")  # unsigned
    media = "application/vnd.oci.image.manifest.v1+json"
    base = f"http://{repo.replace('/', '/v2/', 1)}/manifests"
    get = urllib.request.Request(f"{base}/{sig_tag(signed_digest)}", headers={"Accept": media})
    with urllib.request.urlopen(get, timeout=10) as response:
        signature_manifest = response.read()
    put = urllib.request.Request(f"{base}/{sig_tag(other_digest)}", data=signature_manifest,
                                 method="PUT", headers={"Content-Type": media})
    urllib.request.urlopen(put, timeout=10).close()

    proc = cosign.verify(keypair.public, f"{repo}:other")
    assert proc.returncode != 0 and proc.stdout.strip() == ""
    assert "missing digest in claim" in proc.stderr, proc.stderr
    pulled = pull_image(f"{repo}:other", tmp_path / "pulled.oci.tar")
    with pytest.raises(ImageError, match="another image's digest"):
        verify_image(pulled, [keypair.public])
