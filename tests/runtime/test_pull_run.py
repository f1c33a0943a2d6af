"""`wasmforge run REF`: pulled from a real registry (Debian's docker-registry on loopback)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeImage

from wasmforge.cli import main

REGISTRY_BIN = "/usr/bin/docker-registry"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not os.access(REGISTRY_BIN, os.X_OK):
        pytest.skip("Debian's docker-registry is not installed (apt-get install docker-registry)")
    work = tmp_path_factory.mktemp("registry")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("docker-registry did not start")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
