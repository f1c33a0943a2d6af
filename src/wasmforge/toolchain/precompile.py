"""`[build] precompile = true`: ship wasmtime's compiled code in the image.

The runtime maps this code instead of compiling (componentize-py/js components take ~10 s
to compile) when the layer's engine fingerprint equals its own, and only for signed images:
precompiled code is native code. The fingerprint is runtime/codecache.py's (which imports no
wasmtime); the engine settings mirror runtime/engine.py, and a test checks they agree.
"""

from __future__ import annotations

import wasmtime
from wasmtime.component import Component

from wasmforge.errors import BuildFailed
from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, Layer
from wasmforge.runtime.codecache import engine_fingerprint, wasmtime_version

ENGINE_ANNOTATION = "dev.wasmforge.engine"
WASMTIME_ANNOTATION = "dev.wasmforge.wasmtime.version"


def precompile_layer(component: bytes, fuel: bool = False) -> Layer:
    """Compile `component` with the runtime's engine settings into a PRECOMPILED layer."""
    config = wasmtime.Config()
    config.epoch_interruption = True
    config.consume_fuel = fuel
    config.memory_init_cow = True
    try:
        code = bytes(Component(wasmtime.Engine(config), component).serialize())
    except wasmtime.WasmtimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unknown error"
        raise BuildFailed(f"wasmtime cannot compile the component ({first})",
                          fix="check that it validates with `wasm-tools validate`") from None
    return Layer(media_type=PRECOMPILED_MEDIA_TYPE, data=code, annotations={
        ENGINE_ANNOTATION: engine_fingerprint(fuel),
        WASMTIME_ANNOTATION: wasmtime_version(),
    })
