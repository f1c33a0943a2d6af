"""Signing keys: ECDSA P-256 in PEM (what cosign reads), fingerprints, sign and verify.

`generate_keypair` writes PREFIX.key (PKCS#8, mode 0600, optionally encrypted with a
passphrase) and PREFIX.pub (SubjectPublicKeyInfo PEM; `cosign verify --key PREFIX.pub`
accepts it) and trusts the public key in the local trust store. Signatures are
deterministic ECDSA (RFC 6979) over SHA-256, DER-encoded, as cosign writes them: signing
the same payload twice gives the same bytes, so signed images stay reproducible.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wasmforge.errors import ImageError

_Key = TypeVar("_Key", ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)

PASSPHRASE_ENV = "WASMFORGE_KEY_PASSPHRASE"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    fingerprint: str


def _algorithm() -> ec.ECDSA:
    return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, as "sha256:<hex>"."""
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_keypair(prefix: Path, passphrase: str | None) -> KeyPair:
    """Write PREFIX.key and PREFIX.pub (refusing to overwrite) and trust the public key."""
    from wasmforge.image import trust

    prefix = Path(prefix)
    private_path = prefix.with_name(prefix.name + ".key")
    public_path = prefix.with_name(prefix.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ImageError(f"{path} already exists", fix="choose another --out PREFIX or "
                             "move the old key away; wasmforge never overwrites a key")
    try:  # a fresh key directory is private to its owner
        prefix.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise ImageError(f"cannot create the key directory {prefix.parent} ({err.strerror})",
                         fix="choose another --out PREFIX") from None
    key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
        else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        os.chmod(private_path, 0o600)
        public_path.write_bytes(public_pem(key.public_key()))
    except BaseException:
        private_path.unlink(missing_ok=True)
        public_path.unlink(missing_ok=True)
        raise
    trust.add_key(public_path)
    return KeyPair(private=private_path, public=public_path,
                   fingerprint=fingerprint(key.public_key()))


def is_encrypted(path: Path) -> bool:
    try:
        return b"ENCRYPTED" in Path(path).read_bytes()[:100]
    except OSError:
        return False


def load_private_key(path: Path, passphrase: str | None = None) -> ec.EllipticCurvePrivateKey:
    path = Path(path)
    data = _read(path, "signing key", "create one with `wasmforge keygen --out PREFIX`")
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            data, passphrase.encode() if passphrase else None)
    except TypeError:
        raise ImageError(f"signing key {path} is encrypted and no passphrase was given",
                         fix=f"set {PASSPHRASE_ENV} or answer the prompt") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ImageError(f"{path} is not a PEM private key or the passphrase is wrong",
                         fix="pass the PREFIX.key written by `wasmforge keygen`") from None
    return _p256(key, ec.EllipticCurvePrivateKey, f"signing key {path}",
                 "create one with `wasmforge keygen --out PREFIX`")


def parse_public_key(data: bytes, where: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ImageError(f"{where} is not a PEM public key",
                         fix="pass the PREFIX.pub written by `wasmforge keygen`") from None
    return _p256(key, ec.EllipticCurvePublicKey, f"public key {where}",
                 "pass the PREFIX.pub written by `wasmforge keygen`")


def _read(path: Path, what: str, fix: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageError(f"cannot read {what} {path} ({err.strerror})", fix=fix) from None


def _p256(key: object, kind: type[_Key], what: str, fix: str) -> _Key:
    """`key` when it is a `kind` on curve P-256, the only kind wasmforge signs with."""
    if not isinstance(key, kind) or key.curve.name != "secp256r1":
        raise ImageError(f"{what} is not an ECDSA P-256 key", fix=fix)
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    path = Path(path)
    data = _read(path, "public key", "pass the PREFIX.pub written by `wasmforge keygen`")
    if b"PRIVATE KEY" in data:
        raise ImageError(f"{path} is a private key", fix="pass the public key, PREFIX.pub")
    return parse_public_key(data, str(path))


def sign(key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    return key.sign(payload, _algorithm())


def verifies(key: ec.EllipticCurvePublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
