"""languages/repro.py: the fixed-path build folder and the library that fixes a process's
randomness and clocks (what makes JavaScript snapshots reproducible)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wasmforge.languages import repro

PROBE = ("import os, time; print(os.urandom(16).hex(), os.urandom(16).hex(), time.time(), "
         "time.monotonic() < time.monotonic(), os.environ.get('LD_PRELOAD'), "
         "os.environ.get('WASMFORGE_REPRO_SEED'))")


@pytest.fixture()
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _probe(env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60, check=True)
    return proc.stdout.strip()


def test_preloaded_process_draws_fixed_bytes_and_reads_fixed_clocks(private_home: Path) -> None:
    env = repro.preload_env("5eed")
    if not env:
        pytest.skip("the repro library cannot be built here (not Linux, or no C compiler)")
    assert Path(env["LD_PRELOAD"]).parent == private_home / "shims"
    first = _probe(env)
    assert _probe(env) == first
    entropy, again, wall, advancing, preload, seed = first.split()
    assert entropy == again  # every request of a size gets the same bytes
    assert float(wall) == 0.0
    assert advancing == "True"  # the monotonic clock still moves forward
    assert preload == seed == "None"  # gone from the environment the guest inherits
    other = _probe(repro.preload_env("beef"))
    assert other.split()[0] != entropy
    assert _probe({}).split()[0] != entropy  # other processes are untouched


def test_library_is_built_once(private_home: Path) -> None:
    library = repro.shim_library()
    if library is None:
        pytest.skip("the repro library cannot be built here (not Linux, or no C compiler)")
    stamp = library.stat().st_mtime_ns
    assert repro.shim_library() == library
    assert library.stat().st_mtime_ns == stamp
    assert repro.shim_digest() in library.name


def test_stable_dir_is_a_fixed_empty_folder_removed_afterwards(tmp_path: Path) -> None:
    name = f"test-{os.getpid()}"
    with repro.stable_dir(name) as folder:
        assert folder == Path("/tmp") / f"wasmforge-{name}"
        assert folder.is_dir() and not any(folder.iterdir())
        (folder / "left.txt").write_text("x")
    assert not folder.exists()
    assert not (Path("/tmp") / f"wasmforge-{name}.lock").exists()
    folder.mkdir()  # left by a killed build: replaced
    (folder / "stale").write_text("x")
    with repro.stable_dir(name) as again:
        assert again == folder and not any(folder.iterdir())


def test_builds_needing_the_same_folder_take_turns() -> None:
    name = f"test-turns-{os.getpid()}"
    events: list[tuple[str, int]] = []

    def build(index: int) -> None:
        with repro.stable_dir(name) as folder:
            assert folder is not None and not any(folder.iterdir())
            events.append(("in", index))
            (folder / "mine").write_text(str(index))
            time.sleep(0.05)
            events.append(("out", index))

    threads = [threading.Thread(target=build, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(events) == 8
    assert all(events[i][0] == "in" and events[i + 1] == ("out", events[i][1])
               for i in range(0, 8, 2))
