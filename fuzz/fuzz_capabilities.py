"""atheris fuzz target for the capabilities layer an image carries (schema + parser):
any input is Capabilities or an ImageError.

Run briefly (CI):   python fuzz/fuzz_capabilities.py -runs=2000
Run longer:         python fuzz/fuzz_capabilities.py -max_total_time=600 fuzz/corpus-caps

Inputs are raw bytes, or a real layer with one value (at any depth) replaced by a fuzzed
JSON value: wrong types, huge numbers, nan, deep nesting, unknown keys. A layer that is
accepted must read back the same after to_json (a layer wasmforge writes itself). Any
other exception is a finding.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from wasmforge.errors import ImageError
    from wasmforge.image import capabilities
    from wasmforge.project import Capabilities, Limits, Mount

WORK = Path(tempfile.mkdtemp(prefix="wasmforge-fuzz-caps-"))
os.environ["WASMFORGE_HOME"] = str(WORK / "home")
SEED = capabilities.to_dict(Capabilities(
    env=("GREETING",), mounts=(Mount("/data", "rw"),), network=("tcp://db:5432",),
    isolation="process", tools=("add",),
    limits=Limits(memory_bytes=32 << 20, timeout_s=1.5, fuel=1000)))
ODD = [None, True, 0, -1, 2**64, 1e309, float("nan"), "", "../..", "1e-05s", "0B", [], {},
       "x" * 5000]


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 5 if depth < 3 else 3)
    if kind == 0:
        return ODD[fdp.ConsumeIntInRange(0, len(ODD) - 1)]
    if kind == 1:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 30))
    if kind == 2:
        return fdp.ConsumeInt(9)
    if kind == 3:
        return fdp.ConsumeRegularFloat()
    if kind == 4:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    return {fdp.ConsumeUnicodeNoSurrogates(8): _value(fdp, depth + 1)
            for _ in range(fdp.ConsumeIntInRange(0, 3))}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def layer(data: bytes) -> bytes:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 4)
    if mode == 0:
        return fdp.ConsumeBytes(fdp.remaining_bytes())
    if mode == 1:
        depth = fdp.ConsumeIntInRange(1, 200_000)
        return b"[" * depth + b"]" * depth
    doc = json.loads(json.dumps(SEED))
    paths = [p for p in _paths(doc) if p]
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        path = paths[fdp.ConsumeIntInRange(0, len(paths) - 1)]
        target = doc
        with contextlib.suppress(KeyError, IndexError, TypeError):
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = _value(fdp)
    return json.dumps(doc).encode()


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(ImageError):
        caps = capabilities.from_json(layer(data))
        assert capabilities.from_json(capabilities.to_json(caps)) == caps


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
