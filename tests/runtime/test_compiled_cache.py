"""Cold start: compiled code comes from the image or the local cache, never recompiled."""

from __future__ import annotations

import hashlib
import platform
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MakeImage

from wasmforge import codecache, userkey
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


# ---------------------------------------------------------------- integrity and modes

EXIT_42 = bytes.fromhex("bf2a000000b8e70000000f05")  # mov edi, 42; mov eax, 231; syscall


def _text_section(elf: bytes) -> tuple[int, int]:
    """(offset, size) of the .text section of a 64-bit little-endian ELF."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(index: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", elf, shoff + index * shentsize)
        return name, offset, size

    _, names_at, _ = section(shstrndx)
    for index in range(shnum):
        name, offset, size = section(index)
        if elf[names_at + name: elf.index(b"\0", names_at + name)] == b".text":
            return offset, size
    raise AssertionError("no .text section in the compiled code")


def _plant_exit_42(path: Path) -> None:
    """Replace the cached code's .text with a slide into exit_group(42), as an attacker
    with write access to the cache would: any function the guest enters exits 42."""
    code = bytearray(path.read_bytes())
    offset, size = _text_section(bytes(code))
    code[offset: offset + size] = b"\x90" * (size - len(EXIT_42)) + EXIT_42
    tampered = path.with_name("tampered")
    tampered.write_bytes(bytes(code))
    tampered.replace(path)  # the seal beside it is left as it was


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the planted code is x86-64")
def test_tampered_compiled_code_never_runs(make_image: MakeImage, guest: bytes, tier: str,
                                           tmp_path: Path) -> None:
    image = make_image(guest, name=f"tampered-{tier}")
    path = engine.cache_path(component_digest(guest), engine.get_engine(False))
    _cold()
    assert _cli_run(image, tier).returncode == 0
    _plant_exit_42(path)
    done = _cli_run(image, tier)
    assert (done.returncode, done.stdout) == (0, "hello from c\n"), done.stderr
    assert codecache.verified_sha256(path) is not None  # compiled again, and sealed


def test_code_without_a_valid_seal_is_compiled_again(make_image: MakeImage,
                                                     guest: bytes) -> None:
    image = make_image(guest, name="unsealed")
    path = engine.cache_path(component_digest(guest), engine.get_engine(False))
    _cold()
    assert _run(image) == 0
    good = path.read_bytes()
    codecache.seal_path(path).write_text("0" * 64 + " " + "0" * 64 + "\n")  # a forged seal
    _cold()
    assert _run(image) == 0
    assert codecache.verified_sha256(path) == hashlib.sha256(good).hexdigest()


def test_worker_loads_only_code_that_matches_its_hosts_check(guest: bytes) -> None:
    """The process tier's worker has no key: it loads only bytes whose hash the host gave."""
    import wasmtime

    digest = component_digest(guest)
    bundle = engine.get_engine(False)
    engine.cached_file(bundle, digest, guest)
    _cold()
    engine.expect_code(digest, False, "0" * 64)
    try:
        with pytest.raises(wasmtime.WasmtimeError, match="does not match what the host"):
            engine.load_component(bundle, digest, b"")
    finally:
        engine._expected.clear()


def test_cache_folders_and_files_are_private(make_image: MakeImage, guest: bytes,
                                             home: Path) -> None:
    _cold()
    assert _run(make_image(guest, name="modes")) == 0
    for folder in (home, home / "cache", codecache.cache_root(), home / "trust",
                   home / "trust" / "keys"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [home / "cache" / "code.key", *codecache.cache_root().iterdir(),
             *(home / "trust" / "keys").iterdir()]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


@pytest.mark.parametrize("what", ["cache", "trust"])
def test_a_store_others_can_write_is_refused_in_one_sentence(
        make_image: MakeImage, guest: bytes, home: Path, what: str) -> None:
    image = make_image(guest, name=f"shared-{what}")
    folder = codecache.cache_root() if what == "cache" else home / "trust" / "keys"
    folder.chmod(0o770)
    try:
        done = _cli_run(image, "wasm")
    finally:
        folder.chmod(0o700)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {'the compiled-code cache' if what == 'cache' else 'the trust store'} at "
        f"{folder} can be written by other users (mode 770), so wasmforge will not use it; "
        f"run `chmod go-w {folder}`.")
    assert "Traceback" not in done.stderr


def test_a_key_others_can_read_is_refused(make_image: MakeImage, guest: bytes,
                                          home: Path) -> None:
    image = make_image(guest, name="readable-key")
    key = home / "cache" / "code.key"
    _cold()
    assert _run(image) == 0
    key.chmod(0o644)
    userkey.forget()
    try:
        done = _cli_run(image, "wasm")
    finally:
        key.chmod(0o600)
    assert done.returncode == 1
    assert "can be read by other users (mode 644)" in done.stderr
    assert f"run `chmod 600 {key}`" in done.stderr


def _cli_run(image: Path, tier: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", "run", str(image), "--isolation",
                           tier, "--", "hello"], capture_output=True, text=True, timeout=120,
                          check=False)
