"""Resolving requirements for the Python guest: pure wheels made from host builds, the
native-file finder, and the codecs a component carries. Real pip, no network."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wasmforge.languages import python_deps
from wasmforge.languages.python_codecs import codecs, module_for

WHEEL = "Wheel-Version: 1.0\nGenerator: setuptools\nRoot-Is-Purelib: false\n" \
        "Tag: cp311-cp311-linux_x86_64\n\n"


def _host_wheel(folder: Path, files: dict[str, bytes]) -> Path:
    """A wheel as setuptools leaves it when an optional extension failed to compile."""
    wheel = folder / "speedy-1.2-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as out:
        for name, data in {**files, "speedy-1.2.dist-info/METADATA":
                           b"Metadata-Version: 2.1\nName: speedy\nVersion: 1.2\n",
                           "speedy-1.2.dist-info/WHEEL": WHEEL.encode()}.items():
            out.writestr(name, data)
        out.writestr("speedy-1.2.dist-info/RECORD", "")
    return wheel


def test_retagged_wheel_installs_for_the_guest(tmp_path: Path) -> None:
    built = _host_wheel(tmp_path, {"speedy/__init__.py": b"FAST = False\n",
                                   "speedy/_fast.c": b"/* optional speedups */\n"})
    house = tmp_path / "house"
    house.mkdir()
    pure = python_deps.retag_pure(built, house)
    assert pure.name == "speedy-1.2-py3-none-any.whl"
    with zipfile.ZipFile(pure) as wheel:
        metadata = wheel.read("speedy-1.2.dist-info/WHEEL").decode()
        record = wheel.read("speedy-1.2.dist-info/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            data = wheel.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}" and int(size) == len(data)
    assert "Tag: py3-none-any" in metadata and "Root-Is-Purelib: true" in metadata
    assert "cp311" not in metadata
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--quiet",
                           "--find-links", house, "--target", target,
                           *python_deps._GUEST_TARGET, "speedy"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "speedy" / "__init__.py").read_text() == "FAST = False\n"


def test_native_file_in_a_wheel_is_a_library_not_a_shipped_source(tmp_path: Path) -> None:
    only_source = _host_wheel(tmp_path, {"speedy/_fast.c": b""})
    assert python_deps._first_native(only_source) is None
    (tmp_path / "lib").mkdir()
    compiled = _host_wheel(tmp_path / "lib", {"speedy/_fast.c": b"",
                                              "speedy/_fast.cpython-311-x86_64-linux-gnu.so": b""})
    assert python_deps._first_native(compiled) == \
        "speedy/_fast.cpython-311-x86_64-linux-gnu.so"


def test_standard_codecs_are_always_carried() -> None:
    carried = codecs([])
    assert {"encodings.idna", "encodings.utf_8", "encodings.latin_1"} <= carried


def test_codecs_named_in_sources_are_carried() -> None:
    carried = codecs(["data.decode('Shift-JIS')\nopen(p, encoding='CP850')\nx = 'hello'\n"])
    assert {"encodings.shift_jis", "encodings.cp850"} <= carried
    assert module_for("UTF8") == "utf_8"
    assert module_for("latin-1") == "latin_1"
    assert module_for("hello") is None


def test_a_damaged_wheel_in_the_wheelhouse_is_discarded(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    house = python_deps.wheelhouse()
    good = python_deps.retag_pure(_host_wheel(tmp_path, {"speedy/__init__.py": b""}), house)
    assert python_deps._in_wheelhouse("Speedy", "1.2")
    good.write_bytes(good.read_bytes()[:-40])  # a torn write, a flipped disk
    assert not python_deps._in_wheelhouse("speedy", "1.2")
    assert not good.exists()
