"""`[build] precompile = true`: ship wasmtime's compiled code in the image.

The runtime maps this code instead of compiling (componentize-py/js components take ~10 s
to compile) when the layer's engine fingerprint equals its own, and only for signed images:
precompiled code is native code. The engine settings, their fingerprint and the annotation
are runtime/codecache.py's, which the runtime's engine uses too.
"""

from __future__ import annotations

import wasmtime
from wasmtime.component import Component

from wasmforge.errors import BuildFailed
from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, Layer
from wasmforge.runtime.codecache import (
    ENGINE_ANNOTATION,
    engine_config,
    engine_fingerprint,
    wasmtime_version,
)

WASMTIME_ANNOTATION = "dev.wasmforge.wasmtime.version"


def precompile_layer(component: bytes, fuel: bool = False) -> Layer:
    """Compile `component` with the runtime's engine settings into a PRECOMPILED layer."""
    try:
        code = bytes(Component(wasmtime.Engine(engine_config(fuel)), component).serialize())
    except wasmtime.WasmtimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unknown error"
        raise BuildFailed(f"wasmtime cannot compile the component ({first})",
                          fix="check that it validates with `wasm-tools validate`") from None
    return Layer(media_type=PRECOMPILED_MEDIA_TYPE, data=code, annotations={
        ENGINE_ANNOTATION: engine_fingerprint(fuel),
        WASMTIME_ANNOTATION: wasmtime_version(),
    })
