"""Key generation, the trust store and the trust policy."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wasmforge.errors import ImageError
from wasmforge.image import keys, trust


def test_keygen_writes_a_private_key_0600_and_a_cosign_usable_public_key(tmp_path: Path) -> None:
    pair = keys.generate_keypair(tmp_path / "dev", None)
    assert pair.private == tmp_path / "dev.key" and pair.public == tmp_path / "dev.pub"
    assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    public = serialization.load_pem_public_key(pair.public.read_bytes())
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    assert pair.public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private = serialization.load_pem_private_key(pair.private.read_bytes(), None)
    assert keys.fingerprint(private.public_key()) == pair.fingerprint  # type: ignore[arg-type]


def test_keygen_trusts_the_public_key(tmp_path: Path) -> None:
    pair = keys.generate_keypair(tmp_path / "dev", None)
    stored = trust.stored_keys()
    assert [k.fingerprint for k in stored] == [pair.fingerprint]
    assert str(trust.keys_dir()).startswith(str(tmp_path / "wasmforge-home"))


def test_passphrase_protects_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = keys.generate_keypair(tmp_path / "dev", "correct horse")
    assert keys.is_encrypted(pair.private)
    with pytest.raises(ImageError, match="encrypted and no passphrase"):
        keys.load_private_key(pair.private)
    with pytest.raises(ImageError, match="passphrase is wrong"):
        keys.load_private_key(pair.private, "wrong")
    assert keys.load_private_key(pair.private, "correct horse")
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "correct horse")
    assert keys.load_private_key(pair.private)


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    keys.generate_keypair(tmp_path / "dev", None)
    before = (tmp_path / "dev.key").read_bytes()
    with pytest.raises(ImageError, match="already exists"):
        keys.generate_keypair(tmp_path / "dev", None)
    assert (tmp_path / "dev.key").read_bytes() == before


def test_keygen_creates_a_private_key_directory(tmp_path: Path) -> None:
    pair = keys.generate_keypair(tmp_path / ".wasmforge" / "me", None)
    assert pair.private.is_file()
    assert stat.S_IMODE((tmp_path / ".wasmforge").stat().st_mode) == 0o700


def test_keygen_where_no_directory_can_be_made_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ImageError, match="cannot create the key directory"):
        keys.generate_keypair(tmp_path / "file" / "dev", None)


def test_wrong_key_files_are_refused(tmp_path: Path) -> None:
    pair = keys.generate_keypair(tmp_path / "dev", None)
    with pytest.raises(ImageError, match="is a private key"):
        keys.load_public_key(pair.private)
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(ImageError, match="not a PEM public key"):
        keys.load_public_key(tmp_path / "junk.pub")
    rsa_like = tmp_path / "ed.key"
    from cryptography.hazmat.primitives.asymmetric import ed25519

    rsa_like.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(ImageError, match="not an ECDSA P-256 key"):
        keys.load_private_key(rsa_like)


def test_policy_rules_pick_keys_by_image_name(tmp_path: Path) -> None:
    alice = keys.generate_keypair(tmp_path / "alice", None)
    bob = keys.generate_keypair(tmp_path / "bob", None)
    trust.add_rule("payments-*", [bob.fingerprint])
    trust.add_rule("ops-*", [str(alice.public)])
    chosen, why = trust.keys_for("payments-api")
    assert [k.fingerprint for k in chosen] == [bob.fingerprint] and "payments-*" in why
    chosen, _ = trust.keys_for("ops-tool")
    assert [k.fingerprint for k in chosen] == [alice.fingerprint]
    chosen, why = trust.keys_for("hello")
    assert {k.fingerprint for k in chosen} == {alice.fingerprint, bob.fingerprint}
    assert "trust store" in why


def test_a_broken_policy_is_one_sentence() -> None:
    trust.policy_path().parent.mkdir(parents=True)
    trust.policy_path().write_text('{"version": 7}')
    with pytest.raises(ImageError, match="not a version 1 policy"):
        trust.keys_for("hello")
