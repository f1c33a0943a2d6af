"""Real Go programs through the CLI: goroutines and channels with a module from the Go
module proxy (golang.org/x/sync), and a guest whose heap grows past 64 MiB, each built with
`wasmforge build --sign-key` and run with `wasmforge run` in the wasm and process tiers."""

from __future__ import annotations

import pytest
from program_support import PROGRAMS, TIERS, ProgramCli, program_cli_fixture  # noqa: F401

pytestmark = pytest.mark.slow

TEXT = """\
the quick brown fox jumps over the lazy dog
to be or not to be
a rose is a rose is a rose

channels connect goroutines
"""


def _fnv(line: str) -> str:
    value = 2166136261
    for byte in line.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return f"{value:08x}"


@pytest.mark.parametrize("tier", TIERS)
def test_goroutines_channels_and_a_proxy_module(program_cli: ProgramCli, tier: str) -> None:
    image = program_cli.image("go_pipeline", "go")
    ran = program_cli.run(image, tier, "-workers", "3", stdin=TEXT)
    assert ran.returncode == 0, ran.stderr
    lines = [line for line in TEXT.splitlines() if line]
    expected = [f"{n}: words={len(line.split())} score={_fnv(line)} top={top}"
                for n, (line, top) in enumerate(zip(lines, ("the", "be", "a", "channels"),
                                                    strict=True),
                                                start=1)]
    assert ran.stdout.splitlines() == [*expected, "lines=4 words=26 workers=3"]


def test_build_leaves_go_mod_and_go_sum_unchanged(program_cli: ProgramCli) -> None:
    image = program_cli.image("go_pipeline", "go")
    assert image.is_file()
    built = program_cli.root / "src" / "go_pipeline"
    for name in ("go.mod", "go.sum"):
        assert (built / name).read_bytes() == (PROGRAMS / "go_pipeline" / name).read_bytes()


@pytest.mark.parametrize("tier", TIERS)
def test_heap_grows_past_64_mib(program_cli: ProgramCli, tier: str) -> None:
    ran = program_cli.run(program_cli.image("go_heap", "go"), tier, "96")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "heap: 96 MiB live, checksum 3133440\n"
