"""Compiled code made at build time, so that the first `run` compiles nothing.

Every build leaves the component's compiled code in the local compiled-code cache, under
the key and with the seal that `run` looks up (codecache.py, which imports no
wasmtime), compiled with the runtime's own engine settings (`engine_config`).
`[build] precompile = true` also ships that code in the image as a layer, for other
machines: the runtime uses it when the layer's engine fingerprint equals its own, and only
for signed images, since precompiled code is native code.
"""

from __future__ import annotations

import contextlib
import hashlib

from wasmforge.codecache import (
    ENGINE_ANNOTATION,
    compiled_path,
    engine_config,
    engine_fingerprint,
    sealed_sha256,
    store,
    wasmtime_version,
)
from wasmforge.errors import BuildFailed
from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, Layer

WASMTIME_ANNOTATION = "dev.wasmforge.wasmtime.version"


def compile_component(component: bytes, fuel: bool = False) -> bytes:
    """wasmtime's compiled code for `component`, as the runtime's engine makes it."""
    import wasmtime
    from wasmtime.component import Component

    try:
        return bytes(Component(wasmtime.Engine(engine_config(fuel)), component).serialize())
    except wasmtime.WasmtimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unknown error"
        raise BuildFailed(f"wasmtime cannot compile the component ({first})",
                          fix="check that it validates with `wasm-tools validate`") from None


def precompile_layer(component: bytes, fuel: bool = False,
                     code: bytes | None = None) -> Layer:
    """A PRECOMPILED layer of `component` (`code` when it is compiled already)."""
    return Layer(media_type=PRECOMPILED_MEDIA_TYPE,
                 data=code if code is not None else compile_component(component, fuel),
                 annotations={ENGINE_ANNOTATION: engine_fingerprint(fuel),
                              WASMTIME_ANNOTATION: wasmtime_version()})


def is_cached(component: bytes) -> bool:
    """Whether `run` will find sealed compiled code for `component` (no fuel cap). The
    seal is checked, not the code's hash (a no-op build stays fast): `run` checks that, and
    compiles again rather than load code that does not match."""
    path = compiled_path(_digest(component), False)
    return path.is_file() and sealed_sha256(path) is not None


def cache_compiled(component: bytes, code: bytes | None = None) -> bytes:
    """Compile `component` (unless `code` is given) into the run's cache; returns the code.
    A cache that cannot be written only costs the first run its speed."""
    code = code if code is not None else compile_component(component)
    with contextlib.suppress(OSError):
        store(compiled_path(_digest(component), False), code)
    return code


def _digest(component: bytes) -> str:
    return "sha256:" + hashlib.sha256(component).hexdigest()
