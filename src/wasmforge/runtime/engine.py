"""One wasmtime Engine per configuration, and compiled code that is never rebuilt on the hot path.

Compiled components come, in order, from this process's memory, from the local cache
`$WASMFORGE_HOME/cache/compiled/<component digest>-<engine key>.cwasm` (which `build` fills),
or from a signed image's precompiled layer when its engine fingerprint is ours; only a miss
on all three compiles (once) and fills the cache. Cached code is native code: it is loaded
only when its seal proves this user's wasmforge wrote it (codecache.py), from the
very bytes that were checked; anything else is discarded and compiled again. A process-tier
worker, which cannot read the key, loads only bytes that hash to what its host checked
(`expect_code`). The engine keeps `memory_init_cow` on, so a guest's initial memory is
copy-on-write.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime
from wasmtime.component import Component

from wasmforge import codecache
from wasmforge.codecache import (
    ENGINE_ANNOTATION,
    compiled_path,
    engine_config,
    engine_fingerprint,
)

if TYPE_CHECKING:
    from wasmforge.image.model import Layer

EPOCH_TICK_S = 0.005
_MEMORY_CACHE_SIZE = 32


@dataclass
class EngineBundle:
    """A wasmtime engine and the fingerprint its compiled code is cached under."""

    engine: wasmtime.Engine
    fingerprint: str
    fuel: bool


_engines: dict[bool, EngineBundle] = {}
_engines_lock = threading.Lock()
_compiled: OrderedDict[tuple[str, bool], Component] = OrderedDict()
_compiled_lock = threading.Lock()
_ticker_started: set[bool] = set()
_expected: dict[tuple[str, bool], str] = {}  # a worker's (digest, fuel) -> code's SHA-256


def get_engine(fuel: bool = False) -> EngineBundle:
    with _engines_lock:
        bundle = _engines.get(fuel)
        if bundle is None:
            bundle = EngineBundle(wasmtime.Engine(engine_config(fuel)), engine_fingerprint(fuel),
                                  fuel)
            _engines[fuel] = bundle
        if fuel not in _ticker_started:
            _ticker_started.add(fuel)
            threading.Thread(target=_tick, args=(bundle.engine,), daemon=True,
                             name=f"wasmforge-epoch-{fuel}").start()
    return bundle


@dataclass
class _Clock:
    """An engine's epoch as a function of real time: one epoch per EPOCH_TICK_S."""

    engine: wasmtime.Engine
    started: float = field(default_factory=time.monotonic)
    ticks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def catch_up(self) -> None:
        with self.lock:
            due = int((time.monotonic() - self.started) / EPOCH_TICK_S)
            while self.ticks < due:
                self.engine.increment_epoch()
                self.ticks += 1


_clocks: list[_Clock] = []


def _tick(engine: wasmtime.Engine) -> None:
    """The wall clock of every store of `engine`.

    The epoch follows the monotonic clock, not the number of wake-ups: on a loaded machine
    each sleep overruns, and counting wake-ups made a 2 s cap end at 3 s."""
    clock = _Clock(engine)
    with _engines_lock:
        _clocks.append(clock)
    stop = threading.Event()
    while not stop.wait(EPOCH_TICK_S):
        clock.catch_up()


def catch_up_all() -> None:
    """Bring every engine's epoch up to real time now, from the calling thread: after this a
    guest past its deadline stops at its next loop or call if it is running wasm code."""
    with _engines_lock:
        clocks = list(_clocks)
    for clock in clocks:
        clock.catch_up()


def deadline_ticks(timeout_s: float) -> int:
    return max(1, int(timeout_s / EPOCH_TICK_S + 0.999)) + 1


def cache_path(digest: str, bundle: EngineBundle) -> Path:
    return compiled_path(digest, bundle.fuel)


def load_component(bundle: EngineBundle, digest: str, component: bytes,
                   precompiled: Layer | None = None) -> Component:
    """The compiled component for `digest`, compiling only when no cache can serve it."""
    key = (digest, bundle.fuel)
    with _compiled_lock:
        found = _compiled.get(key)
        if found is not None:
            _compiled.move_to_end(key)
            return found
    compiled = _from_disk(bundle, digest, component, precompiled)
    with _compiled_lock:
        _compiled[key] = compiled
        while len(_compiled) > _MEMORY_CACHE_SIZE:
            _compiled.popitem(last=False)
    return compiled


def forget_compiled() -> None:
    """Drop this process's compiled components (benchmarks measure a cold process)."""
    with _compiled_lock:
        _compiled.clear()


def expect_code(digest: str, fuel: bool, sha256: str) -> None:
    """In a sandboxed worker: load `digest`'s cached code only if it hashes to `sha256`,
    which the host read from the code's checked seal."""
    _expected[(digest, fuel)] = sha256


def cached_file(bundle: EngineBundle, digest: str, component: bytes,
                precompiled: Layer | None = None) -> Path:
    """Make sure sealed compiled code is cached (for workers that load it) and return it."""
    path = cache_path(digest, bundle)
    if codecache.verified_sha256(path) is None:
        compiled = load_component(bundle, digest, component, precompiled)
        if codecache.verified_sha256(path) is None:  # this process held it: write it out
            with contextlib.suppress(OSError):
                codecache.store(path, bytes(compiled.serialize()))
    return path


def _from_disk(bundle: EngineBundle, digest: str, component: bytes,
               precompiled: Layer | None) -> Component:
    path = cache_path(digest, bundle)
    expected = _expected.get((digest, bundle.fuel))
    if expected is not None:
        return _load_expected(bundle, path, expected)
    data = codecache.load_sealed(path)
    if data is None and precompiled is not None:
        data = _from_layer(bundle, path, precompiled)
    if data is not None:
        try:
            return Component.deserialize(bundle.engine, data)
        except wasmtime.WasmtimeError:
            codecache.discard(path)  # stale or foreign: compile below
    compiled = Component(bundle.engine, component)
    with contextlib.suppress(OSError):  # a cache we cannot write only costs speed
        codecache.store(path, bytes(compiled.serialize()))
    return compiled


def _from_layer(bundle: EngineBundle, path: Path, precompiled: Layer) -> bytes | None:
    """A signed image's precompiled code (run.py passes only signed layers), if it was
    compiled for this engine; it is cached for later runs and workers."""
    data = precompiled.data
    if precompiled.annotations.get(ENGINE_ANNOTATION) != bundle.fingerprint:
        return None
    with contextlib.suppress(OSError):
        codecache.store(path, data)
    return data


def _load_expected(bundle: EngineBundle, path: Path, sha256: str) -> Component:
    data = codecache.read_matching(path, sha256)
    if data is None:
        raise wasmtime.WasmtimeError(f"the compiled code {path.name} does not match what the "
                                     "host checked, so it was not loaded")
    return Component.deserialize(bundle.engine, data)
