"""Helpers the image tests share (conftest holds the fixtures)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from wasmforge.image.model import ProvenanceInputs
from wasmforge.project import Capabilities, Limits, Mount, Project


def make_project(root: Path, **caps: object) -> Project:
    capabilities = Capabilities(env=("GREETING",), mounts=(Mount("/data", "ro"),),
                                network=("https://api.example.com:443",), tools=("add",),
                                limits=Limits(memory_bytes=32 * 1024 * 1024, timeout_s=2.5))
    if caps:
        capabilities = Capabilities(**{**capabilities.__dict__, **caps})
    return Project(root=root, name="hello", version="0.1.0", language="c",
                   capabilities=capabilities)


PROVENANCE = ProvenanceInputs(
    sources={"main.c": "sha256:" + "ab" * 32, "wasmforge.toml": "sha256:" + "cd" * 32},
    toolchains={"zig": "0.17.0", "wasm-tools": "1.262.0"}, wasmforge_version="0.1.0",
    build_started=1700000000, build_finished=1700000000)


def tar_members(path: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(path) as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                for m in tar.getmembers()]


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buffer.getvalue())

