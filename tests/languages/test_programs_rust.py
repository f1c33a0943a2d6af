"""Real Rust programs through the CLI: a program on regex, serde derive, serde_json, anyhow
and clap derive, its dependencies written as a user writes them (edition 2024, a version-4
Cargo.lock from a current cargo), and a guest whose heap grows past 64 MiB; each built with
`wasmforge build --sign-key` and run with `wasmforge run` in the wasm and process tiers."""

from __future__ import annotations

import json

import pytest
from program_support import PROGRAMS, TIERS, ProgramCli, program_cli_fixture  # noqa: F401

pytestmark = pytest.mark.slow

LOG = """\
2026-11-30T10:00:01Z INFO GET /api/users 200 35ms
2026-11-30T10:00:02Z INFO POST /api/orders 201 120ms
2026-11-30T10:00:03Z WARN GET /static/app.js 304 3ms
2026-11-30T10:00:04Z ERROR POST /api/orders 502 900ms
2026-11-30T10:00:05Z INFO worker started
2026-11-30T10:00:06Z INFO DELETE /api/users/7 204 48ms
"""


@pytest.mark.parametrize("tier", TIERS)
def test_regex_serde_anyhow_clap_program(program_cli: ProgramCli, tier: str) -> None:
    image = program_cli.image("rust_logstat", "rust")
    ran = program_cli.run(image, tier, stdin=LOG)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "ERROR: 1", "INFO: 4", "WARN: 1",
        "requests: 5 (5xx: 1), mean 221.2 ms",
        "slowest: POST /api/orders 900 ms",
    ]
    ran = program_cli.run(image, tier, "--format", "json", "--path", "^/api/",
                          "--slower-than", "40", stdin=LOG)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["requests"] == 3 and summary["errors"] == 1
    assert summary["slowest"] == {"method": "POST", "path": "/api/orders", "status": 502,
                                  "ms": 900}
    assert summary["levels"] == {"ERROR": 1, "INFO": 4, "WARN": 1}


@pytest.mark.parametrize("tier", TIERS)
def test_clap_and_anyhow_errors_reach_the_caller(program_cli: ProgramCli, tier: str) -> None:
    image = program_cli.image("rust_logstat", "rust")
    ran = program_cli.run(image, tier, "--format", "yaml", stdin=LOG)
    assert ran.returncode != 0
    assert "invalid value 'yaml' for '--format <FORMAT>'" in ran.stderr
    ran = program_cli.run(image, tier, stdin="not a log line\n")
    assert ran.returncode != 0
    assert 'line 1 is not a log line: "not a log line"' in ran.stderr


def test_build_leaves_cargo_lock_as_written(program_cli: ProgramCli) -> None:
    program_cli.image("rust_logstat", "rust")
    built = program_cli.root / "src" / "rust_logstat"
    lock = (built / "Cargo.lock").read_text()
    assert lock == (PROGRAMS / "rust_logstat" / "Cargo.lock").read_text()
    assert "version = 4" in lock


@pytest.mark.parametrize("tier", TIERS)
def test_heap_grows_past_64_mib(program_cli: ProgramCli, tier: str) -> None:
    ran = program_cli.run(program_cli.image("rust_heap", "rust"), tier, "96")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "heap: 96 MiB live, checksum 3133440\n"
