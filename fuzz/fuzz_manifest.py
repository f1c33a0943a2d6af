"""atheris fuzz target for `wasmforge.toml`: any input is a Project or a ManifestError.

Run briefly (CI):   python fuzz/fuzz_manifest.py -runs=2000
Run longer:         python fuzz/fuzz_manifest.py -max_total_time=600 fuzz/corpus-manifest

Inputs are raw bytes written as the file (encodings, binary junk), or a real manifest with
one value replaced by a fuzzed TOML value (strings, huge or negative numbers, floats such
as nan and inf, arrays, inline tables, deep nesting). A manifest that parses must also
survive the trip its capabilities make into an image: to_json, then from_json, gives the
same Capabilities. Any other exception, or a trip that changes them, is a finding.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from wasmforge.errors import ImageError, ManifestError
    from wasmforge.image import capabilities
    from wasmforge.project import load_project

WORK = Path(tempfile.mkdtemp(prefix="wasmforge-fuzz-manifest-"))
os.environ["WASMFORGE_HOME"] = str(WORK / "home")
SEED = """\
[project]
name = "fuzz"
version = "0.1.0"
language = "c"

[build]
include_dirs = ["include"]
deny_ungranted = true

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
LINES = SEED.splitlines()
VALUE_LINES = [i for i, line in enumerate(LINES) if " = " in line]
SCALARS = ("nan", "inf", "-inf", "0", "-1", "1e309", "99999999999999999999999", "true",
           '""', '"/"', '"../x"', "[]", "{}", '"64"', '"0MiB"', '"1e3s"', '"0.0000001s"')


def _value(fdp: atheris.FuzzedDataProvider) -> str:
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return SCALARS[fdp.ConsumeIntInRange(0, len(SCALARS) - 1)]
    if kind == 1:
        text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind == 2:
        return str(fdp.ConsumeInt(9))
    if kind == 3:
        return repr(fdp.ConsumeRegularFloat())
    if kind == 4:
        depth = fdp.ConsumeIntInRange(1, 3000)
        return "[" * depth + "]" * depth
    return "[" + ", ".join(_value(fdp) for _ in range(fdp.ConsumeIntInRange(0, 3))) + "]"


def manifest_text(data: bytes) -> bytes:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 3) == 0:
        return fdp.ConsumeBytes(fdp.remaining_bytes())
    lines = list(LINES)
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        index = VALUE_LINES[fdp.ConsumeIntInRange(0, len(VALUE_LINES) - 1)]
        key = lines[index].split(" = ")[0]
        lines[index] = f"{key} = {_value(fdp)}"
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def test_one_input(data: bytes) -> None:
    root = WORK / "project"
    root.mkdir(exist_ok=True)
    (root / "wasmforge.toml").write_bytes(manifest_text(data))
    with contextlib.suppress(ManifestError):
        project = load_project(root)
        caps = project.capabilities
        try:
            again = capabilities.from_json(capabilities.to_json(caps))
        except ImageError as err:
            raise AssertionError(f"an accepted manifest makes an unreadable layer: {err}") \
                from err
        assert again == caps, (caps, again)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
