"""`wasmforge doctor`: every language, tier and packaging step, with the remedy for what is
not usable here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wasmforge import serve_host as host
from wasmforge.guest import hyperlight as guest
from wasmforge.languages import get_driver
from wasmforge.languages.http.c import wit_bindgen_path
from wasmforge.project import LANGUAGES
from wasmforge.runtime.probe import probe_hypervisor


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", "doctor", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_doctor_json_covers_languages_tiers_and_packaging() -> None:
    done = doctor("--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [row["language"] for row in report["languages"]] == list(LANGUAGES)
    for row in report["languages"]:
        state = get_driver(row["language"]).status()
        assert row["usable"] == state.usable, row  # what the build itself would find
        if row["usable"]:
            assert row["problem"] == "" and row["versions"], row
        else:
            assert row["problem"] == state.problem and row["remedy"] == state.remedy, row
            assert row["problem"] and row["remedy"], row
    assert [row["tier"] for row in report["tiers"]] == ["hypervisor", "process", "wasm"]
    hypervisor = report["tiers"][0]
    probed = probe_hypervisor()
    assert (hypervisor["usable"], hypervisor["detail"]) == (probed.usable, probed.detail)
    assert [row["what"] for row in report["packaging"]] == ["build --hyperlight", "serve"]
    packaging = report["packaging"][0]
    if guest.backend_guest() is None:
        assert not packaging["usable"] and "pip install" in packaging["remedy"]


def test_a_missing_precompiler_is_named_with_its_remedy(tmp_path: Path) -> None:
    backend = guest.backend_guest()
    if backend is None:
        return  # covered above: the backend itself is the missing part
    done = doctor("--json", env={"WASMFORGE_TOOLCHAINS": str(tmp_path)})
    packaging = json.loads(done.stdout)["packaging"][0]
    assert packaging["usable"] is False
    assert packaging["versions"]["guest wasmtime"] == backend.wasmtime
    assert f"precompiler for wasmtime {backend.wasmtime}" in packaging["problem"]
    assert "wasmforge toolchain install hyperlight" in packaging["remedy"]


def test_the_serve_row_says_whether_the_serving_host_is_built(tmp_path: Path) -> None:
    serve = {row["what"]: row for row in json.loads(doctor("--json").stdout)["packaging"]}
    row = serve["serve"]
    assert row["usable"] == (host.built_host() is not None and wit_bindgen_path().is_file())
    assert row["versions"]["wasmtime"] == host.WASMTIME
    if host.built_host() is not None:
        assert row["versions"]["host"] == host.host_revision()

    done = doctor("--json", env={"WASMFORGE_TOOLCHAINS": str(tmp_path / "empty")})
    assert done.returncode == 0, done.stderr
    missing = {row["what"]: row for row in json.loads(done.stdout)["packaging"]}["serve"]
    assert missing["usable"] is False and "host" not in missing["versions"]
    assert "HTTP serving host" in missing["problem"] and "wit-bindgen" in missing["problem"]
    assert "ziglang" in missing["problem"]
    assert "wasmforge toolchain install serve" in missing["remedy"]


def test_doctor_prints_three_tables() -> None:
    done = doctor()
    assert done.returncode == 0, done.stderr
    for title in ("languages", "isolation tiers", "packaging"):
        assert title in done.stdout


def test_without_toolchains_every_cached_language_names_its_install_command(
        tmp_path: Path) -> None:
    done = doctor("--json", env={"WASMFORGE_TOOLCHAINS": str(tmp_path / "empty")})
    assert done.returncode == 0, done.stderr
    rows = {row["language"]: row for row in json.loads(done.stdout)["languages"]}
    for language in ("c", "go", "python", "javascript"):  # their toolchains live in the cache
        assert rows[language]["usable"] is False, rows[language]
        assert f"wasmforge toolchain install {language}" in rows[language]["remedy"]
