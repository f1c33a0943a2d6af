"""Every bad image is refused with one sentence: tampering, damage and hostile archives."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from image_helpers import tar_members, write_tar

from wasmforge.errors import ImageError
from wasmforge.image.layout import (
    OCI_MANIFEST_MEDIA_TYPE,
    REF_NAME,
    WASM_CONFIG_MEDIA_TYPE,
    OciLayout,
    canonical_json,
    descriptor,
    sha256_digest,
    write_layout,
)
from wasmforge.image.model import CAPABILITIES_MEDIA_TYPE
from wasmforge.image.reader import load_image, load_image_bytes, open_image
from wasmforge.image.signing import sign_image
from wasmforge.project import Capabilities

Build = Callable[..., tuple[Path, str]]


def refused(path: Path, match: str, **kwargs: object) -> str:
    with pytest.raises(ImageError, match=match) as caught:
        load_image(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".")
    return message


def test_a_good_image_loads_with_everything_the_runtime_needs(
        signed_image: tuple[Path, str], keypair, component: bytes) -> None:
    path, digest = signed_image
    loaded = load_image(path, trust=[keypair.public])
    assert (loaded.name, loaded.version, loaded.language) == ("hello", "0.1.0", "c")
    assert loaded.digest == digest and loaded.component == component
    assert isinstance(loaded.capabilities, Capabilities)
    assert loaded.capabilities.env == ("GREETING",)
    assert loaded.capabilities.limits.timeout_s == 2.5
    assert any(e.startswith("wasi:cli/run@") for e in loaded.wit.exports)
    assert loaded.signers == (keypair.fingerprint,)
    assert loaded.layer("application/vnd.wasmforge.precompiled.wasmtime.v1") is not None
    assert loaded.layer(CAPABILITIES_MEDIA_TYPE) is None  # carried as .capabilities


def _rewrite(path: Path, edit: Callable[[str, bytes], bytes | None]) -> None:
    members = []
    for info, data in tar_members(path):
        if data is not None:
            new = edit(info.name, data)
            if new is None:
                continue
            info.size = len(new)
            data = new
        members.append((info, data))
    write_tar(path, members)


def test_a_flipped_byte_in_any_blob_is_refused(signed_image: tuple[Path, str]) -> None:
    path, _ = signed_image
    original = path.read_bytes()
    blobs = [info.name for info, data in tar_members(path) if info.name.startswith("blobs/")
             and data is not None]
    assert len(blobs) >= 10
    for name in blobs:
        path.write_bytes(original)

        def flip(member: str, data: bytes, target: str = name) -> bytes:
            if member != target:
                return data
            middle = len(data) // 2
            return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]

        _rewrite(path, flip)
        refused(path, "is corrupt")


def test_an_edited_manifest_is_refused(signed_image: tuple[Path, str]) -> None:
    path, digest = signed_image

    def edit(member: str, data: bytes) -> bytes:
        if member == f"blobs/sha256/{digest[7:]}":
            return data.replace(b'"c"', b'"go"')
        return data

    _rewrite(path, edit)
    refused(path, "is corrupt")


def _rehash_image_manifest(path: Path, digest: str, change: Callable[[dict], None],
                           keep_signature: bool) -> None:
    """Edit the image manifest and re-address it consistently, as a careful attacker would."""
    files = {info.name: data for info, data in tar_members(path) if data is not None}
    manifest = json.loads(files.pop(f"blobs/sha256/{digest[7:]}"))
    change(manifest)
    data = canonical_json(manifest)
    new_digest = sha256_digest(data)
    files[f"blobs/sha256/{new_digest[7:]}"] = data
    index = json.loads(files["index.json"])
    entries = []
    for entry in index["manifests"]:
        if entry["digest"] == digest:
            entry.update(digest=new_digest, size=len(data))
        elif not keep_signature:
            continue
        entries.append(entry)
    index["manifests"] = entries
    files["index.json"] = canonical_json(index)
    members = []
    for name, blob in sorted(files.items()):
        info = tarfile.TarInfo(name)
        info.size = len(blob)
        members.append((info, blob))
    write_tar(path, members)


def test_an_edited_and_readdressed_manifest_loses_its_signature(
        signed_image: tuple[Path, str]) -> None:
    path, digest = signed_image
    original = path.read_bytes()

    def more_power(manifest: dict) -> None:
        manifest["annotations"]["dev.wasmforge.language"] = "rust"

    _rehash_image_manifest(path, digest, more_power, keep_signature=True)
    refused(path, "belongs to another image")
    path.write_bytes(original)
    _rehash_image_manifest(path, digest, more_power, keep_signature=False)
    refused(path, "not signed")


def test_an_edited_config_is_refused(signed_image: tuple[Path, str]) -> None:
    path, digest = signed_image
    config_digest = json.loads(open_image(path).layout.blobs[digest])["config"]["digest"]

    def edit(member: str, data: bytes) -> bytes:
        if member == f"blobs/sha256/{config_digest[7:]}":
            return data.replace(b"wasip2", b"wasip3")
        return data

    _rewrite(path, edit)
    refused(path, "is corrupt")


def test_swapped_capabilities_layer_breaks_the_manifest(signed_image: tuple[Path, str]) -> None:
    """A new capabilities blob under its own digest is simply not the one the manifest names."""
    path, digest = signed_image
    parsed = open_image(path)
    caps_desc = next(d for d in parsed.manifest["layers"]
                     if d["mediaType"] == CAPABILITIES_MEDIA_TYPE)
    wider = parsed.layout.blobs[caps_desc["digest"]].replace(b'"isolation":"wasm"',
                                                             b'"isolation":"wasm","x":1')

    def edit(member: str, data: bytes) -> bytes | None:
        if member == f"blobs/sha256/{caps_desc['digest'][7:]}":
            return None
        return data

    _rewrite(path, edit)
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo(f"blobs/sha256/{sha256_digest(wider)[7:]}")
        info.size = len(wider)
        tar.addfile(info, io.BytesIO(wider))
    refused(path, "missing blob")


@pytest.mark.parametrize("content", [b"", b"hello world\n", bytes(range(256)) * 40,
                                     b"\0" * 10240, b"\x1f\x8b\x08\0garbage-gzip"],
                         ids=["empty", "text", "binary", "zeros", "gzip-ish"])
def test_garbage_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.oci.tar"
    path.write_bytes(content)
    refused(path, "not an OCI image|damaged|truncated|not an OCI image layout")


@pytest.mark.parametrize("cut", [0.05, 0.3, 0.5, 0.8, 0.97, 0.9999, "no-end-marker",
                                 "half-end-marker"])
def test_a_truncated_archive_is_refused(signed_image: tuple[Path, str], cut: float | str) -> None:
    path, _ = signed_image
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    content_end = last.offset_data + ((last.size + 511) // 512) * 512
    keep = {"no-end-marker": content_end, "half-end-marker": content_end + 512}.get(
        cut, int(content_end * cut) if isinstance(cut, float) else 0)
    path.write_bytes(data[:keep])
    refused(path, "truncated|damaged|declares|missing|not an OCI image")


def test_truncated_at_an_entry_boundary_is_refused(signed_image: tuple[Path, str]) -> None:
    path, _ = signed_image
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    path.write_bytes(path.read_bytes()[:last.offset])
    refused(path, "truncated|not an OCI image layout")


def _hostile(path: Path, info: tarfile.TarInfo, data: bytes | None = None) -> None:
    members = tar_members(path)
    members.insert(2, (info, data))
    write_tar(path, members)


@pytest.mark.parametrize(("name", "kind", "match"), [
    ("../../etc/evil", tarfile.REGTYPE, "climbs out with '..'"),
    ("blobs/../../evil", tarfile.REGTYPE, "climbs out with '..'"),
    ("/etc/passwd", tarfile.REGTYPE, "absolute path"),
    ("blobs/sha256/link", tarfile.SYMTYPE, "link"),
    ("blobs/sha256/hard", tarfile.LNKTYPE, "link"),
    ("blobs/sha256/tty", tarfile.CHRTYPE, "device"),
    ("blobs/sha256/disk", tarfile.BLKTYPE, "device"),
    ("blobs/sha256/pipe", tarfile.FIFOTYPE, "device or fifo"),
    ("notes.txt", tarfile.REGTYPE, "unexpected file"),
    ("blobs/sha256/not-a-digest", tarfile.REGTYPE, "unexpected file"),
    ("blobs/other", tarfile.DIRTYPE, "unexpected directory"),
])
def test_hostile_entries_are_refused(signed_image: tuple[Path, str], tmp_path: Path,
                                     name: str, kind: bytes, match: str) -> None:
    path, _ = signed_image
    info = tarfile.TarInfo(name)
    info.type = kind
    data = None
    if kind == tarfile.REGTYPE:
        data = b"pwned"
        info.size = len(data)
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "/etc/shadow"
    _hostile(path, info, data)
    refused(path, match)
    assert sorted(p.name for p in tmp_path.iterdir() if "evil" in p.name) == []


def test_duplicate_entries_are_refused(signed_image: tuple[Path, str]) -> None:
    path, _ = signed_image
    members = tar_members(path)
    index = next(m for m in members if m[0].name == "index.json")
    write_tar(path, [*members, index])
    refused(path, "twice")


def test_a_tar_entry_larger_than_the_archive_is_refused(signed_image: tuple[Path, str]) -> None:
    path, _ = signed_image
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    info = tarfile.TarInfo("blobs/sha256/" + "0" * 64)
    info.size = 10**6
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    body = data[:last.offset_data + ((last.size + 511) // 512) * 512]
    path.write_bytes(body + header + b"x" * 100 + b"\0" * 1024)
    refused(path, "declares 1000000 bytes, more than the archive holds")


def _edit_index(path: Path, change: Callable[[dict], None]) -> None:
    def edit(member: str, data: bytes) -> bytes:
        if member == "index.json":
            index = json.loads(data)
            change(index)
            return canonical_json(index)
        return data

    _rewrite(path, edit)


def test_a_declared_size_larger_than_the_blob_is_refused(signed_image: tuple[Path, str]) -> None:
    path, _ = signed_image
    _edit_index(path, lambda index: index["manifests"][0].update(
        size=index["manifests"][0]["size"] + 100))
    refused(path, "declares .* bytes but blob .* holds")


def test_an_unknown_media_type_in_the_index_is_refused(signed_image: tuple[Path, str]) -> None:
    path, _ = signed_image
    _edit_index(path, lambda index: index["manifests"][0].update(
        mediaType="application/vnd.evil.manifest+json"))
    refused(path, "unknown media type 'application/vnd.evil.manifest\\+json'")


def test_an_unknown_layer_media_type_is_refused_even_when_signed(
        tmp_path: Path, keypair, component: bytes) -> None:
    layout = OciLayout()
    layers = [descriptor("application/wasm", component),
              descriptor("application/x-shellscript", b"rm -rf /")]
    for blob in (component, b"rm -rf /"):
        layout.add_blob(blob)
    config = canonical_json({"architecture": "wasm", "os": "wasip2"})
    layout.add_blob(config)
    layout.add_manifest({"schemaVersion": 2, "mediaType": OCI_MANIFEST_MEDIA_TYPE,
                         "config": descriptor(WASM_CONFIG_MEDIA_TYPE, config),
                         "layers": layers}, "1.0")
    path = tmp_path / "odd.oci.tar"
    write_layout(path, layout)
    refused(path, "unknown media type 'application/x-shellscript'")
    with pytest.raises(ImageError, match="unknown media type .application/x-shellscript."):
        sign_image(path, keypair.private)


def test_an_image_without_a_wasm_manifest_is_refused(tmp_path: Path) -> None:
    layout = OciLayout()
    config = layout.add_blob(b"{}")
    layout.manifests.append({"mediaType": OCI_MANIFEST_MEDIA_TYPE,
                             "digest": config, "size": 2, "annotations": {REF_NAME: "x"}})
    path = tmp_path / "x.oci.tar"
    layout.blobs = {config: b"{}"}
    files = [("blobs/", None), ("blobs/sha256/", None)]
    members = []
    for name, blob in [*files, (f"blobs/sha256/{config[7:]}", b"{}"),
                       ("index.json", canonical_json(layout.index())),
                       ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')]:
        info = tarfile.TarInfo(name)
        if blob is None:
            info.type = tarfile.DIRTYPE
        else:
            info.size = len(blob)
        members.append((info, blob))
    write_tar(path, members)
    refused(path, "not an OCI image manifest|neither a wasm image")


def test_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    refused(tmp_path / "nothing.oci.tar", "does not exist")


def test_bytes_entry_point_matches_the_path_one(signed_image: tuple[Path, str], keypair) -> None:
    path, digest = signed_image
    loaded = load_image_bytes(path.read_bytes(), trust=[keypair.public])
    assert loaded.digest == digest


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, timeout=300)


def _one_sentence(done: subprocess.CompletedProcess[str], phrase: str) -> None:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = [line for line in done.stderr.splitlines()
             if line.strip() and not line.startswith("warning: --insecure")]
    assert len(lines) == 1 and phrase in lines[0], done.stderr


def test_deeply_nested_index_json_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "nested.oci.tar"
    members = []
    for name, blob in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                       ("index.json", b"[" * 100_000)):
        info = tarfile.TarInfo(name)
        info.size = len(blob)
        members.append((info, blob))
    write_tar(path, members)
    refused(path, "its index.json nests JSON too deeply to be an image's")
    for command in (["run", str(path), "--insecure-allow-unsigned"], ["inspect", str(path)],
                    ["verify", str(path)]):
        _one_sentence(_cli(*command), "nests JSON too deeply")


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.oci.tar"
    with huge.open("wb") as handle:  # sparse: 5 GiB on paper, nothing on disk
        handle.truncate(5 * 1024**3)
    refused(huge, r"is 5368709120 bytes, larger than the 4294967296 bytes an image may have")
    # under a 1 GiB address-space cap a whole read would fail with MemoryError
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
            "from wasmforge.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "run", str(huge)], capture_output=True,
                          text=True, timeout=120)
    _one_sentence(done, "larger than the 4294967296 bytes an image may have")
