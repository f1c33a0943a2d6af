"""`wasmforge run --isolation hypervisor` in real Hyperlight VMs.

The images are built here (the user guest through `build --hyperlight`'s layer step, then
signed); tests/support/vm_cases.py runs every case as a user types it where VMs boot: on this
host when the probe says so, else inside tests/support/nested_kvm.py's VM (a real KVM nested in
QEMU's emulated AMD SVM), else these tests skip with both reasons. Timings measured in the
nested KVM are emulation's and are only printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tool_images import TOOL_CAPS, TOOLS_MODULE, make_key, write_image_for_tests

from wasmforge.project import Project

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
TESTS = HERE.parent
@pytest.fixture(scope="module")
def vm_dir(user_component: Path, aot_wasmtime: str, jco: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wasmforge.toolchain.hyperlight import hyperlight_layers

    d = tmp_path_factory.mktemp("vm-cases")
    component = user_component.read_bytes()
    project = Project(root=d, name="vmguest", version="0.1.0", language="c",
                      capabilities=TOOL_CAPS)
    layers = hyperlight_layers(component, project, d / "layers")
    key = make_key(d)
    write_image_for_tests(d / "tools.oci.tar", component, layers, key)
    write_image_for_tests(d / "plain.oci.tar", component, [], key)
    write_image_for_tests(d / "unsigned.oci.tar", component, layers, None)
    (d / "vmtools.py").write_text(TOOLS_MODULE)
    (d / "input").mkdir()
    (d / "input" / "note.txt").write_text("a note from the host")
    return d


def _where_vms_boot() -> tuple[str, str]:
    """("host" | "nested", "") where VMs can boot, or ("", why not)."""
    import nested_kvm

    from wasmforge.runtime.probe import probe_hypervisor

    status = probe_hypervisor()
    if status.usable:
        return "host", ""
    nested = nested_kvm.missing()
    if not nested:
        return "nested", ""
    return "", f"no Hyperlight VM boots here ({status.detail}) and no nested KVM ({nested})"


@pytest.fixture(scope="module")
def results(vm_dir: Path) -> dict[str, Any]:
    where, why = _where_vms_boot()
    if not where:
        pytest.skip(why)
    script = TESTS / "support" / "vm_cases.py"
    if where == "host":
        done = subprocess.run([sys.executable, str(script), str(vm_dir)], capture_output=True,
                              text=True, timeout=1800)
        code, console = done.returncode, done.stdout + done.stderr
    else:
        import nested_kvm

        ran = nested_kvm.run(f"{sys.executable} {script} {vm_dir}", timeout_s=900,
                             console_log=vm_dir / "console.log")
        code, console = ran.exit_code, ran.output
    from vm_cases import RESULTS_BEGIN, RESULTS_END

    if RESULTS_BEGIN not in console:
        pytest.fail(f"vm_cases.py ({where}) gave no results (exit {code}):\n{console[-6000:]}")
    found = json.loads(console.split(RESULTS_BEGIN, 1)[1].split(RESULTS_END, 1)[0])
    found["where"] = where
    (vm_dir / "results.json").write_text(json.dumps(found, indent=1))  # for a failure's reader
    backend = found["backend"]
    print(f"hypervisor tier ({where}): first call (VM create + load + run) "
          f"{backend['first_ms']} ms, call after restore p50 {backend['after_restore_p50_ms']} ms")
    return found


def _stderr(case: dict[str, Any]) -> str:
    return " ".join(case["stderr"].split())


def test_doctor_says_the_tier_is_usable(results: dict[str, Any]) -> None:
    tiers = {row["tier"]: row for row in results["doctor"]["tiers"]}
    assert tiers["hypervisor"]["usable"], tiers["hypervisor"]
    assert "Hyperlight VMs boot on /dev/" in tiers["hypervisor"]["detail"]


def test_the_guest_runs_with_its_arguments_and_environment(results: dict[str, Any]) -> None:
    hello = results["hello"]
    assert hello["exit"] == 0, hello
    assert hello["stdout"] == "hello from the guest: a b c\nGREETING=howdy\n"
    assert hello["stdout"] == results["hello_process"]["stdout"]


@pytest.mark.parametrize("case", ["exit", "fail", "trap"])
def test_failures_end_as_in_the_process_tier(results: dict[str, Any], case: str) -> None:
    vm, process = results[case], results[f"{case}_process"]
    assert vm["exit"] == process["exit"] != 0, (vm, process)
    assert vm["stdout"] == process["stdout"]


def test_a_trap_is_one_sentence(results: dict[str, Any]) -> None:
    message = _stderr(results["trap"])
    assert message.startswith("error: the guest trapped in its Hyperlight VM ("), message
    assert results["trap"]["stderr"].count("\n") == 1


def test_a_looping_guest_is_stopped_at_its_wall_time_cap(results: dict[str, Any]) -> None:
    loop = results["loop"]
    assert loop["exit"] == 1, loop
    assert "ran past its wall-time cap of 3 s" in _stderr(loop)
    # The cap counts the guest's call, not the VM's creation before it.
    assert loop["ms"] < results["hello"]["ms"] + 3000 + 5000, (loop, results["hello"])


def test_a_guest_that_eats_memory_is_stopped_at_its_cap(results: dict[str, Any]) -> None:
    bomb = results["bomb"]
    assert bomb["exit"] == 1, bomb
    assert "the guest ran out of memory: its VM's heap of 48 MiB" in _stderr(bomb)


def test_mounts_are_the_vms_input_and_output(results: dict[str, Any]) -> None:
    assert results["read_input"]["stdout"].endswith("read: a note from the host\n"), \
        results["read_input"]
    assert results["read_host"]["exit"] != 0
    assert "read denied: /etc/hostname" in results["read_host"]["stdout"]
    assert results["write_output"]["exit"] == 0, results["write_output"]
    assert results["write_output"]["host_file"] == "written in the VM"


def test_a_declared_tool_runs_on_the_host(results: dict[str, Any]) -> None:
    tool = results["tool"]
    assert tool["exit"] == 0, tool
    assert "tool add: ok 5" in tool["stdout"]
    assert any(call.startswith("add ") for call in results["tool_calls"])


def test_an_undeclared_or_unprovided_tool_is_an_error_to_the_guest(
        results: dict[str, Any]) -> None:
    assert "tool sub: err" in results["tool_undeclared"]["stdout"], results["tool_undeclared"]
    assert "tool absent: err" in results["tool_unprovided"]["stdout"]
    assert not any(call.startswith("sub ") for call in results["tool_calls"])
    fails = results["tool_fails"]
    assert "tool boom: err" in fails["stdout"] and "boom on purpose" in fails["stdout"], fails


def test_an_undeclared_tool_flag_is_refused_before_any_vm(results: dict[str, Any]) -> None:
    refused = results["tool_flag_undeclared"]
    assert refused["exit"] == 1 and "'sub' is not declared" in _stderr(refused)


def test_auto_picks_the_vm_for_hyperlight_images_and_falls_back_for_others(
        results: dict[str, Any]) -> None:
    assert results["auto"]["exit"] == 0, results["auto"]
    assert "isolation: hypervisor" in results["auto"]["stderr"]
    plain = results["auto_plain"]
    assert plain["exit"] == 0, plain
    assert "hypervisor not used: the image carries no Hyperlight code" in _stderr(plain)


def test_an_unsigned_image_gets_no_vm(results: dict[str, Any]) -> None:
    unsigned = results["unsigned"]
    assert unsigned["exit"] == 1, unsigned
    assert "native code, which runs only from a signed image" in _stderr(unsigned)


def test_every_call_starts_from_the_snapshot(results: dict[str, Any]) -> None:
    backend = results["backend"]
    assert all(code == 0 for code, _ in backend["outcomes"]), backend
    assert backend["counts"] == ["count 1"] * len(backend["outcomes"])
