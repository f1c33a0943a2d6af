"""A fast `run`: no typer, rich, cryptography or jsonschema on the path of a repeated run,
and nothing remembered between runs that another user could forge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MakeImage

from wasmforge.errors import ImageError
from wasmforge.image import trust, verifycache
from wasmforge.image.reader import load_image, open_image
from wasmforge.launch import parse_run
from wasmforge.paths import runtime_cache

HEAVY = ("typer", "click", "rich", "cryptography", "jsonschema", "oras", "importlib.metadata")
_PROBE = """
import sys
from wasmforge.launch import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m in {heavy!r})
sys.stderr.write("\\nMODULES " + " ".join(heavy) + "\\n")
sys.exit(code)
"""


def _probe(*argv: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *argv],
                          capture_output=True, text=True, timeout=120, check=False)
    line = [x for x in done.stderr.splitlines() if x.startswith("MODULES")]
    return done, (line[-1].split()[1:] if line else ["(no report)"])


def test_a_repeated_signed_run_imports_nothing_heavy(make_image: MakeImage,
                                                     guest: bytes) -> None:
    image = make_image(guest, name="fast")
    first, _ = _probe("run", str(image), "--isolation", "wasm", "--", "hello")
    assert first.returncode == 0, first.stderr
    again, heavy = _probe("run", str(image), "--isolation", "wasm", "--", "hello")
    assert (again.returncode, again.stdout) == (0, "hello from c\n"), again.stderr
    assert heavy == []


def test_an_unsigned_run_imports_nothing_heavy(make_image: MakeImage, guest: bytes) -> None:
    image = make_image(guest, sign=None, name="fast-unsigned")
    done, heavy = _probe("run", "--insecure-allow-unsigned", str(image), "--isolation=wasm",
                         "hello")
    assert done.returncode == 0 and heavy == [], done.stderr


@pytest.mark.parametrize("argv, expected", [
    (["run", "img", "a", "--env", "K=V", "b"],
     {"image": "img", "args": ("a", "b"), "env": ["K=V"]}),
    (["run", "--trust=k1", "--trust", "k2", "img", "-v", "--timeout", "2.5", "--", "-x"],
     {"image": "img", "args": ("-x",), "trust": ["k1", "k2"], "verbose": True,
      "timeout_s": 2.5}),
    (["run", "--fuel", "100", "--memory", "8MiB", "--isolation", "process", "img"],
     {"image": "img", "args": (), "fuel": 100, "memory": "8MiB", "isolation": "process"}),
])
def test_run_lines_parse_as_the_typer_command_does(argv: list[str],
                                                   expected: dict[str, object]) -> None:
    fields = parse_run(argv)
    assert fields is not None
    assert {k: v for k, v in fields.items() if v != []} == expected


@pytest.mark.parametrize("argv", [
    ["run"], ["run", "--help"], ["run", "img", "--unknown"], ["run", "img", "--timeout", "x"],
    ["run", "img", "--fuel"], ["build", "."], [], ["run", "img", "--verbose=yes"],
])
def test_anything_else_goes_to_the_typer_app(argv: list[str]) -> None:
    assert parse_run(argv) is None


def test_usage_errors_are_still_typers(make_image: MakeImage, guest: bytes) -> None:
    done = subprocess.run([sys.executable, "-m", "wasmforge", "run", "x.oci.tar", "--timeout",
                           "soon"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "'soon' is not a valid float" in done.stderr


def test_a_forged_verification_entry_is_not_believed(make_image: MakeImage, guest: bytes,
                                                     keys: object) -> None:
    image = make_image(guest, sign=keys.untrusted, name="forged")  # type: ignore[attr-defined]
    parsed = open_image(image)
    inputs = verifycache._inputs(parsed, [])
    assert inputs is not None
    folder = runtime_cache("verified")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / inputs).write_text(json.dumps({"signers": ["sha256:" + "1" * 64],
                                             "mac": "0" * 64}))
    with pytest.raises(ImageError, match="made by no key trusted by the trust store"):
        load_image(image)


def test_a_key_taken_out_of_the_store_is_no_longer_trusted(make_image: MakeImage,
                                                           guest: bytes, home: Path) -> None:
    image = make_image(guest, name="revoked")
    assert load_image(image).signers  # checked, and remembered
    stored = sorted(trust.keys_dir().glob("*.pub"))
    moved = [path.rename(path.with_suffix(".off")) for path in stored]
    try:
        with pytest.raises(ImageError, match="signed but no key is trusted"):
            load_image(image)
    finally:
        for path in moved:
            path.rename(path.with_suffix(".pub"))
    assert load_image(image).signers


def test_a_run_ends_cleanly_without_the_interpreters_teardown(make_image: MakeImage,
                                                               guest: bytes) -> None:
    image = make_image(guest, name="fast-exit")
    argv = [sys.executable, "-m", "wasmforge", "run", str(image), "--isolation", "wasm", "--",
            "hello"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, "hello from c\n"), done.stderr
    # with its stdout closed (sys.stdout is None) the run still ends without a traceback
    closed = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *argv], capture_output=True,
                            text=True, timeout=120, check=False)
    assert closed.returncode == 0 and "Traceback" not in closed.stderr, closed.stderr
