"""Host functions (`tools`) in the wasm and process tiers: the same gate as in a Hyperlight
VM (tests/guest/test_hyperlight_vm.py). The guest imports hyperlight:sandbox/tools; only
names the manifest declares reach the operator's implementation, which runs in the
`wasmforge run` process (for the process tier, outside the sandbox), and every refusal
is an error value the guest sees, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tool_images import TOOLS_MODULE, make_key, write_image_for_tests

from wasmforge.runtime.tiers import status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tool_image(user_component: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tools-tiers")
    key = make_key(d)
    write_image_for_tests(d / "tools.oci.tar", user_component.read_bytes(), [], key)
    (d / "vmtools.py").write_text(TOOLS_MODULE)
    return d


def _run(d: Path, tier: str, *args: str, tools: tuple[str, ...] = ("add=vmtools:add",),
         flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    flags = (*flags, *(f"--tool={spec}" for spec in tools))
    env = {**os.environ, "WASMFORGE_HOME": str(d / "home"),
           "PYTHONPATH": os.pathsep.join([str(d), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "wasmforge", "run", str(d / "tools.oci.tar"),
                           "--trust", str(d / "key.pub"), "--isolation", tier, *flags, "--",
                           *args], capture_output=True, text=True, env=env, timeout=120)


def _calls(d: Path) -> list[str]:
    log = d / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(params=["wasm", "process"])
def tier(request: pytest.FixtureRequest) -> str:
    state = status(request.param)
    if not state.usable:
        pytest.skip(f"the {request.param} tier is not usable here: {state.detail}")
    return str(request.param)


def test_a_declared_tool_runs_in_the_host_process(tool_image: Path, tier: str) -> None:
    ran = _run(tool_image, tier, "tool", "add", '{"a": 40, "b": 2}')
    assert ran.returncode == 0, ran.stderr
    assert "tool add: ok 42" in ran.stdout
    assert 'add {"a": 40, "b": 2}' in _calls(tool_image)  # logged by the host's vmtools


def test_undeclared_unprovided_and_failing_tools_are_errors_to_the_guest(
        tool_image: Path, tier: str) -> None:
    before = _calls(tool_image)
    undeclared = _run(tool_image, tier, "tool", "sub", "{}")
    assert "tool sub: err tool 'sub' is not declared for this image" in undeclared.stdout
    unprovided = _run(tool_image, tier, "tool", "absent", "{}")
    assert "tool absent: err tool 'absent' is declared but not provided" in unprovided.stdout
    failing = _run(tool_image, tier, "tool", "boom", "{}", tools=("boom=vmtools:boom",))
    assert "tool boom: err tool 'boom' failed: boom on purpose" in failing.stdout
    assert undeclared.returncode == unprovided.returncode == failing.returncode == 1
    assert _calls(tool_image)[len(before):] == ["boom {}"]  # sub never ran


def test_a_tool_the_manifest_does_not_declare_is_refused_before_the_run(
        tool_image: Path, tier: str) -> None:
    refused = _run(tool_image, tier, "count", tools=("sub=vmtools:sub",))
    assert refused.returncode == 1
    assert "tool 'sub' is not declared in the image's capabilities" in refused.stderr
    assert refused.stdout == ""


def test_a_tool_that_never_returns_is_ended_by_the_wall_time_cap(
        tool_image: Path, tier: str) -> None:
    started = time.perf_counter()
    ran = _run(tool_image, tier, "tool", "slow", "{}", tools=("slow=vmtools:slow",),
               flags=("--timeout", "2"))
    assert ran.returncode == 1
    assert "wall-time cap of 2 s" in " ".join(ran.stderr.split())
    assert time.perf_counter() - started < 30
