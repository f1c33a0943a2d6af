"""`wasmforge run` and `wasmforge bench` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MakeImage, require_tier

from wasmforge.cli import main


@pytest.fixture(scope="module")
def image(make_image: MakeImage, guest: bytes) -> Path:
    return make_image(guest, name="cli-guest")


def test_run_streams_output_and_exits_with_the_guest(image: Path, tier: str, tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.txt").write_text("via the cli")
    code = main(["run", str(image), "--isolation", tier, "--env", "GREETING=hey",
                 "--mount", f"{tmp_path}:/data:ro", "--", "read", "/data/in.txt"])
    out, err = capfd.readouterr()
    assert code == 0 and out == "read: via the cli\n"
    assert main(["run", str(image), "--isolation", tier, "--", "exit", "3"]) == 1
    assert capfd.readouterr().out == "exiting 3\n"


def test_auto_says_which_tier(image: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(image), "--", "hello"]) == 0
    out, err = capfd.readouterr()
    assert out == "hello from c\n"
    assert "isolation: " in err  # the strongest usable tier, named on stderr


@pytest.mark.parametrize("argv, phrase", [
    (["--env", "NOPE=1"], "--env NOPE is not declared by the image"),
    (["--mount", "/tmp:/etc"], "which the image does not declare"),
    (["--isolation", "vm"], "--isolation 'vm' is not a tier"),
    (["--timeout", "999"], "--timeout 999 is above the image's cap of 3 s"),
    (["--timeout", "nan"], "--timeout nan is invalid: a duration must be a number of seconds, "
                           "not NaN"),
    (["--timeout", "inf"], "--timeout inf is invalid: inf is longer than the longest cap"),
    (["--timeout=-2"], "--timeout -2 is invalid: a duration must be positive"),
    (["--memory", "12"], "--memory '12' is invalid: '12' is not a size"),
])
def test_refusals_are_one_sentence_without_traceback(image: Path, argv: list[str], phrase: str,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(image), *argv, "--", "hello"])
    out, err = capfd.readouterr()
    assert code != 0
    assert out == ""  # the guest never ran
    assert phrase in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_timeout_and_trap_messages(image: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(image), "--isolation", "wasm", "--timeout", "0.2", "--", "loop"]) == 1
    assert "wall-time cap of 0.2 s" in capfd.readouterr().err
    assert main(["run", str(image), "--isolation", "wasm", "-v", "--", "trap"]) == 1
    err = capfd.readouterr().err
    assert "the guest trapped" in err and "wasm backtrace:" in err


def test_missing_image_is_one_sentence(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.oci.tar")]) != 0
    err = capfd.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_bench_json(image: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(image), "--runs", "20", "--json"]) == 0
    report = json.loads(capfd.readouterr().out)
    rows = {row["tier"]: row for row in report["tiers"]}
    assert set(rows) == {"hypervisor", "process", "wasm"}
    for tier in ("wasm", "process"):
        row = rows[tier]
        if "unavailable" in row:
            continue  # (only where the host cannot give the tier)
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["first_over_later"] > 0 and row["runs_per_s"] > 0
    if "unavailable" in rows["hypervisor"]:
        assert rows["hypervisor"]["unavailable"]


def test_bench_table(image: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(image), "--runs", "5"]) == 0
    out = capfd.readouterr().out
    assert "wasm" in out and "p50 ms" in out


def test_guest_blocked_in_a_host_call_is_stopped_at_the_cap(image: Path, tier: str) -> None:
    import subprocess
    import sys

    # a 3 s cap leaves a loaded machine time to start the guest; the 60 s timeout only
    # guards against a hang; timing is benchmarks/timecap.py's
    done = subprocess.run([sys.executable, "-m", "wasmforge", "run", str(image), "--isolation",
                           tier, "--timeout", "3", "--", "sleep", "30"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == "sleeping\n"
    said = {"wasm": "error: the guest ran past its wall-time cap of 3 s while waiting in a "
                    "host call, and wasmforge stopped it.",
            "process": "error: the guest ran past its wall-time cap of 3 s and its sandbox "
                       "was killed."}[tier]
    assert done.stderr.strip().splitlines()[-1] == said and "Traceback" not in done.stderr


def test_bench_never_runs_a_tier_below_the_images_minimum(make_image: MakeImage, guest: bytes,
                                                          capfd: pytest.CaptureFixture[str]
                                                          ) -> None:
    from wasmforge.project import Capabilities

    require_tier("process")
    image = make_image(guest, Capabilities(isolation="process"), name="strict")
    assert main(["bench", str(image), "--runs", "5", "--json"]) == 0
    rows = {row["tier"]: row for row in json.loads(capfd.readouterr().out)["tiers"]}
    assert "requires isolation tier process" in rows["wasm"]["unavailable"]
    assert rows["process"]["p50_ms"] > 0
