"""tests/conftest.py's CI rule: under CI=true a skip fails the run, except for the
documented alternative routes (wasi-sdk, TinyGo, rustup) and facts of the host (its own
hypervisor tier, which the nested KVM stands in for)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PROBES = """
import pytest

def test_missing_cosign():
    pytest.skip("cosign is not installed")

@pytest.mark.skipif(True, reason="no KVM here")
def test_missing_kvm():
    pass

def test_tinygo_route():
    pytest.skip("tinygo is not on PATH on this host")

def test_wasi_sdk_route():
    pytest.skip("WASI_SDK_PATH does not name a wasi-sdk")

def test_host_hypervisor_fact():
    pytest.skip("isolation tier hypervisor is not usable here: nested PVM")

@pytest.mark.alternative_route
def test_marked_route():
    pytest.skip("the route is absent")

def test_passes():
    pass
"""
MODULE_SKIP = """
import pytest
pytest.skip("the registry is not installed", allow_module_level=True)

def test_never():
    pass
"""


@pytest.fixture()
def probes(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_probes=PROBES, test_module_skip=MODULE_SKIP)
    return pytester


def test_under_ci_a_missing_prerequisite_fails(probes: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = probes.runpytest_subprocess("-q", "-rfs", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, skipped=4, failed=1, errors=2)  # setup: errors
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*CI=true: a missing prerequisite fails the run instead of "
                                 "skipping (cosign is not installed)*"])
    for name in ("test_tinygo_route", "test_wasi_sdk_route", "test_marked_route",
                 "test_host_hypervisor_fact"):
        assert f"FAILED test_probes.py::{name}" not in result.stdout.str()


def test_outside_ci_skips_stay_skips(probes: pytest.Pytester,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = probes.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, skipped=7)
    assert result.ret == 0
