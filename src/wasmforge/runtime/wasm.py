"""Tier `wasm`: the guest runs in this process, isolated by wasmtime alone."""

from __future__ import annotations

import contextlib

from wasmforge.runtime import policy
from wasmforge.runtime.backend import Backend, Invocation, RunOutcome, TierName, TierStatus


class WasmBackend(Backend):
    name: TierName = "wasm"
    bounds_host_calls = False  # epoch interruption stops wasm code, not a blocked host call

    @classmethod
    def cold(cls, concurrency: int = 1) -> WasmBackend:
        from wasmforge.runtime import engine, instance

        engine.forget_compiled()
        instance.forget_linkers()
        return cls()

    def available(self) -> TierStatus:
        try:
            import wasmtime  # noqa: F401

            from wasmforge.codecache import wasmtime_version  # no importlib.metadata
        except ImportError as err:
            return TierStatus(False, f"wasmtime-py cannot be imported ({err}); "
                              "reinstall wasmforge with `pip install .`")
        return TierStatus(True, f"in-process wasmtime-py {wasmtime_version()}")

    def prestart(self, invocation: Invocation) -> None:
        """Load (or, the first time, compile) the component before the wall clock starts."""
        import wasmtime

        from wasmforge.runtime.instance import prepare

        with contextlib.suppress(wasmtime.WasmtimeError):  # the run reports it
            prepare(invocation)

    def notices(self, invocation: Invocation) -> list[str]:
        if not invocation.grants.network:
            return []
        return [policy.NETWORK_NOTICE.format(hosts=", ".join(invocation.grants.network))]

    def run(self, invocation: Invocation) -> RunOutcome:
        from wasmforge.runtime.instance import execute

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
