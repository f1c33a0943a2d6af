"""The local trust store and the trust policy that maps image names to keys.

Layout under $WASMFORGE_HOME (default ~/.cache/wasmforge):

    trust/keys/<sha256 hex of the key>.pub   public keys `wasmforge keygen` (or add_key) trusted
    trust/policy.json                        optional policy

The store's folders are made 0700 and its files 0600; a store another user could write is
refused, since a key added there decides what runs.

The policy file is JSON:

    {"version": 1,
     "rules": [{"images": "payments-*", "keys": ["sha256:<fingerprint>", "/etc/keys/ops.pub"]}]}

`images` is a shell-style pattern matched against the image name (its
org.opencontainers.image.title). The first matching rule decides: only its keys (by
fingerprint from the store, or by path) are trusted for that image. An image no rule
matches is trusted when signed by any key in the store.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wasmforge import paths
from wasmforge.errors import ImageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class TrustedKey:
    """A public key in the trust store or given with --trust."""

    fingerprint: str
    key: ec.EllipticCurvePublicKey
    source: str  # where it came from, for messages


TRUST_WHAT = "the trust store"


def keys_dir() -> Path:
    return paths.home() / "trust" / "keys"


def check_store() -> None:
    """Refuse a trust store another user could write (see `_checked`)."""
    _checked(policy_path())


def _checked(path: Path) -> Path:
    """`path` (in the trust store) after refusing a store another user could write: whoever
    can add a key there chooses what this user runs."""
    for folder in (paths.home(), paths.home() / "trust", keys_dir()):
        paths.check_private(folder, TRUST_WHAT)
    paths.check_private(path, TRUST_WHAT)
    return path


def policy_path() -> Path:
    return paths.home() / "trust" / "policy.json"


def add_key(public: Path) -> str:
    """Trust a public key for every image no policy rule claims; returns its fingerprint."""
    from wasmforge.image import keys as keyring

    key = keyring.load_public_key(public)
    fp = keyring.fingerprint(key)
    folder = paths.private_dir(keys_dir(), TRUST_WHAT)
    paths.write_private(folder / (fp.split(":", 1)[1] + ".pub"), keyring.public_pem(key))
    return fp


def from_files(paths: list[Path]) -> list[TrustedKey]:
    from wasmforge.image import keys as keyring

    found = []
    for path in paths:
        key = keyring.load_public_key(path)
        found.append(TrustedKey(keyring.fingerprint(key), key, str(path)))
    return found


def stored_keys() -> list[TrustedKey]:
    from wasmforge.image import keys as keyring

    folder = _checked(keys_dir())
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.pub")):
        paths.check_private(path, TRUST_WHAT)
        key = keyring.parse_public_key(path.read_bytes(), str(path))
        found.append(TrustedKey(keyring.fingerprint(key), key, str(path)))
    return found


def load_policy() -> list[dict[str, Any]]:
    path = policy_path()
    if not path.is_file():
        return []
    _checked(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ImageError(f"trust policy {path} is not readable JSON ({err})",
                         fix="fix or remove the file") from None
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if doc.get("version") != 1 or not isinstance(rules, list) or not all(
            isinstance(r, dict) and isinstance(r.get("images"), str)
            and isinstance(r.get("keys"), list) for r in rules):
        raise ImageError(f"trust policy {path} is not a version 1 policy",
                         fix='write {"version": 1, "rules": [{"images": "NAME*", "keys": '
                             '["sha256:..."]}]}')
    return rules


def add_rule(images: str, keys: list[str]) -> None:
    """Append a rule to the policy (creating it): `images` pattern -> fingerprints/paths."""
    rules = load_policy()
    rules.append({"images": images, "keys": keys})
    path = policy_path()
    paths.private_dir(path.parent, TRUST_WHAT)
    paths.write_private(path, (json.dumps({"version": 1, "rules": rules}, indent=2)
                               + "\n").encode())


def keys_for(image_name: str) -> tuple[list[TrustedKey], str]:
    """The keys trusted for `image_name`, and a phrase saying why (for messages)."""
    store = stored_keys()
    for rule in load_policy():
        if fnmatch.fnmatchcase(image_name, rule["images"]):
            chosen: list[TrustedKey] = []
            for ref in rule["keys"]:
                if isinstance(ref, str) and ref.startswith("sha256:"):
                    chosen.extend(k for k in store if k.fingerprint == ref)
                elif isinstance(ref, str):
                    chosen.extend(from_files([Path(ref).expanduser()]))
            return chosen, f"the trust policy rule for '{rule['images']}'"
    return store, f"the trust store {keys_dir()}"
