"""Real C programs through the CLI: a multi-file program with include dirs, defines and
cflags from the manifest, and a guest whose heap grows past 64 MiB, each built with
`wasmforge build --sign-key` and run with `wasmforge run` in the wasm and process tiers."""

from __future__ import annotations

import pytest
from program_support import TIERS, ProgramCli, program_cli_fixture  # noqa: F401

pytestmark = pytest.mark.slow

SALES = """\
region,product,units,price
north,"widget, large",12,9.5
south,gadget,7,19.25
north,gadget,3,19.25
east,"say ""hi"" now",40,1.0
west,widget,12,9.5
"""


@pytest.mark.parametrize("tier", TIERS)
def test_multi_file_program_with_defines(program_cli: ProgramCli, tier: str) -> None:
    image = program_cli.image("c_csvstat", "c")
    ran = program_cli.run(image, tier, stdin=SALES)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "sales report: 5 rows, 4 columns",  # REPORT_TITLE from [build] defines
        "region   text     distinct=4",
        "product  text     distinct=4",  # the quoted comma and doubled quotes parsed
        "units    numeric  min=3.00 max=40.00 mean=14.800 sd=14.584",
        "price    numeric  min=1.00 max=19.25 mean=11.700 sd=7.716",
    ]


@pytest.mark.parametrize("tier", TIERS)
def test_program_error_exit_reaches_the_caller(program_cli: ProgramCli, tier: str) -> None:
    ran = program_cli.run(program_cli.image("c_csvstat", "c"), tier, stdin="")
    assert ran.returncode != 0
    assert "empty input" in ran.stderr


@pytest.mark.parametrize("tier", TIERS)
def test_heap_grows_past_64_mib(program_cli: ProgramCli, tier: str) -> None:
    ran = program_cli.run(program_cli.image("c_heap", "c"), tier, "96")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "heap: 96 MiB live, checksum 3133440\n"
