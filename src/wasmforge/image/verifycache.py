"""Signature checks done once per image and trust, not on every run.

Whether an image is signed by a trusted key is a pure function of what was checked: the
image's manifest digest (every blob of which the reader hashed again on this run), its
signature manifest, and the trusted keys (the `--trust` files, or the trust store's keys
and policy). The runtime hashes those inputs; when a sealed entry for that hash says who
signed, the answer is reused without loading a key or the cryptography library. Entries
are written only for a successful check and sealed with the per-user key (userkey.py), in
a folder only this user can write, so nobody else can plant "verified". A policy rule that
names a key file outside the store is not cached (its file could change unseen).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from wasmforge import userkey
from wasmforge.errors import WasmforgeError
from wasmforge.image import trust
from wasmforge.image.reader import ParsedImage
from wasmforge.paths import is_private, private_dir, runtime_cache, write_private


def signers(parsed: ParsedImage, keys: list[Path], *, required: bool) -> list[str]:
    """As verify.check_signatures (same answers, same refusals), remembered."""
    if parsed.signatures is None and not required:
        return []  # nothing to check
    inputs = _inputs(parsed, keys)
    if inputs is not None:
        found = _recall(inputs)
        if found:
            return found
    from wasmforge.image.verify import check_signatures

    found = check_signatures(parsed, keys, required=required)
    if inputs is not None and found:
        _remember(inputs, found)
    return found


def _inputs(parsed: ParsedImage, keys: list[Path]) -> str | None:
    """The hash of everything the check depends on, or None where it cannot be cached."""
    digest = hashlib.sha256(b"wasmforge-signers-v1")
    for part in (parsed.name, parsed.digest, json.dumps(parsed.signatures, sort_keys=True)):
        _add(digest, part.encode())
    try:
        sources = keys if keys else _store_files()
        if sources is None:
            return None
        for path in sources:
            _add(digest, str(path).encode())
            _add(digest, Path(path).read_bytes())
    except OSError:
        return None  # the full check says what is wrong
    return digest.hexdigest()


def _store_files() -> list[Path] | None:
    trust.check_store()
    files = sorted(trust.keys_dir().glob("*.pub")) if trust.keys_dir().is_dir() else []
    policy = trust.policy_path()
    if policy.is_file():
        try:
            rules = json.loads(policy.read_bytes()).get("rules")
            refs = [ref for rule in rules for ref in rule["keys"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if not all(isinstance(ref, str) and ref.startswith("sha256:") for ref in refs):
            return None
        files.append(policy)
    return files


def _add(digest: Any, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "little") + data)


def _entry(inputs: str) -> Path:
    return runtime_cache("verified") / inputs


def _recall(inputs: str) -> list[str]:
    path = _entry(inputs)
    if not is_private(path):
        return []
    try:
        doc = json.loads(path.read_bytes())
        found, tag = doc["signers"], doc["mac"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not (isinstance(found, list) and all(isinstance(f, str) for f in found)
            and isinstance(tag, str) and userkey.vouches(tag, "signers", inputs, *found)):
        return []
    return found


def _remember(inputs: str, found: list[str]) -> None:
    doc = {"signers": found, "mac": userkey.mac("signers", inputs, *found)}
    with contextlib.suppress(OSError, WasmforgeError):  # then it is checked again next time
        write_private(private_dir(_entry(inputs).parent, "the verification cache")
                      / inputs, json.dumps(doc).encode())
