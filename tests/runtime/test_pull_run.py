"""`wasmforge run REF`: pulled from a real registry (Debian's docker-registry on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeImage
from registry_support import serve_registry

from wasmforge.cli import main


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def test_run_a_reference_pulls_verifies_and_runs(registry: str, make_image: MakeImage,
                                                 guest: bytes, tmp_path: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    image = make_image(guest, name="pulled")
    ref = f"{registry}/wasmforge/pulled:0.1.0"
    assert main(["push", str(image), ref]) == 0
    capfd.readouterr()
    before = set(Path.cwd().iterdir())
    assert main(["run", ref, "--isolation", "wasm", "--", "hello"]) == 0
    assert capfd.readouterr().out == "hello from c\n"
    assert set(Path.cwd().iterdir()) == before  # the pulled image is not left behind


def test_run_an_unsigned_reference_is_refused(registry: str, make_image: MakeImage,
                                              guest: bytes,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    image = make_image(guest, name="unsigned-pulled", sign=None)
    ref = f"{registry}/wasmforge/unsigned:0.1.0"
    assert main(["push", str(image), ref]) == 0
    capfd.readouterr()
    assert main(["run", ref, "--", "hello"]) != 0
    out, err = capfd.readouterr()
    assert out == "" and "error:" in err and "Traceback" not in err
