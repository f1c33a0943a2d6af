"""The Hyperlight executor under in-process wasmtime, as the hypervisor tier's VM would
host it: for tests of the executor and of `build --hyperlight` on hosts where no VM boots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.runtime.hyperlight_vm import GUEST_OUTPUT, take_captured, take_exit_status


@dataclass(frozen=True)
class ExecutionResult:
    stdout: str
    stderr: str
    exit_code: int


def run_executor_in_wasmtime(component: bytes, request: str,
                             dispatch: Callable[[str, str], tuple[bool, str]],
                             output_dir: Path) -> ExecutionResult:
    """Call `hyperlight:sandbox/executor.run(request)` of a composed executor under
    wasmtime-py, with WASI from wasmtime (`output_dir` preopened at /output, as the backend
    does) and tools.dispatch from `dispatch`. The guest's stdout/stderr are collected."""
    import wasmtime
    from wasmtime.component import Component, Linker, Variant

    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.add_wasip2()

    def host_dispatch(_store: Any, name: str, args_json: str) -> Any:
        ok, text = dispatch(name, args_json)
        return Variant("ok", text) if ok else Variant("err", text)

    with linker.root() as root, root.add_instance("hyperlight:sandbox/tools") as tools:
        tools.add_func("dispatch", host_dispatch)
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.preopen_dir(str(output_dir), GUEST_OUTPUT)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, Component(engine, component))
    index = instance.get_export_index(store, "hyperlight:sandbox/executor")
    run = instance.get_func(store, instance.get_export_index(store, "run", index))
    assert run is not None
    try:
        result = run(store, request)
        code, out, err = getattr(result, "exit-code"), result.stdout, result.stderr
    except wasmtime.WasmtimeError:
        status = take_exit_status(output_dir)
        if status is None:
            raise
        code, out, err = status, "", ""  # the guest called exit(), which traps by design
    captured_out, captured_err = take_captured(output_dir)
    return ExecutionResult(captured_out + out, captured_err + err, code)
