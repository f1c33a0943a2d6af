"""The content-addressed build cache.

A build's key is the sha256 of everything that can change its output: wasmforge's
version, the manifest, every source file (path and bytes), the pinned toolchain
versions and the build options. Finished outputs are stored under
`$WASMFORGE_HOME/builds/<key>/`, so switching back to an earlier state of a project
also rebuilds with no toolchain call.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wasmforge.paths import home

COMPONENT = "component.wasm"
IMAGE = "image.oci.tar"
RESULT = "result.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def source_digests(root: Path, files: Iterable[Path]) -> dict[str, str]:
    """Relative posix path -> sha256, sorted, for every source file."""
    digests: dict[str, str] = {}
    for path in files:
        absolute = path if path.is_absolute() else root / path
        digests[absolute.relative_to(root).as_posix()] = sha256_file(absolute)
    return dict(sorted(digests.items()))


def build_key(*, wasmforge_version: str, language: str, sources: Mapping[str, str],
              toolchains: Mapping[str, str], options: Mapping[str, object]) -> str:
    material = json.dumps({
        "wasmforge": wasmforge_version, "language": language, "sources": dict(sources),
        "toolchains": dict(sorted(toolchains.items())), "options": dict(sorted(options.items())),
    }, sort_keys=True).encode()
    return hashlib.sha256(material).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    directory: Path

    @property
    def component(self) -> Path:
        return self.directory / COMPONENT

    @property
    def image(self) -> Path:
        return self.directory / IMAGE

    def result(self) -> dict[str, object]:
        return json.loads((self.directory / RESULT).read_text())


def builds_dir() -> Path:
    return home() / "builds"


def lookup(key: str) -> CacheEntry | None:
    entry = CacheEntry(builds_dir() / key)
    complete = all((entry.directory / name).is_file() for name in (COMPONENT, IMAGE, RESULT))
    return entry if complete else None


def store(key: str, component: Path, image: Path, result: Mapping[str, object]) -> CacheEntry:
    """Move finished outputs into the cache atomically (a whole entry or none)."""
    root = builds_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=root))
    shutil.move(component, staging / COMPONENT)
    shutil.move(image, staging / IMAGE)
    (staging / RESULT).write_text(json.dumps(dict(result), indent=2, sort_keys=True))
    final = root / key
    try:
        os.rename(staging, final)
    except OSError:  # a concurrent build stored the same key first: theirs is identical
        shutil.rmtree(staging, ignore_errors=True)
    return CacheEntry(final)


def install_copy(source: Path, dest: Path) -> None:
    """Copy into place atomically: readers never see a half-written file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
