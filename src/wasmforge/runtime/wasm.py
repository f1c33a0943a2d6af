"""Tier `wasm`: the guest runs in this process, isolated by wasmtime alone."""

from __future__ import annotations

from wasmforge.runtime.backend import Invocation, RunOutcome, TierName, TierStatus


class WasmBackend:
    name: TierName = "wasm"

    def available(self) -> TierStatus:
        try:
            import wasmtime  # noqa: F401

            from wasmforge.runtime.codecache import wasmtime_version  # no importlib.metadata
        except ImportError as err:
            return TierStatus(False, f"wasmtime-py cannot be imported ({err}); "
                              "reinstall wasmforge with `pip install .`")
        return TierStatus(True, f"in-process wasmtime-py {wasmtime_version()}")

    def run(self, invocation: Invocation) -> RunOutcome:
        from wasmforge.runtime.executor import execute

        return execute(invocation)
