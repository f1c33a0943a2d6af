"""`build` leaves the image ready to start: its first run compiles nothing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge import codecache
from wasmforge.languages.tools import toolchains_dir
from wasmforge.templates import scaffold
from wasmforge.toolchain.build import build_project

pytestmark = pytest.mark.slow


@pytest.fixture()
def c_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    root = tmp_path / "hello"
    scaffold("hello", "c", root)
    return root


def _compiled(component: Path) -> Path:
    digest = "sha256:" + hashlib.sha256(component.read_bytes()).hexdigest()
    return codecache.compiled_path(digest, False)


def _run(image: Path, tier: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", "run", str(image),
                           "--insecure-allow-unsigned", "--isolation", tier],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("tier", ["wasm", "process"])
def test_first_run_of_a_fresh_build_compiles_nothing(c_project: Path, tier: str) -> None:
    if tier == "process":
        from wasmforge.runtime.tiers import status

        if not status("process").usable:
            pytest.skip(f"the process tier is not usable here: {status('process').detail}")
    result = build_project(c_project)
    code = _compiled(result.component)
    assert codecache.verified_sha256(code) is not None
    assert "run-compile" in result.steps
    before = code.stat()
    done = _run(result.image, tier)
    assert done.returncode == 0, done.stderr
    assert "Hello" in done.stdout
    after = code.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_an_up_to_date_build_puts_missing_compiled_code_back(c_project: Path) -> None:
    first = build_project(c_project)
    code = _compiled(first.component)
    code.unlink()
    again = build_project(c_project)
    assert again.cached and codecache.verified_sha256(code) is not None


def test_precompile_layer_is_the_code_runs_use(c_project: Path) -> None:
    manifest = c_project / "wasmforge.toml"
    manifest.write_text(manifest.read_text().replace("[build]\n", "[build]\nprecompile = true\n"))
    result = build_project(c_project)
    from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE
    from wasmforge.image.reader import load_image

    image = load_image(result.image, allow_unsigned=True)
    layer = image.layer(PRECOMPILED_MEDIA_TYPE)
    assert layer is not None
    assert layer.data == _compiled(result.component).read_bytes()
    assert "run-compile" not in result.steps  # compiled once, for both


_PROBE = """
import sys
from wasmforge.launch import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'cryptography'))
sys.stderr.write("\\nMODULES " + " ".join(heavy) + "\\n")
sys.exit(code)
"""


def test_first_run_of_a_signed_build_validates_and_verifies_nothing_again(
        c_project: Path, tmp_path: Path) -> None:
    from wasmforge.image.keys import generate_keypair

    key = generate_keypair(tmp_path / "signer", None)  # and trusts it, as keygen does
    result = build_project(c_project, sign_key=key.private)
    done = subprocess.run([sys.executable, "-c", _PROBE, "run", str(result.image),
                           "--isolation", "wasm"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "MODULES "
