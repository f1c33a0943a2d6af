"""`wasmforge verify`: signature against trusted keys, manifest and every blob digest and size.

The digest and size checks happen while the image is read (reader.open_image); this module
adds the signature and provenance checks and the report the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wasmforge.errors import ImageError
from wasmforge.image import keys as keyring
from wasmforge.image import provenance, trust
from wasmforge.image.reader import ParsedImage, open_image
from wasmforge.image.signing import signatures_of


@dataclass(frozen=True)
class VerifyReport:
    image: str
    name: str
    version: str
    digest: str
    blobs: int
    size: int
    signers: tuple[str, ...]
    provenance_signers: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        who = ", ".join(short(s) for s in self.signers) or "nobody"
        text = (f"{self.name} {self.version} {self.digest}: {self.blobs} blobs "
                f"({self.size:,} bytes) intact, signed by {who}")
        if self.provenance_signers:
            text += ", provenance signed"
        return text


def short(fingerprint: str) -> str:
    return fingerprint[:19]


def trusted_keys(parsed: ParsedImage, keys: list[Path]) -> tuple[list[trust.TrustedKey], str]:
    if keys:
        return trust.from_files(keys), "the keys given"
    return trust.keys_for(parsed.name)


def check_signatures(parsed: ParsedImage, keys: list[Path], *, required: bool) -> list[str]:
    """Fingerprints of the trusted keys that signed the image; ImageError if `required`
    and there are none."""
    candidates, why = trusted_keys(parsed, keys)
    present = signatures_of(parsed)
    signatures = [s for s in present if s.signature and s.covers_image]
    signers = [key.fingerprint for key in candidates
               if any(keyring.verifies(key.key, s.signature or b"", s.payload)
                      for s in signatures)]
    if signers or not required:
        return signers
    where = parsed.where
    if present and not signatures:
        raise ImageError("the image's signatures name another image's digest, not this one's",
                         where=where, fix="refuse it: signatures were copied from elsewhere")
    if not signatures:
        raise ImageError("the image is not signed", where=where,
                         fix="sign it with `wasmforge sign IMAGE --key KEY` (or run it with "
                             "--insecure-allow-unsigned if you accept the risk)")
    if not candidates:
        raise ImageError(f"the image is signed but no key is trusted by {why}", where=where,
                         fix="pass the signer's public key with --key/--trust or trust it "
                             "with `wasmforge keygen` on this machine")
    raise ImageError(f"the image's signature was made by no key trusted by {why}",
                     where=where, fix="refuse it, or pass the signer's public key with "
                                      "--key/--trust if you trust them")


def check_provenance(parsed: ParsedImage, keys: list[Path]) -> list[str]:
    if parsed.attestations is None:
        return []
    candidates, _why = trusted_keys(parsed, keys)
    found: list[str] = []
    for layer in parsed.attestations["layers"]:
        data = parsed.layout.blobs[layer["digest"]]
        statement = provenance.decode_statement(data)
        subjects = statement.get("subject") if isinstance(statement, dict) else None
        digests = [s.get("digest", {}).get("sha256") for s in subjects or []
                   if isinstance(s, dict) and isinstance(s.get("digest"), dict)]
        if parsed.digest.split(":", 1)[1] not in digests:
            raise ImageError("the provenance statement describes another image",
                             where=parsed.where, fix="refuse it")
        found.extend(f for f in provenance.verified_signers(data, candidates) if f not in found)
    return found


def verify_image(image: Path, keys: list[Path]) -> VerifyReport:
    parsed = open_image(image)
    signers = check_signatures(parsed, list(keys), required=True)
    provenance_signers = check_provenance(parsed, list(keys))
    blobs = parsed.layout.blobs
    return VerifyReport(image=str(image), name=parsed.name, version=parsed.version,
                        digest=parsed.digest, blobs=len(blobs),
                        size=sum(len(b) for b in blobs.values()), signers=tuple(signers),
                        provenance_signers=tuple(provenance_signers))
