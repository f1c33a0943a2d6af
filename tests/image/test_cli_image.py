"""The image commands as a user meets them: keygen, sign, verify, inspect, push, pull."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Build = Callable[..., tuple[Path, str]]


def wasmforge(*args: str, cwd: Path, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def one_sentence_failure(proc: subprocess.CompletedProcess[str], match: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert match in lines[0], lines[0]


def test_keygen_sign_verify_inspect(build_image: Build, tmp_path: Path) -> None:
    image, digest = build_image()
    proc = wasmforge("keygen", "--out", "dev", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / "dev.key").stat().st_mode) == 0o600
    assert "trust store" in proc.stderr
    unsigned = wasmforge("verify", str(image), "--key", "dev.pub", cwd=tmp_path)
    one_sentence_failure(unsigned, "not signed")
    proc = wasmforge("sign", str(image), "--key", "dev.key", cwd=tmp_path)
    assert proc.returncode == 0 and digest in proc.stderr, proc.stderr
    proc = wasmforge("verify", str(image), "--key", "dev.pub", cwd=tmp_path)
    assert proc.returncode == 0 and "intact" in proc.stderr, proc.stderr
    proc = wasmforge("verify", str(image), cwd=tmp_path)  # the trust store
    assert proc.returncode == 0, proc.stderr
    proc = wasmforge("inspect", str(image), "--json", cwd=tmp_path)
    info = json.loads(proc.stdout)
    assert info["digest"] == digest and info["signatures"][0]["verified"] is True
    proc = wasmforge("inspect", str(image), cwd=tmp_path)
    assert proc.returncode == 0 and "hello" in proc.stdout and "application/wasm" in proc.stdout


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    assert wasmforge("keygen", "--out", "dev", cwd=tmp_path).returncode == 0
    one_sentence_failure(wasmforge("keygen", "--out", "dev", cwd=tmp_path), "already exists")


def test_sign_with_an_encrypted_key_uses_the_passphrase_variable(
        build_image: Build, tmp_path: Path) -> None:
    from wasmforge.image.keys import generate_keypair

    image, _ = build_image()
    generate_keypair(tmp_path / "locked", "pw")
    one_sentence_failure(wasmforge("sign", str(image), "--key", "locked.key", cwd=tmp_path),
                         "encrypted")
    proc = wasmforge("sign", str(image), "--key", "locked.key", cwd=tmp_path,
                     env={"WASMFORGE_KEY_PASSPHRASE": "pw"})
    assert proc.returncode == 0, proc.stderr


def test_tampered_and_garbage_images_fail_in_one_sentence(
        signed_image: tuple[Path, str], tmp_path: Path) -> None:
    image, _ = signed_image
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0x01
    image.write_bytes(bytes(data))
    for command in (["verify", str(image)], ["inspect", str(image)]):
        proc = wasmforge(*command, cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.oci.tar"
    junk.write_bytes(b"not an image at all")
    one_sentence_failure(wasmforge("inspect", str(junk), cwd=tmp_path), "not an OCI image")


def test_push_and_pull_from_the_command_line(signed_image: tuple[Path, str], registry,
                                             tmp_path: Path) -> None:
    image, digest = signed_image
    ref = f"{registry.host}/cli/hello:0.1.0"
    proc = wasmforge("push", str(image), ref, cwd=tmp_path)
    assert proc.returncode == 0 and digest in proc.stderr, proc.stderr
    proc = wasmforge("pull", ref, "-o", "copy.oci.tar", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = wasmforge("verify", "copy.oci.tar", cwd=tmp_path)
    assert proc.returncode == 0 and digest in proc.stderr, proc.stderr


def test_pull_from_a_registry_that_is_down(tmp_path: Path) -> None:
    from registry_support import free_port

    proc = wasmforge("pull", f"127.0.0.1:{free_port()}/x/y:1", "-o", "y.oci.tar", cwd=tmp_path)
    one_sentence_failure(proc, "cannot reach registry")
    assert not (tmp_path / "y.oci.tar").exists()
