"""The hypervisor tier: probe, refusal, version check before any VM, and the real boot
(which runs only where the probe says Hyperlight VMs boot)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from wasmforge.errors import CapabilityError, RuntimeFailure
from wasmforge.guest import hyperlight as hl_guest
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE, Layer
from wasmforge.runtime import probe, tiers
from wasmforge.runtime.backend import Grants, Invocation, RunLimits, Stdio
from wasmforge.runtime.host_tools import dispatcher, load_tools
from wasmforge.runtime.hypervisor import (
    WASMTIME_ANNOTATION,
    HypervisorBackend,
    check_version,
)

LIMITS = RunLimits(memory_bytes=64 << 20, timeout_s=10.0)


@pytest.fixture
def probe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path))
    return tmp_path


def _invocation(precompiled: Layer | None, stdio: Stdio | None = None,
                args: tuple[str, ...] = ()) -> Invocation:
    return Invocation(name="hello", component=b"", digest="sha256:" + "0" * 64,
                      grants=Grants(args=args), limits=LIMITS, stdio=stdio or Stdio(),
                      precompiled=precompiled)


def test_probe_states_the_exact_reason_and_is_cached_per_boot(probe_home: Path) -> None:
    first = probe.probe_hypervisor(refresh=True)
    assert first.detail
    if not first.usable:
        reasons = ("no hypervisor device", "permission denied", "backend package is missing",
                   "the canary VM failed to run")
        assert any(reason in first.detail for reason in reasons), first.detail
    cached = probe.cache_path()
    if any(os.path.exists(d) for d in probe.DEVICES) and hl_guest.backend_native_module():
        assert cached.parent == probe_home / "hyperlight"
        assert probe.boot_id() in cached.name
        assert json.loads(cached.read_text())["detail"] == first.detail
        started = time.perf_counter()
        assert probe.probe_hypervisor() == first
        assert time.perf_counter() - started < 0.05  # no VM is started again


def test_the_canary_verdicts() -> None:
    backend = hl_guest.BackendGuest("0.8.0", "36.0.14", Path("/x.so"))
    booted = probe.canary_verdict("Failed to create sandbox: failed to load Wasm module: "
                                  "not a precompiled artifact", "/dev/kvm", backend)
    assert booted.usable and "boot on /dev/kvm" in booted.detail
    nested = ("Failed to create sandbox: failed to load Wasm runtime: Internal Hyperlight VM "
              "error: Initialize error: Failed to run vm: Unexpected VM exit: Unknown KVM VCPU "
              "exit: InternalError: Unexpected VM exit: Unknown KVM VCPU exit: InternalError")
    refused = probe.canary_verdict(nested, "/dev/kvm", backend)
    assert not refused.usable
    assert refused.detail.startswith("the canary VM failed to run on /dev/kvm: Unknown KVM "
                                     "VCPU exit: InternalError (KVM_EXIT_INTERNAL_ERROR")
    other = probe.canary_verdict("failed to build ProtoWasmSandbox: HypervisorNotAvailable",
                                 "/dev/mshv", backend)
    assert other.detail == ("the canary VM failed to run on /dev/mshv: failed to build "
                            "ProtoWasmSandbox: HypervisorNotAvailable")


def test_no_device_and_no_permission_are_named(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setattr(probe, "DEVICES", (str(tmp_path / "kvm"),))
    assert probe.probe_hypervisor().detail == ("no hypervisor device: neither /dev/kvm nor "
                                               "/dev/mshv exists")
    if os.geteuid() == 0:
        pytest.skip("root may open any device: the permission case needs another user")
    device = tmp_path / "kvm"
    device.write_text("")
    device.chmod(0)
    assert "permission denied on" in probe.probe_hypervisor().detail


def test_nested_pvm_is_explained(probe_home: Path) -> None:
    status = probe.probe_hypervisor()
    if status.usable or "InternalError" not in status.detail:
        pytest.skip(f"this host does not show the nested-PVM failure ({status.detail})")
    assert "Unknown KVM VCPU exit: InternalError" in status.detail
    assert "KVM_EXIT_INTERNAL_ERROR" in status.detail


def test_isolation_hypervisor_on_an_unusable_host_is_a_clear_refusal(probe_home: Path) -> None:
    status = probe.probe_hypervisor()
    if status.usable:
        pytest.skip("the hypervisor tier is usable here")
    tiers._backends.pop("hypervisor", None)
    with pytest.raises(RuntimeFailure) as refused:
        tiers.choose("hypervisor", "wasm", lambda _m: None)
    message = str(refused.value)
    assert "isolation tier hypervisor is not usable here" in message
    assert status.detail.rstrip(".") in message


def test_the_tier_is_the_hypervisor_backend() -> None:
    tiers._backends.pop("hypervisor", None)
    assert isinstance(tiers.backend("hypervisor"), HypervisorBackend)


def test_an_image_without_hyperlight_code_is_refused_before_any_vm() -> None:
    outcome = HypervisorBackend().run(_invocation(None))
    assert outcome.exit_code == 1 and outcome.failure == "internal"
    assert "carries no Hyperlight code" in outcome.message


def test_aot_from_another_wasmtime_is_refused_before_any_vm() -> None:
    import wasmtime
    from wasmtime.component import Component

    backend = hl_guest.backend_guest()
    if backend is None:
        pytest.skip("hyperlight-sandbox-backend-wasm is not installed")
    engine = wasmtime.Engine()
    # Any component: wasmtime-py precompiles it for this host with its own version.
    code = Component(engine, "(component)").serialize()
    foreign = hl_guest.aot_engine(code)
    assert foreign is not None and foreign.wasmtime != backend.wasmtime
    with pytest.raises(RuntimeFailure, match=f"runs wasmtime {backend.wasmtime}"):
        check_version(code, {WASMTIME_ANNOTATION: foreign.wasmtime})
    started = time.perf_counter()
    outcome = HypervisorBackend().run(_invocation(
        Layer(HYPERLIGHT_AOT_MEDIA_TYPE, code, {WASMTIME_ANNOTATION: "x"})))
    assert outcome.failure == "internal" and "precompiled by wasmtime" in outcome.message
    assert time.perf_counter() - started < 1.0


def test_mounts_must_fit_the_backends_input_and_output_dirs(tmp_path: Path) -> None:
    from dataclasses import replace

    from wasmforge.runtime.backend import Preopen
    from wasmforge.runtime.hypervisor import mount_refusal

    def with_mounts(*mounts: Preopen) -> Invocation:
        return replace(_invocation(None), grants=Grants(preopens=mounts))

    host = str(tmp_path)
    assert mount_refusal(with_mounts(Preopen(host, "/input", True),
                                     Preopen(host, "/output/", False))) == ""

    assert "at /input, and this image wants it at /data" in mount_refusal(
        with_mounts(Preopen(host, "/data", True)))
    (tmp_path / "keep.txt").write_text("precious")
    assert "empties its /output directory before every call" in mount_refusal(
        with_mounts(Preopen(host, "/output", False)))
    assert "2 read-only and 0 read-write" in mount_refusal(
        with_mounts(Preopen(host, "/input", True), Preopen(host, "/more", True)))


def test_tools_load_by_module_path_and_only_when_declared() -> None:
    tools = load_tools(["dumps=json:dumps"], declared=("dumps",))
    assert tools["dumps"]("x") == '"x"'
    with pytest.raises(CapabilityError, match="'other' is not declared"):
        load_tools(["other=json:dumps"], declared=("dumps",))
    with pytest.raises(RuntimeFailure, match="cannot load"):
        load_tools(["dumps=no_such_module_x:f"], declared=("dumps",))
    with pytest.raises(RuntimeFailure, match="no entry point"):
        load_tools(["dumps"], declared=("dumps",))


def test_dispatch_refuses_undeclared_and_unprovided_names() -> None:
    ran: list[str] = []

    def tool(args: str) -> str:
        ran.append(args)
        return args

    dispatch = dispatcher(("a", "b"), {"a": tool, "c": tool})
    assert dispatch("a", "{}") == (True, "{}")
    assert dispatch("b", "{}") == (False, "tool 'b' is declared but not provided for this image")
    assert dispatch("c", "{}") == (False, "tool 'c' is not declared for this image")
    assert ran == ["{}"]


@pytest.fixture(scope="module")
def hyperlight_aot(guest: bytes, tmp_path_factory: pytest.TempPathFactory
                   ) -> Layer:
    """The runtime tests' C guest through `build --hyperlight`'s layer step."""
    from wasmforge.project import Project
    from wasmforge.toolchain.hyperlight import aot_tool_path, hyperlight_layers

    found = hl_guest.backend_guest()
    if found is None:
        pytest.skip("hyperlight-sandbox-backend-wasm is not installed")
    tool = aot_tool_path(found.wasmtime)  # WASMFORGE_TOOLCHAINS is pinned (tests/conftest.py)
    if not tool.is_file():
        pytest.skip(f"the Hyperlight precompiler is not built at {tool}"
                    " (wasmforge.toolchain.hyperlight.install_aot_tool)")
    patch = pytest.MonkeyPatch()
    patch.setenv("WASMFORGE_HYPERLIGHT_AOT", str(tool))
    jco = Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/jco")  # as conftest.JCO
    if "WASMFORGE_JCO" not in os.environ and jco.is_dir():
        patch.setenv("WASMFORGE_JCO", str(jco))
    try:
        work = tmp_path_factory.mktemp("hyperlight-aot")
        project = Project(root=work, name="hello", version="0.1.0", language="c")
        layers = hyperlight_layers(guest, project, work / "hl")
    finally:
        patch.undo()
    aot = next(x for x in layers if x.media_type == HYPERLIGHT_AOT_MEDIA_TYPE)
    return aot


@pytest.mark.slow
def test_the_aot_layer_travels_in_a_signed_image_only(
        hyperlight_aot: Layer, guest: bytes, make_image: Any,
        keys: Any) -> None:
    from dataclasses import replace

    from wasmforge.image.reader import load_image
    from wasmforge.runtime.hypervisor import unfit, with_hyperlight_code

    data, layer = hyperlight_aot.data, hyperlight_aot
    signed = load_image(make_image(guest, layers=(layer,)))
    picked = with_hyperlight_code(signed, _invocation(None))
    assert picked.precompiled == hyperlight_aot
    assert check_version(data, hyperlight_aot.annotations) == data
    unsigned = load_image(make_image(guest, layers=(layer,), sign=None), allow_unsigned=True)
    with pytest.raises(RuntimeFailure, match="native code, which runs only from a signed"):
        with_hyperlight_code(unsigned, replace(_invocation(None)))
    plain = load_image(make_image(guest))
    assert with_hyperlight_code(plain, _invocation(None)).precompiled is None
    assert unfit(plain, _invocation(None)) == "the image carries no Hyperlight code"
    assert "signed" in unfit(unsigned, _invocation(None))
    assert unfit(signed, _invocation(None)) == ""


@pytest.mark.slow
def test_a_vm_that_cannot_boot_is_a_one_sentence_failure_and_leaves_no_worker(
        hyperlight_aot: Layer, probe_home: Path) -> None:
    status = probe.probe_hypervisor()
    if status.usable:
        pytest.skip("the hypervisor tier is usable here (test_real_vm_boot covers it)")
    import multiprocessing

    backend = HypervisorBackend()
    outcome = backend.run(_invocation(hyperlight_aot, args=("hello",)))
    assert outcome.exit_code == 1 and outcome.failure == "trap"
    assert outcome.message.startswith("the Hyperlight VM failed: ")
    assert "\n" not in outcome.message
    if "InternalError" in status.detail:
        assert outcome.message == "the Hyperlight VM failed: Unknown KVM VCPU exit: InternalError"
    backend.close()
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_real_vm_boot(hyperlight_aot: Layer, tmp_path: Path,
                      probe_home: Path) -> None:
    status = probe.probe_hypervisor()
    if not status.usable:
        pytest.skip(f"the hypervisor tier is unusable here: {status.detail}")
    backend = HypervisorBackend()
    out = tmp_path / "stdout"
    try:
        with out.open("w") as sink:
            started = time.perf_counter()
            first = backend.run(_invocation(hyperlight_aot, Stdio(stdout=sink.fileno()),
                                            ("hello",)))
            created = time.perf_counter() - started
            started = time.perf_counter()
            again = backend.run(_invocation(hyperlight_aot, Stdio(stdout=sink.fileno()),
                                            ("hello",)))
            per_call = time.perf_counter() - started
    finally:
        backend.close()
    assert first.exit_code == 0, first.message
    assert again.exit_code == 0, again.message
    print(f"hypervisor: VM create + load + first call {created * 1000:.2f} ms; "
          f"call after restore {per_call * 1000:.2f} ms")


def test_auto_passes_over_a_usable_tier_the_image_cannot_use() -> None:
    from wasmforge.runtime.process import ProcessBackend

    if not ProcessBackend().available().usable:
        pytest.skip("the process tier is not usable here")
    notices: list[str] = []
    picked = tiers.choose("auto", "wasm", notices.append,
                          lambda tier: "it wants something else" if tier == "process" else "")
    assert picked.name == "wasm"
    assert notices[-1].startswith("isolation: wasm (")
    assert notices[-1].endswith("; process not used: it wants something else)")
    with pytest.raises(RuntimeFailure, match="process: it wants something else"):
        tiers.choose("auto", "process", notices.append,
                     lambda tier: "it wants something else" if tier == "process" else "")


def test_vm_memory_makes_room_for_the_code() -> None:
    from wasmforge.runtime.hyperlight_vm import HEAP_OVERHEAD_MIB, vm_memory

    heap, scratch = vm_memory(64 << 20)
    assert heap == 64 + HEAP_OVERHEAD_MIB and scratch >= min(heap, 67) + 1
    # a componentize-py hello's 39 MiB of AOT code failed to load with 70 MiB of scratch
    assert vm_memory(64 << 20, 39 << 20)[1] >= 76
    assert vm_memory(64 << 20, 39 << 20)[0] == heap  # the guest's own memory is unchanged
