"""atheris fuzz target for the image reader: any input ends in a LoadedImage or an ImageError.

Run briefly (CI):   python fuzz/fuzz_image_reader.py -runs=2000
Run longer:         python fuzz/fuzz_image_reader.py -max_total_time=600 fuzz/corpus

Random bytes rarely look like a tar, so most inputs are mutations of a real signed image
built at start-up: byte patches, truncations, a replaced entry, or the bytes as a whole
archive. Any exception other than ImageError is a finding.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tarfile
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from wasmforge.errors import ImageError
    from wasmforge.image import reader

WORK = Path(tempfile.mkdtemp(prefix="wasmforge-fuzz-"))
os.environ["WASMFORGE_HOME"] = str(WORK / "home")
os.environ["SOURCE_DATE_EPOCH"] = "1700000000"


def _seed() -> tuple[bytes, Path]:
    from wasmforge.image.keys import generate_keypair
    from wasmforge.image.layout import write_image
    from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, Layer, ProvenanceInputs, WitSummary
    from wasmforge.image.signing import sign_image
    from wasmforge.project import Capabilities, Mount, Project

    project = Project(root=WORK, name="fuzz", version="1.0.0", language="c",
                      capabilities=Capabilities(env=("A",), mounts=(Mount("/d", "rw"),)))
    image = WORK / "seed.oci.tar"
    write_image(image, project=project, component=b"\0asm\x0d\0\x01\0" + b"x" * 64,
                wit=WitSummary(("wasi:cli/stdout@0.2.0",), ("wasi:cli/run@0.2.0",)),
                extra_layers=[Layer(PRECOMPILED_MEDIA_TYPE, b"aot")],
                provenance=ProvenanceInputs({"main.c": "sha256:" + "0" * 64}, {"zig": "0"},
                                            "0", 0, 0))
    pair = generate_keypair(WORK / "key", None)
    sign_image(image, pair.private)
    return image.read_bytes(), pair.public


SEED, PUBLIC = _seed()
with tarfile.open(fileobj=io.BytesIO(SEED)) as _tar:
    MEMBERS = [m.name for m in _tar.getmembers() if m.isfile()]


def _replace_member(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(SEED)) as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore
            if member.name == name:
                data = content
                member.size = len(content)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def mutate(data: bytes) -> bytes:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:
        return fdp.ConsumeBytes(fdp.remaining_bytes())
    if mode == 1:
        image = bytearray(SEED)
        for _ in range(fdp.ConsumeIntInRange(1, 8)):
            image[fdp.ConsumeIntInRange(0, len(image) - 1)] = fdp.ConsumeInt(1) & 0xFF
        return bytes(image)
    if mode == 2:
        return SEED[:fdp.ConsumeIntInRange(0, len(SEED))]
    name = MEMBERS[fdp.ConsumeIntInRange(0, len(MEMBERS) - 1)]
    return _replace_member(name, fdp.ConsumeBytes(fdp.remaining_bytes()))


def test_one_input(data: bytes) -> None:
    image = mutate(data)
    for kwargs in ({"allow_unsigned": True}, {"trust": [PUBLIC]}):
        with contextlib.suppress(ImageError):
            reader.load_image_bytes(image, where="fuzz", **kwargs)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
