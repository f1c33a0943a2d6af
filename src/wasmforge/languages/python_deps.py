"""requirements.txt resolved for the guest's Python, not the host's.

The guest is componentize-py 0.25.1's CPython 3.14 on WASI, which can import pure Python
only. pip resolves for that interpreter (`--python-version 3.14 --platform any
--only-binary=:all:`), so it picks pure wheels and never the host's cp311 builds.

pip resolves for another interpreter only from wheels, so the host's pip first resolves the
requirements as usual (`--dry-run --report`) to find the packages it would take from a
platform wheel or an sdist. For each, the guest's pure wheel of that version comes from PyPI
when one is published; otherwise (markupsafe and pyyaml publish only platform wheels and an
sdist) it is built from its sdist with every compiler replaced by `false`: packages whose
speedups are optional (they catch the failed compile) yield a wheel without native code,
which is retagged `py3-none-any` and kept in a wheelhouse under $WASMFORGE_HOME, so later
builds reuse it. A package whose build needs the compiler is refused, naming the source it
had to compile (or, for a wheel-only package, the native file in its wheel).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from wasmforge import paths
from wasmforge.errors import BuildFailed
from wasmforge.languages.tools import run_tool

GUEST_PYTHON = "3.14"  # the CPython that componentize-py 0.25.1 embeds
_GUEST_TARGET = ("--python-version", GUEST_PYTHON, "--implementation", "cp",
                 "--abi", "cp" + GUEST_PYTHON.replace(".", ""), "--abi", "abi3", "--abi", "none",
                 "--platform", "any", "--only-binary=:all:")
_PIP = (sys.executable, "-m", "pip")
_QUIET = ("--disable-pip-version-check", "--no-input")
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_NATIVE_SOURCES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs", ".f", ".f90")
# Compilers a build backend may call (setuptools, meson, cmake, setuptools-rust, maturin).
_NO_COMPILERS = ("CC", "CXX", "LDSHARED", "FC", "CARGO", "RUSTC")
_COMPILED = re.compile(r"\s-c\s+['\"]?([\w./+-]+\.(?:c|cc|cpp|cxx|pyx))\b")


def wheelhouse() -> Path:
    """Pure wheels built here from sdists, reused by every later build."""
    folder = paths.home() / "cache" / "python-wheels"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def install_for_guest(requirements: Path, dest: Path) -> None:
    """Install `requirements` into `dest` as the guest's Python sees them, first making
    pure wheels for the packages that publish none; raises BuildFailed for native-only ones.

    pip can resolve for another interpreter only from wheels, so the host resolves once
    (sdists allowed) to learn which packages have no pure wheel. The host's markers may
    ask for packages the guest does not (`python_version < "3.12"`): a refused one counts
    only if the guest's resolution then fails."""
    refusals = []
    for name, version in _without_pure_wheel(requirements):
        try:
            _ensure_pure_wheel(name, version, requirements)
        except BuildFailed as refused:
            refusals.append(refused)
    if dest.exists():
        shutil.rmtree(dest)
    try:
        run_tool([*_PIP, "install", *_QUIET, "--quiet", "--no-warn-script-location",
                  "--no-compile", "--target", dest, *_GUEST_TARGET, "--find-links",
                  wheelhouse(), "-r", requirements],
                 what=f"pip install -r {requirements.name} (for the guest's Python "
                      f"{GUEST_PYTHON})", cwd=requirements.parent)
    except BuildFailed as failed:
        if refusals:  # the reason, where pip can only say that no version fits
            raise refusals[0] from None
        raise BuildFailed(failed.what, where=str(requirements),
                          fix="list only packages that exist on PyPI and run on Python "
                              f"{GUEST_PYTHON}, then build again") from None


def _without_pure_wheel(requirements: Path) -> list[tuple[str, str]]:
    """(name, version) of each package the host's resolution takes from a platform wheel
    or an sdist; none where the host cannot resolve (the guest's pip then says why)."""
    try:
        report = run_tool([*_PIP, "install", *_QUIET, "--quiet", "--dry-run",
                           "--ignore-installed", "--report", "-", "-r", requirements],
                          what=f"pip install --dry-run -r {requirements.name}",
                          cwd=requirements.parent)
        chosen = json.loads(report)["install"]
    except (BuildFailed, ValueError, KeyError):
        return []
    return [(item["metadata"]["name"], item["metadata"]["version"]) for item in chosen
            if not _is_pure(item["download_info"]["url"].rpartition("/")[2])]


