"""The build front end: outputs, the content-addressed cache, failures that leave nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge.errors import BuildFailed
from wasmforge.languages.tools import toolchains_dir
from wasmforge.templates import scaffold
from wasmforge.toolchain.build import build_project

pytestmark = pytest.mark.slow


@pytest.fixture()
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private build cache and trust store, sharing the installed toolchains."""
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def c_project(tmp_path: Path, isolated_home: Path) -> Path:
    root = tmp_path / "hello"
    scaffold("hello", "c", root)
    return root


def test_build_writes_component_and_image(c_project: Path) -> None:
    result = build_project(c_project)
    assert not result.cached
    assert result.component == c_project.resolve() / "build" / "hello.wasm"
    assert result.component.read_bytes()[:8] == b"\0asm\x0d\x00\x01\x00"  # a component
    assert result.image.is_file() and result.digest.startswith("sha256:")
    assert any(e.startswith("wasi:cli/run@") for e in result.exports)


def test_unchanged_project_rebuilds_without_any_toolchain(
        c_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = build_project(c_project)
    # With no toolchain reachable at all, only a cache hit can succeed.
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(tmp_path / "no-toolchains"))
    second = build_project(c_project)
    assert second.cached and second.digest == first.digest


def test_a_change_rebuilds_and_going_back_hits_the_store(
        c_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    main = c_project / "main.c"
    original = main.read_text()
    first = build_project(c_project)
    main.write_text(original + "\n/* changed */\n")
    changed = build_project(c_project)
    assert not changed.cached
    main.write_text(original)
    monkeypatch.setenv("WASMFORGE_TOOLCHAINS", str(tmp_path / "no-toolchains"))
    back = build_project(c_project)
    assert back.cached and back.digest == first.digest


def test_two_clean_builds_give_one_digest(tmp_path: Path, isolated_home: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    digests = []
    for attempt in ("one", "two"):
        monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / f"home-{attempt}"))
        root = tmp_path / attempt / "same"
        scaffold("same", "c", root)
        digests.append(build_project(root).digest)
    assert digests[0] == digests[1]


def test_compile_error_leaves_previous_outputs_untouched(c_project: Path) -> None:
    build_project(c_project)
    before = (c_project / "build" / "hello.oci.tar").read_bytes()
    (c_project / "main.c").write_text("int main( { return 0 }\n")
    with pytest.raises(BuildFailed) as caught:
        build_project(c_project)
    assert "main.c" in str(caught.value)
    assert (c_project / "build" / "hello.oci.tar").read_bytes() == before
    leftovers = [p.name for p in (c_project / "build").iterdir() if p.name.startswith(".")]
    assert leftovers == [".wasmforge-build.json"]


def test_cli_json_and_noop_rebuild(c_project: Path, isolated_home: Path) -> None:
    def build() -> dict:
        proc = subprocess.run([sys.executable, "-m", "wasmforge", "build", str(c_project),
                               "--json"], capture_output=True, text=True, env=dict(os.environ))
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    first, second = build(), build()
    assert not first["cached"] and second["cached"]
    assert first["digest"] == second["digest"]
    assert first["steps"]["compile"] > 0


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=600)


def _cache_entry(isolated_home: Path) -> Path:
    entries = [p for p in (isolated_home / "builds").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    return entries[0]


@pytest.mark.parametrize(("damage", "why"), [
    ("image", "its image.oci.tar does not hash to what was stored"),
    ("component", "its component.wasm does not hash to what was stored"),
    ("result", "its result.json is unreadable"),
])
def test_a_damaged_cache_entry_is_discarded_and_rebuilt(c_project: Path, isolated_home: Path,
                                                        damage: str, why: str) -> None:
    first = build_project(c_project)
    entry = _cache_entry(isolated_home)
    if damage == "image":
        data = bytearray((entry / "image.oci.tar").read_bytes())
        data[len(data) // 2] ^= 0x01
        (entry / "image.oci.tar").write_bytes(bytes(data))
    elif damage == "component":
        (entry / "component.wasm").write_bytes(first.component.read_bytes() + b"\0tampered")
    else:
        (entry / "result.json").write_bytes(b"\x00{junk")
    (c_project / "build" / ".wasmforge-build.json").unlink()  # build/ no longer says current
    done = _cli("build", str(c_project))
    assert done.returncode == 0, done.stderr
    assert f"warning: the cached build {entry} was damaged ({why}); discarded it and building " \
           "again." in done.stderr
    assert "up to date" not in done.stderr and "Traceback" not in done.stderr
    assert first.component.read_bytes() == (entry / "component.wasm").read_bytes()
    rebuilt = build_project(c_project)
    assert rebuilt.digest == first.digest and rebuilt.component.read_bytes()[-8:] != b"tampered"


def test_a_killed_builds_work_folder_is_removed_by_the_next_build(
        c_project: Path, tmp_path: Path) -> None:
    import signal
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen([sys.executable, "-m", "wasmforge", "build", str(c_project)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(temp.glob("wasmforge-hello-*/.wasmforge-build.lock")):
        assert time.monotonic() < deadline and proc.poll() is None, "no work folder appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = list(temp.glob("wasmforge-hello-*"))
    assert len(left) == 1
    other = tmp_path / "other"
    scaffold("other", "c", other)
    assert _cli("build", str(other), TMPDIR=str(temp)).returncode == 0
    assert not left[0].exists()
    assert list(temp.glob("wasmforge-*")) == []


def test_a_change_to_wasmforges_build_code_misses_the_cache(
        c_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from wasmforge.toolchain import cache

    package = tmp_path / "package"
    shutil.copytree(Path(cache.__file__).parent.parent / "languages", package / "languages",
                    ignore=shutil.ignore_patterns("__pycache__"))
    fingerprint = cache.build_code_fingerprint.__wrapped__  # uncached: the files change
    before = fingerprint(package)
    driver = package / "languages" / "c.py"
    driver.write_text(driver.read_text() + "\n# a fix in the C driver\n")
    assert fingerprint(package) != before

    first = build_project(c_project)
    monkeypatch.setattr(cache, "build_code_fingerprint", lambda: "an-updated-wasmforge")
    again = build_project(c_project)
    assert not again.cached and again.digest == first.digest
