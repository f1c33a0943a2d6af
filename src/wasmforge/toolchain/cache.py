"""The content-addressed build cache.

A build's key is the sha256 of everything that can change its output: wasmforge's
version and its own build code (`build_code_fingerprint`), the manifest, every source
file (path and bytes), the pinned toolchain versions and the build options. Finished
outputs are stored under `$WASMFORGE_HOME/builds/<key>/`, so switching back to an earlier
state of a project also rebuilds with no toolchain call.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from wasmforge.paths import home

COMPONENT = "component.wasm"
IMAGE = "image.oci.tar"
RESULT = "result.json"
# result.json's own record of the outputs' hashes, checked on every lookup
HASHES = "outputs"
WORK_LOCK = ".wasmforge-build.lock"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


# The parts of wasmforge whose code decides what a build makes (drivers, glue, templates).
_BUILD_CODE = ("languages", "toolchain", "guest", "templates", "image")


_PACKAGE = Path(__file__).resolve().parent.parent


@functools.cache
def build_code_fingerprint(package: Path = _PACKAGE) -> str:
    """The build code's files as they are: path, size and modification time (a stat, not a
    read, on every build's no-op path). With an edited or updated install the cache misses
    instead of answering with what the old code built; a checkout that only touches files
    rebuilds once, to the same bytes."""
    digest = hashlib.sha256()
    for part in _BUILD_CODE:
        for path in sorted((package / part).rglob("*")):
            if "__pycache__" in path.parts or "target" in path.parts or not path.is_file():
                continue
            stat = path.stat()
            digest.update(f"{path.relative_to(package).as_posix()}\0{stat.st_size}\0"
                          f"{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


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
        data = json.loads((self.directory / RESULT).read_text())
        if not isinstance(data, dict):
            raise ValueError("result.json is not a JSON object")
        return data

    def damage(self) -> str:
        """Why this entry cannot be used as it is ("" when it can)."""
        try:
            result = self.result()
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return f"its {RESULT} is unreadable"
        hashes = result.get(HASHES)
        fields = (("digest", str), ("component_size", int))
        if not isinstance(hashes, dict) or not all(isinstance(result.get(k), t)
                                                   for k, t in fields):
            return f"its {RESULT} lacks the fields this wasmforge records"
        for name in (COMPONENT, IMAGE):
            try:
                actual = sha256_file(self.directory / name)
            except OSError:
                return f"its {name} is missing"
            if hashes.get(name) != actual:
                return f"its {name} does not hash to what was stored"
        return ""


Discarded = Callable[[str], None]


def builds_dir() -> Path:
    return home() / "builds"


def lookup(key: str, discarded: Discarded | None = None) -> CacheEntry | None:
    """The cached entry for `key`, checked; a damaged one is removed (and reported to
    `discarded` in one sentence), so that the caller builds it afresh."""
    entry = CacheEntry(builds_dir() / key)
    if not entry.directory.is_dir():
        return None
    why = entry.damage()
    if not why:
        return entry
    shutil.rmtree(entry.directory, ignore_errors=True)
    if discarded is not None:
        discarded(f"the cached build {entry.directory} was damaged ({why}); "
                  "discarded it and building again.")
    return None


def store(key: str, component: Path, image: Path, result: Mapping[str, object]) -> CacheEntry:
    """Move finished outputs into the cache atomically (a whole entry or none)."""
    root = builds_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=root))
    shutil.move(component, staging / COMPONENT)
    shutil.move(image, staging / IMAGE)
    hashes = {name: sha256_file(staging / name) for name in (COMPONENT, IMAGE)}
    (staging / RESULT).write_text(json.dumps({**result, HASHES: hashes}, indent=2,
                                             sort_keys=True))
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


@contextlib.contextmanager
def work_dir(name: str) -> Iterator[Path]:
    """A temporary folder `wasmforge-NAME-*` for one build, locked while the build runs, so
    that `sweep_stale` can tell a killed build's leftovers from a running build's folder."""
    with tempfile.TemporaryDirectory(prefix=f"wasmforge-{name}-") as tmp, \
            (Path(tmp) / WORK_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield Path(tmp)


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove the work folders of builds that were killed (their lock is free); returns them."""
    removed: list[Path] = []
    root = Path(parent or tempfile.gettempdir())
    for lock_path in root.glob(f"wasmforge-*/{WORK_LOCK}"):
        try:
            with lock_path.open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(lock_path.parent, ignore_errors=True)
                removed.append(lock_path.parent)
        except OSError:  # held: a build is running there; or already gone
            continue
    return removed
