"""wasmforge.toml parsing: typed values, and errors that name file, key and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge.errors import ManifestError
from wasmforge.project import load_project, parse_duration, parse_size

GOOD = """\
[project]
name = "hello"
version = "0.1.0"
language = "c"

[build]
include_dirs = ["include"]
defines = ["DEBUG=1"]

[capabilities]
env = ["GREETING"]
mounts = [{ guest = "/data", mode = "rw" }]
network = ["https://api.example.com:443"]
isolation = "process"
tools = ["add"]

[capabilities.limits]
memory = "32MiB"
timeout = "1500ms"
fuel = 1000000
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "wasmforge.toml").write_text(text)
    return tmp_path


def test_reads_a_full_manifest_into_typed_values(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, GOOD))
    caps = project.capabilities
    assert (project.name, project.language, project.world) == ("hello", "c", "command")
    assert project.build.include_dirs == ("include",)
    assert caps.env == ("GREETING",)
    assert caps.mounts[0].guest == "/data" and caps.mounts[0].mode == "rw"
    assert caps.network == ("https://api.example.com:443",)
    assert caps.isolation == "process"
    assert caps.limits.memory_bytes == 32 * 1024 * 1024
    assert caps.limits.timeout_s == 1.5
    assert caps.limits.fuel == 1_000_000
    assert project.image_path == tmp_path.resolve() / "build" / "hello.oci.tar"


@pytest.mark.parametrize(
    ("edit", "key", "line"),
    [
        (('language = "c"', 'language = "cobol"'), "project.language", 4),
        (('name = "hello"', "name = 5"), "project.name", 2),
        (('name = "hello"', 'name = "Hello World"'), "project.name", 2),
        (('[build]', '[build]\nturbo = true'), "build.turbo", 7),
        (('memory = "32MiB"', 'memory = "lots"'), "capabilities.limits.memory", 18),
        (('timeout = "1500ms"', 'timeout = "-3s"'), "capabilities.limits.timeout", 19),
        (('mode = "rw"', 'mode = "rx"'), "capabilities.mounts", 12),
        (('isolation = "process"', 'isolation = "vm"'), "capabilities.isolation", 14),
        (('env = ["GREETING"]', 'env = ["NOT OK"]'), "capabilities.env", 11),
        (('network = ["https://api.example.com:443"]', 'network = ["api.example.com"]'),
         "capabilities.network", 13),
        (('version = "0.1.0"\n', ''), "project.version", 1),
    ],
)
def test_errors_name_the_file_key_and_line(tmp_path: Path, edit: tuple[str, str], key: str,
                                           line: int) -> None:
    write(tmp_path, GOOD.replace(*edit, 1))
    with pytest.raises(ManifestError) as caught:
        load_project(tmp_path)
    message = str(caught.value)
    assert f"'{key}'" in message
    assert f"wasmforge.toml:{line}" in message


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    write(tmp_path, "[project\nname = 1\n")
    with pytest.raises(ManifestError, match=r"not valid TOML .*line 1"):
        load_project(tmp_path)


def test_missing_manifest_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="wasmforge new"):
        load_project(tmp_path)


def test_units() -> None:
    assert parse_size("64MiB") == 64 * 1024 * 1024
    assert parse_size("1GB") == 10**9
    assert parse_duration("250ms") == 0.25
    assert parse_duration("2m") == 120.0
    with pytest.raises(ValueError, match="not a size"):
        parse_size("64 parsecs")
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_binary_junk_in_the_manifest_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "wasmforge.toml").write_bytes(b"[project]\nname = \"\xff\xfe\x00junk\"\n")
    with pytest.raises(ManifestError, match=r"wasmforge.toml: is not UTF-8 text \(byte 18 "
                                            r"is 0xff\); save it as UTF-8 TOML\.$"):
        load_project(tmp_path)
    done = _cli("build", str(tmp_path), cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "is not UTF-8 text" in done.stderr and done.stderr.strip().count("\n") == 0


@pytest.mark.parametrize(("edit", "match"), [
    ('memory = 12', r"'capabilities.limits.memory' is invalid: 12 has no unit; write a size "
                    r"such as \"64MiB\""),
    ('memory = "12"', r"'capabilities.limits.memory' is invalid: '12' is not a size"),
    ('memory = "12B"', r"'12B' is below 1MiB, too little for any guest to start in"),
    ('memory = "8GiB"', r"'8GiB' is above 4GiB, more than a wasm32 memory can hold"),
    ('timeout = "99999999999999999999s"',
     r"'99999999999999999999s' is longer than the longest cap, 168h \(a week\)"),
    ('fuel = 99999999999999999999999', r"'capabilities.limits.fuel' must be between 1 and"),
])
def test_limits_out_of_range_are_refused(tmp_path: Path, edit: str, match: str) -> None:
    key = edit.split(" =")[0]
    text = "\n".join(edit if line.startswith(f"{key} =") else line
                     for line in GOOD.splitlines())
    write(tmp_path, text)
    with pytest.raises(ManifestError, match=match):
        load_project(tmp_path)


@pytest.mark.parametrize(("value", "match"), [
    (float("nan"), "not NaN"), (float("inf"), "longer than the longest cap"),
    (-1.0, "must be positive"), (0.0, "must be positive"),
])
def test_durations_must_be_finite_and_positive(value: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_duration(value)


def test_fuzz_findings_are_one_sentence(tmp_path: Path) -> None:
    # found by fuzz/fuzz_manifest.py: a list where a duration goes, and deep nesting
    write(tmp_path, GOOD.replace('timeout = "1500ms"', "timeout = []"))
    with pytest.raises(ManifestError, match=r"'capabilities.limits.timeout' is invalid: "
                                            r"expected a duration such as \"10s\", not list"):
        load_project(tmp_path)
    write(tmp_path, GOOD + "deep = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ManifestError, match="nests arrays or tables too deeply to be a "
                                            "manifest; flatten it"):
        load_project(tmp_path)
