"""What the Hyperlight guest hosts, read from its bytes, and the build-time check that a
composition links there: by exact name or by wasmtime's semver track, with every function
and resource it names defined."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from wasmforge.errors import BuildFailed
from wasmforge.guest import hyperlight as guest
from wasmforge.toolchain.hyperlight import check_hosted

WASI_VERSION = "0.2.12"  # jco 1.35.0's WASI WIT, as in conftest


@pytest.mark.parametrize(("name", "track"), [
    ("wasi:io/streams@0.2.12", "wasi:io/streams@0.2"),
    ("wasi:io/streams@0.2.0", "wasi:io/streams@0.2"),
    ("a:b/c@1.2.3", "a:b/c@1"),
    ("a:b/c@2.0.0+build", "a:b/c@2"),
    ("a:b/c@0.0.3", None),  # 0.0.x matches only itself
    ("wasi:io/streams@0.2.0-rc-2023-11-10", None),  # so do pre-releases
    ("hyperlight:sandbox/tools", None),  # and unversioned names
])
def test_semver_track_follows_wasmtime(name: str, track: str | None) -> None:
    assert guest.semver_track(name) == track


GUEST = (b"\0wasi:cli/environment@0.2.0get-environmentwasi:io/streams@0.2.0output-stream"
         b"[method]output-stream.write\0wasi:io/streams@0.2.3\0acme:kv/store@1.4.2get"
         b"acme:kv/store@1.10.0\0hyperlight:sandbox/toolsdispatch\0")


@pytest.mark.parametrize(("name", "hosted"), [
    ("wasi:cli/environment@0.2.0", "wasi:cli/environment@0.2.0"),  # exact
    ("wasi:cli/environment@0.2.12", "wasi:cli/environment@0.2.0"),  # newer import, older host
    ("wasi:io/streams@0.2.1", "wasi:io/streams@0.2.3"),  # the newest on the track wins
    ("wasi:io/streams@0.2.3", "wasi:io/streams@0.2.3"),
    ("acme:kv/store@1.0.0", "acme:kv/store@1.10.0"),  # numeric, not textual, order
    ("hyperlight:sandbox/tools", "hyperlight:sandbox/tools"),
    ("wasi:io/streams@0.3.0", None),  # another track
    ("wasi:cli/environment@0.2.0-rc", None),
    ("wasi:cli/exit@0.2.0", None),  # not hosted at all
])
def test_hosted_interface_resolves_as_the_guests_linker(name: str, hosted: str | None) -> None:
    assert guest.hosted_interface(GUEST, name) == hosted


def test_an_exact_name_is_not_a_prefix_of_a_longer_version() -> None:
    assert guest.hosted_interface(b"wasi:io/poll@0.2.12", "wasi:io/poll@0.2.1") == \
        "wasi:io/poll@0.2.12"


@pytest.fixture(scope="module")
def backend() -> guest.BackendGuest:
    found = guest.backend_guest()
    if found is None:
        pytest.skip("hyperlight-sandbox-backend-wasm is not installed "
                    "(pip install 'wasmforge[hyperlight]')")
    return found


def test_the_installed_backend_hosts_wasi_0_2_and_tools(backend: guest.BackendGuest) -> None:
    image = backend.image()
    for name in ("wasi:io/streams@0.2.12", "wasi:filesystem/types@0.2.12",
                 "wasi:http/outgoing-handler@0.2.12", "wasi:sockets/tcp@0.2.12"):
        hosted = guest.hosted_interface(image, name)
        assert hosted is not None and hosted.startswith(name.rsplit(".", 1)[0] + ".")
    assert guest.hosted_interface(image, "hyperlight:sandbox/tools") == "hyperlight:sandbox/tools"
    assert guest.hosted_interface(image, "wasi:cli/run@0.2.0") is None  # it exports, not hosts


def test_the_composed_executor_links_in_the_guest(composed: Path,
                                                  backend: guest.BackendGuest) -> None:
    check_hosted(composed, backend, where="wasmforge.toml")


def _component(jco: Path, tmp_path: Path, world: str) -> Path:
    """A component with a dummy core module for `world` over jco's WASI WIT."""
    wit = tmp_path / "wit"
    shutil.copytree(jco / "lib" / "wit" / "builtin" / WASI_VERSION, wit / "deps")
    (wit / "probe.wit").write_text(
        "package acme:probe@0.1.0;\n"
        "interface store { get: func(key: string) -> option<string>; }\n" + world)
    core, out = tmp_path / "core.wasm", tmp_path / "probe.wasm"
    subprocess.run(["wasm-tools", "component", "embed", "--dummy", str(wit), "--world",
                    "probe", "-o", str(core)], check=True, capture_output=True)
    subprocess.run(["wasm-tools", "component", "new", str(core), "-o", str(out)], check=True,
                   capture_output=True)
    return out


def test_an_interface_the_backend_does_not_host_fails_the_build(
        jco: Path, tmp_path: Path, backend: guest.BackendGuest) -> None:
    probe = _component(jco, tmp_path, "world probe { import store; }")
    with pytest.raises(BuildFailed) as refused:
        check_hosted(probe, backend, where="hello/wasmforge.toml")
    text = str(refused.value)
    assert "imports acme:probe/store@0.1.0" in text and "does not host" in text
    assert refused.value.where == "hello/wasmforge.toml"


def test_a_function_newer_than_the_hosted_release_fails_the_build(
        jco: Path, tmp_path: Path, backend: guest.BackendGuest) -> None:
    # jco's WASI 0.2.12 wasi:cli/exit has exit-with-code; the guest's 0.2.0 has only exit.
    probe = _component(jco, tmp_path, f"world probe {{ import wasi:cli/exit@{WASI_VERSION}; }}")
    with pytest.raises(BuildFailed) as refused:
        check_hosted(probe, backend, where="wasmforge.toml")
    text = str(refused.value)
    assert f"imports wasi:cli/exit@{WASI_VERSION} exit-with-code" in text
    assert "it hosts wasi:cli/exit@0.2.0" in text
