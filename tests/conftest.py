"""Suite-wide set-up.

Many fixtures point WASMFORGE_HOME at a scratch folder (a private trust store and build
cache). Pin WASMFORGE_TOOLCHAINS to the installed toolchains first, so that those fixtures
still find the toolchains `wasmforge toolchain install` put in the real cache.

The suite tests this checkout's `src/`, also in the subprocesses it starts (workers, the
CLI), whichever checkout an editable install happens to point at.

Under CI (`CI=true`), a skipped test fails instead: a missing toolchain, tier, registry,
cosign or KVM must not turn the run green. Only tests of the documented alternative
routes (wasi-sdk, TinyGo, rustup) may still skip, by their reason or the
`alternative_route` marker, and cases that depend on a fact of the host rather than on
anything installed: the host's own hypervisor tier (where its KVM cannot boot Hyperlight
VMs, tests/guest/test_hyperlight_vm.py boots them in the nested KVM instead, and where it
can, the nested-PVM refusal cases do not apply) and the non-root permission case.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if sys.path[0] != _SRC:
    sys.path.insert(0, _SRC)
# Helpers shared across test folders (image builders, registries, the nested KVM).
_SUPPORT = str(Path(__file__).resolve().parent / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(1, _SUPPORT)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_SRC, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

from wasmforge.languages.tools import toolchains_dir  # noqa: E402

os.environ.setdefault("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))


# ------------------------------------------------------------------ CI: no silent skips

# The documented alternative routes: a host that has not got them builds the same
# languages another way, so their tests may skip anywhere. Nothing else may skip in CI.
ALTERNATIVE_ROUTES = re.compile(r"\b(wasi-sdk|WASI_SDK_PATH|tinygo|rustup)\b", re.IGNORECASE)
# Facts of the host, not missing prerequisites: each such case has its counterpart in the
# suite (see the module docstring).
HOST_FACTS = re.compile(r"isolation tier hypervisor is not usable here|the hypervisor tier is "
                        r"(?:un)?usable here|tier hypervisor is unusable here|does not show "
                        r"the nested-PVM failure|root may open any device")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "alternative_route: the test covers a documented alternative toolchain "
        "route (wasi-sdk, TinyGo, rustup) and may skip in CI where the route is absent")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _forbidden_skip(report: pytest.TestReport | pytest.CollectReport, allowed: bool) -> bool:
    if not (in_ci() and report.skipped) or getattr(report, "wasxfail", None) is not None:
        return False
    reason = _skip_reason(report)
    return not (allowed or ALTERNATIVE_ROUTES.search(reason) or HOST_FACTS.search(reason))


def _fail_instead(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    report.longrepr = ("CI=true: a missing prerequisite fails the run instead of skipping "
                       f"({_skip_reason(report).removeprefix('Skipped: ')}); install it, or "
                       "mark the test alternative_route if it covers wasi-sdk, TinyGo or "
                       "rustup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if _forbidden_skip(report, item.get_closest_marker("alternative_route") is not None):
        _fail_instead(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if _forbidden_skip(report, False):
        _fail_instead(report)
