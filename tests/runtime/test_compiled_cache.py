"""Cold start: compiled code comes from the image or the local cache, never recompiled."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeImage

from wasmforge.image.model import PRECOMPILED_MEDIA_TYPE, Layer
from wasmforge.runtime import engine, instance
from wasmforge.runtime.run import RunRequest, component_digest, run_image
from wasmforge.toolchain import precompile


def _cold() -> None:
    engine.forget_compiled()
    instance.forget_linkers()


def _run(image: Path, **options: object) -> int:
    return run_image(RunRequest(image=str(image), args=("hello",), isolation="wasm",
                                **options), lambda _m: None)  # type: ignore[arg-type]


def test_build_and_runtime_compile_with_one_engine_definition() -> None:
    layer = precompile.precompile_layer(b"(component)")
    assert layer.annotations[engine.ENGINE_ANNOTATION] == engine.get_engine(False).fingerprint


def test_first_run_fills_the_cache_and_later_runs_map_it(make_image: MakeImage, guest: bytes,
                                                        home: Path) -> None:
    image = make_image(guest, name="cached")
    path = engine.cache_path(component_digest(guest), engine.get_engine(False))
    path.unlink(missing_ok=True)
    _cold()
    assert _run(image) == 0
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    _cold()
    assert _run(image) == 0
    assert path.stat().st_mtime_ns == stamp  # served from the cache, not rewritten


def test_corrupt_cache_entry_is_rebuilt(make_image: MakeImage, guest: bytes) -> None:
    image = make_image(guest, name="corrupt")
    path = engine.cache_path(component_digest(guest), engine.get_engine(False))
    _cold()
    assert _run(image) == 0
    # a new file, as any writer must use: the old one may still be mapped by this process
    (path.parent / "junk").write_bytes(b"not compiled code")
    (path.parent / "junk").replace(path)
    _cold()
    assert _run(image) == 0
    assert path.read_bytes() != b"not compiled code"


def test_signed_images_precompiled_layer_is_used(make_image: MakeImage, guest: bytes) -> None:
    layer = precompile.precompile_layer(guest)
    assert layer.media_type == PRECOMPILED_MEDIA_TYPE
    image = make_image(guest, layers=(layer,), name="precompiled")
    path = engine.cache_path(component_digest(guest), engine.get_engine(False))
    path.unlink(missing_ok=True)
    _cold()
    assert _run(image) == 0
    assert path.read_bytes() == layer.data


def test_unsigned_images_precompiled_code_is_never_used(make_image: MakeImage,
                                                        guest: bytes) -> None:
    from wasmforge.runtime.run import invocation_for, load

    image = make_image(guest, layers=(precompile.precompile_layer(guest),), sign=None,
                       name="unsigned")
    request = RunRequest(image=str(image), allow_unsigned=True)
    invocation = invocation_for(load(request, lambda _m: None), request, lambda _m: None)
    assert invocation.precompiled is None


@pytest.mark.parametrize("annotation", ["wasmtime-py 1.0.0; other engine", "ours"])
def test_foreign_or_broken_precompiled_code_falls_back_to_compiling(
        make_image: MakeImage, guest: bytes, annotation: str) -> None:
    fingerprint = engine.engine_fingerprint(False) if annotation == "ours" else annotation
    layer = Layer(PRECOMPILED_MEDIA_TYPE, b"\x7fELF but not wasmtime's",
                  {engine.ENGINE_ANNOTATION: fingerprint})
    image = make_image(guest, layers=(layer,), name="foreign")
    path = engine.cache_path(component_digest(guest), engine.get_engine(False))
    path.unlink(missing_ok=True)
    _cold()
    assert _run(image) == 0
    assert path.read_bytes() == precompile.precompile_layer(guest).data
