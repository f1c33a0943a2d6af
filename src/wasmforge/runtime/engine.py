"""One wasmtime Engine per configuration, and compiled code that is never rebuilt on the hot path.

Compiled components come, in order, from this process's memory, from the image's
precompiled layer when its engine fingerprint is ours, or from the local cache
`$WASMFORGE_HOME/cache/compiled/<component digest>-<engine key>.cwasm`; only a miss on
all three compiles (once) and fills the cache. Files are loaded with
`Component.deserialize_file`, which maps them instead of copying, and the engine keeps
`memory_init_cow` on, so a guest's initial memory is copy-on-write from that mapping.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime
from wasmtime.component import Component

from wasmforge.runtime.codecache import (
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
    engine: wasmtime.Engine
    fingerprint: str
    fuel: bool


_engines: dict[bool, EngineBundle] = {}
_engines_lock = threading.Lock()
_compiled: OrderedDict[tuple[str, bool], Component] = OrderedDict()
_compiled_lock = threading.Lock()
_ticker_started: set[bool] = set()


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


def cached_file(bundle: EngineBundle, digest: str, component: bytes,
                precompiled: Layer | None = None) -> Path:
    """Make sure the compiled-code file exists (for workers that map it) and return it."""
    path = cache_path(digest, bundle)
    if not path.is_file():
        load_component(bundle, digest, component, precompiled)
    return path


def _from_disk(bundle: EngineBundle, digest: str, component: bytes,
               precompiled: Layer | None) -> Component:
    path = cache_path(digest, bundle)
    if (precompiled is not None and not path.is_file()
            and precompiled.annotations.get(ENGINE_ANNOTATION) == bundle.fingerprint):
        _write_atomic(path, precompiled.data)
    if path.is_file():
        try:
            return Component.deserialize_file(bundle.engine, str(path))
        except wasmtime.WasmtimeError:
            with contextlib.suppress(OSError):  # a sandbox sees the cache read-only
                path.unlink(missing_ok=True)  # stale or foreign: rebuild below
    compiled = Component(bundle.engine, component)
    try:
        _write_atomic(path, bytes(compiled.serialize()))
        return Component.deserialize_file(bundle.engine, str(path))
    except OSError:
        return compiled  # a read-only cache only costs speed


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
