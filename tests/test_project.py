"""wasmforge.toml parsing: typed values, and errors that name file, key and line."""

from __future__ import annotations

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