def _is_pure(filename: str) -> bool:
    tags = filename.removesuffix(".whl").split("-")
    return filename.endswith(".whl") and tags[-2:] == ["none", "any"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _in_wheelhouse(name: str, version: str) -> bool:
    """Whether a sound pure wheel of name==version is kept; a damaged one is discarded."""
    for wheel in wheelhouse().glob("*.whl"):
        parts = wheel.name.split("-")
        if _canonical(parts[0]) != _canonical(name) or parts[1] != version \
                or not _is_pure(wheel.name):
            continue
        try:
            with zipfile.ZipFile(wheel) as zipped:
                if zipped.testzip() is None:
                    return True
        except (OSError, zipfile.BadZipFile):
            pass
        wheel.unlink(missing_ok=True)
    return False


def _ensure_pure_wheel(name: str, version: str, requirements: Path) -> None:
    """Put a pure wheel of name==version in the wheelhouse: PyPI's own for the guest if
    there is one, else one built from the sdist without a compiler; or refuse it."""
    if _in_wheelhouse(name, version):
        return
    requirement = f"{name}=={version}"
    with tempfile.TemporaryDirectory(prefix="wasmforge-pywheel-") as tmp:
        scratch = Path(tmp)
        published = _download(requirement, name, scratch / "guest", binary=True,
                              guest=True)
        if published is not None:
            _place(published, wheelhouse() / published.name)
            return
        sdist = _download(requirement, name, scratch / "sdist", binary=False)
        if sdist is None:
            wheel = _download(requirement, name, scratch / "wheel", binary=True)
            raise _native(name, _first_native(wheel) if wheel else None, requirements)
        try:
            run_tool([*_PIP, "wheel", *_QUIET, "--no-cache-dir", "--no-deps",
                      "--wheel-dir", scratch / "built", sdist],
                     what=f"building {sdist.name} without native code", env=_no_compilers())
        except BuildFailed as failed:
            compiled = _COMPILED.search(failed.what)
            source = compiled.group(1) if compiled else _first_native(sdist)
            if source is None:  # not for want of a compiler: pip's words say why
                raise BuildFailed(failed.what, where=str(requirements)) from None
            raise _native(name, source, requirements) from None
        wheel = next((scratch / "built").glob("*.whl"))
        native = _first_native(wheel)
        if native is not None:
            raise _native(name, native, requirements)
        retag_pure(wheel, wheelhouse())


def _download(requirement: str, name: str, dest: Path, *, binary: bool,
              guest: bool = False) -> Path | None:
    kind = _GUEST_TARGET if guest else ("--only-binary", ":all:") if binary \
        else ("--no-binary", name)
    try:
        run_tool([*_PIP, "download", *_QUIET, "--quiet", "--no-deps", *kind, "--dest", dest,
                  requirement], what=f"pip download {requirement}")
    except BuildFailed:
        return None
    return next(iter(sorted(dest.iterdir())), None)


def _no_compilers() -> dict[str, str]:
    false = shutil.which("false") or "/bin/false"
    return {**os.environ, **dict.fromkeys(_NO_COMPILERS, false)}


def _native(name: str, file: str | None, requirements: Path) -> BuildFailed:
    where = f" ({file})" if file else ""
    return BuildFailed(
        f"package {name} needs native code{where}, which cannot run inside a WebAssembly "
        "component", where=str(requirements),
        fix=f"it would need a WASI (wasm32-wasi) build of {name}; use a pure-Python "
            "package instead")


def _first_native(archive: Path) -> str | None:
    """The shallowest compiled library in a wheel, or native source in an sdist."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
        if archive.suffix == ".whl":  # sources shipped beside the code are only data
            names = [n for n in names if n.endswith(NATIVE_SUFFIXES) or ".so." in n]
    else:
        with tarfile.open(archive) as tarred:
            names = tarred.getnames()
    found = sorted((n for n in names if n.endswith((*NATIVE_SUFFIXES, *_NATIVE_SOURCES))
                    or ".so." in n), key=lambda n: (n.count("/"), n))
    return found[0] if found else None


def retag_pure(wheel: Path, dest_dir: Path) -> Path:
    """Copy a wheel that holds no native code into `dest_dir` as `py3-none-any` (a
    setuptools build whose optional extension failed keeps the host's platform tag)."""
    name, version = wheel.name.split("-")[:2]
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as src:
        return _place(_write_pure(src, Path(tmp) / wheel.name),
                      dest_dir / f"{name}-{version}-py3-none-any.whl")


def _write_pure(src: zipfile.ZipFile, partial: Path) -> Path:
    records: list[str] = []
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
        record_name = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        for item in src.infolist():
            if item.filename == record_name:
                continue
            data = src.read(item)
            if item.filename.endswith(".dist-info/WHEEL"):
                data = _pure_wheel_metadata(data.decode("utf-8")).encode("utf-8")
            out.writestr(item, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append(f"{item.filename},sha256={digest.decode()},{len(data)}")
        out.writestr(record_name, "\n".join([*records, f"{record_name},,"]) + "\n")
    return partial


def _place(wheel: Path, target: Path) -> Path:
    """Copy into the wheelhouse atomically: concurrent builds may add the same wheel."""
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial",
                                     delete=False) as partial:
        partial.write(wheel.read_bytes())
    Path(partial.name).replace(target)
    return target


def _pure_wheel_metadata(text: str) -> str:
    lines = [line for line in text.splitlines()
             if line.strip() and not line.startswith(("Tag:", "Root-Is-Purelib:"))]
    return "\n".join([*lines, "Root-Is-Purelib: true", "Tag: py3-none-any"]) + "\n"
