"""Is the hypervisor tier usable here? Boot a canary Hyperlight VM once per host boot.

The answer is cached under $WASMFORGE_HOME/hyperlight/probe-<boot id>.json: a host's
hypervisor does not change until it reboots, and booting the canary costs a VM start.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from wasmforge import paths
from wasmforge.guest import hyperlight as guest

DEVICES = ("/dev/kvm", "/dev/mshv")
# hyperlight-sandbox's context for errors of the module step, after the VM has booted.
MODULE_STEP = "failed to load Wasm module"


@dataclass(frozen=True)
class ProbeStatus:
    """The hypervisor tier's state, and why when it is unusable."""

    usable: bool
    detail: str


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def cache_path() -> Path:
    return paths.home() / "hyperlight" / f"probe-{boot_id()}.json"


def probe_hypervisor(*, refresh: bool = False) -> ProbeStatus:
    """The tier's state with the exact reason when unusable (cached per host boot)."""
    device = next((d for d in DEVICES if os.path.exists(d)), None)
    if device is None:
        return ProbeStatus(False, "no hypervisor device: neither /dev/kvm nor /dev/mshv exists")
    if not os.access(device, os.R_OK | os.W_OK):
        return ProbeStatus(False, f"permission denied on {device} (add this user to its group, "
                           "e.g. `sudo adduser $USER kvm`, and log in again)")
    missing = ProbeStatus(False, "the Hyperlight backend package is missing (pip install "
                          "'wasmforge[hyperlight]': hyperlight-sandbox and "
                          "hyperlight-sandbox-backend-wasm)")
    native = guest.backend_native_module()
    if native is None:
        return missing
    stamp = f"{native}:{native.stat().st_mtime_ns}"
    cached = cache_path()
    if not refresh and cached.is_file():
        try:
            data = json.loads(cached.read_text())
            if data.get("backend") == stamp:
                return ProbeStatus(bool(data["usable"]), str(data["detail"]))
        except (OSError, ValueError, KeyError):
            pass
    backend = guest.backend_guest()
    if backend is None:
        return missing
    status = _boot_canary(device, backend)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({**asdict(status), "backend": stamp}))
    except OSError:
        pass
    return status


def _boot_canary(device: str, backend: guest.BackendGuest) -> ProbeStatus:
    """Start a VM with a canary module that is not precompiled code. hyperlight-sandbox boots
    the VM and its wasm runtime first ("failed to load Wasm runtime" when that fails), then
    loads the module ("failed to load Wasm module"): reaching the module step is the proof
    that VMs boot here, and needs no precompiler on the host."""
    try:
        from hyperlight_sandbox_backend_wasm import WasmSandbox
    except ImportError as err:
        return ProbeStatus(False, f"the Hyperlight backend package is missing ({err})")
    with tempfile.TemporaryDirectory(prefix="wasmforge-probe-") as tmp:
        canary = Path(tmp) / "canary.aot"
        canary.write_bytes(b"\0asm\x01\0\0\0")  # an empty core module
        try:
            WasmSandbox(str(canary), heap_size="8Mi").run("")
        except Exception as err:  # the native module raises RuntimeError
            return canary_verdict(str(err), device, backend)
    return canary_verdict(None, device, backend)


def canary_verdict(error: str | None, device: str, backend: guest.BackendGuest) -> ProbeStatus:
    """The tier's state from how the canary run ended (None: it ran without an error)."""
    if error is not None and MODULE_STEP not in error:
        return ProbeStatus(False, f"the canary VM failed to run on {device}: "
                           f"{innermost_error(error)}{_explain(error)}")
    return ProbeStatus(True, f"Hyperlight VMs boot on {device} ({guest.BACKEND_PACKAGE} "
                       f"{backend.package_version}, guest wasmtime {backend.wasmtime})")


def innermost_error(text: str) -> str:
    """The innermost message of hyperlight's repeated error chain, on one line."""
    marker = "Unexpected VM exit: "
    if marker in text:
        return text.rsplit(marker, 1)[1].strip().splitlines()[0]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _explain(text: str) -> str:
    if "InternalError" in text:
        return (" (KVM_EXIT_INTERNAL_ERROR: the host's KVM emulates the guest's instructions, "
                "as nested PVM does, and cannot run Hyperlight guests)")
    return ""
