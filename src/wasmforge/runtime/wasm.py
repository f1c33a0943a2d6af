"""Tier `wasm`: the guest runs in this process, isolated by wasmtime alone."""

from __future__ import annotations

from wasmforge.runtime.backend import Invocation, RunOutcome, TierName, TierStatus


class WasmBackend:
    name: TierName = "wasm"

    def available(self) -> TierStatus:
        try:
            from importlib.metadata import version

            import wasmtime  # noqa: F401
        except ImportError as err:
            return TierStatus(False, f"wasmtime-py cannot be imported ({err}); "
                              "reinstall wasmforge with `pip install .`")
        return TierStatus(True, f"in-process wasmtime-py {version('wasmtime')}")

    def run(self, invocation: Invocation) -> RunOutcome:
        from wasmforge.runtime.executor import execute

        writable = [p.host for p in invocation.grants.preopens if not p.read_only]
        if not writable:
            return execute(invocation)
        from wasmforge.runtime import linkguard

        why = linkguard.install()
        if why:
            return RunOutcome(1, "denied", f"{why}, so the wasm tier cannot stop a guest from "
                              "planting a symlink that leads out of its writable mount; mount "
                              "it read-only or use --isolation process")
        linkguard.guard(writable)
        try:
            return execute(invocation)
        finally:
            linkguard.unguard(writable)
