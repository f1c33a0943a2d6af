"""`wasmforge build --hyperlight`: the executor composed with the component, and its AOT code.

Two layers are added to the image:
  HYPERLIGHT_COMPONENT_MEDIA_TYPE  the composed executor component (guest/executor)
  HYPERLIGHT_AOT_MEDIA_TYPE        that component precompiled for x86_64-unknown-none by
                                   exactly the wasmtime version inside the installed
                                   hyperlight-sandbox-backend-wasm guest
The precompiler is wasmforge's own small Rust tool (guest/aot), built once per wasmtime
version into the toolchain cache by `install_aot_tool` (about 3.5 min on 2 cores).

Two checks stand in for the VM's first load, so a bad image fails its build, not its boot:
  `check_hosted`  each import of the composition resolves among the interfaces the guest
                  hosts (exactly or on its semver track, as wasmtime's Linker does), and
                  each function and resource it names is among the guest's names;
  `check_load`    the precompiler's `link` loads the AOT code with the guest's wasmtime,
                  links it against exactly those names (so `wasi:io/streams@0.2.12` meets
                  the guest's `@0.2.0`), instantiates it and calls `executor.run("")`, the
                  load request the backend snapshots after.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.errors import BuildFailed, ToolchainMissing
from wasmforge.guest import executor as executor_src
from wasmforge.guest import hyperlight as guest
from wasmforge.guest.deny.stub import world_imports
from wasmforge.image.model import (
    HYPERLIGHT_AOT_MEDIA_TYPE,
    HYPERLIGHT_COMPONENT_MEDIA_TYPE,
    Layer,
)
from wasmforge.languages import rust_debian, tools
from wasmforge.project import Project
from wasmforge.toolchain.capcheck import decode_wit

AOT_CRATE = Path(executor_src.__file__).parent.parent / "aot"
AOT_BINARY = "wasmforge-hyperlight-aot"
JCO = tools.Requirement("npm", "@bytecodealliance/jco", "1.35.0")
ZIG = tools.Requirement("pip", "ziglang", "0.17.0")
ANNOTATION = "org.wasmforge.hyperlight"
_PINNED = '"=36.0.14"'  # the version written in guest/aot/Cargo.toml (and its Cargo.lock)


def hyperlight_versions(project: Project) -> dict[str, str]:
    """What the Hyperlight layers are made with: part of the build key and the provenance."""
    backend = _installed_backend(project)
    return {guest.BACKEND_PACKAGE: backend.package_version,
            "hyperlight-guest-wasmtime": backend.wasmtime,
            AOT_BINARY: f"{backend.wasmtime}+{aot_revision()}",
            JCO.name: JCO.version, "zig": ZIG.version,
            "wasmforge-executor": executor_src.sources_digest()}


def _installed_backend(project: Project) -> guest.BackendGuest:
    backend = guest.backend_guest()
    if backend is None:
        raise ToolchainMissing("hyperlight-sandbox-backend-wasm is not installed, so its "
                               "guest's wasmtime version (which the AOT code must match) "
                               "is unknown", where=str(project.manifest_path),
                               fix="pip install 'wasmforge[hyperlight]'")
    return backend


def hyperlight_layers(component: bytes, project: Project, work_dir: Path) -> list[Layer]:
    backend = _installed_backend(project)
    tool = aot_tool(backend.wasmtime)
    work_dir.mkdir(parents=True, exist_ok=True)
    user = work_dir / "component.wasm"
    user.write_bytes(component)
    wasi_version = executor_src.wasi_version_of(user)
    executor = executor_src.build_executor(work_dir / "executor", wasi_wit(wasi_version),
                                           wasi_version, zig_env())
    composed = executor_src.compose(executor, user, work_dir / "executor.wasm")
    hosted = check_hosted(composed, backend, where=str(project.manifest_path))
    aot = work_dir / "executor.aot"
    _run([str(tool), "compile", str(composed), str(aot)], "precompiling for Hyperlight")
    code = aot.read_bytes()
    check_aot(code, backend.wasmtime)
    check_load(tool, aot, hosted)
    composed_bytes = composed.read_bytes()
    digest = "sha256:" + hashlib.sha256(composed_bytes).hexdigest()
    return [
        Layer(HYPERLIGHT_COMPONENT_MEDIA_TYPE, composed_bytes, {
            f"{ANNOTATION}.wasi": wasi_version,
            f"{ANNOTATION}.executor": "wasmforge:executor@0.1.0",
        }),
        Layer(HYPERLIGHT_AOT_MEDIA_TYPE, code, {
            f"{ANNOTATION}.wasmtime": backend.wasmtime,
            f"{ANNOTATION}.target": guest.AOT_TARGET,
            f"{ANNOTATION}.backend": f"{guest.BACKEND_PACKAGE} {backend.package_version}",
            f"{ANNOTATION}.component": digest,
        }),
    ]


@dataclass(frozen=True)
class HostedItem:
    """A function or resource the guest must define for the composition to link."""

    interface: str  # as the guest hosts it, e.g. wasi:io/streams@0.2.0
    kind: str  # "func" or "resource"
    name: str


def check_hosted(composed: Path, backend: guest.BackendGuest, *, where: str
                 ) -> list[HostedItem]:
    """Refuse a composition that the backend's guest could not link (see the module doc);
    else what the guest must define for it, under the guest's names."""
    image = backend.image()
    resolve = decode_wit(composed)
    label = f"{guest.BACKEND_PACKAGE} {backend.package_version}"
    needed: list[HostedItem] = []
    for name, interface_id in world_imports(resolve).items():
        hosted = guest.hosted_interface(image, name)
        if hosted is None:
            raise BuildFailed(
                f"the component imports {name}, which the Hyperlight backend ({label}) does "
                "not host, so its VM could not load it", where=where,
                fix="remove what imports it (or compile it out: leave its capability off with "
                    "[build] deny_ungranted = true), or build without --hyperlight")
        items = [HostedItem(hosted, kind, item) for kind, item in _named_items(resolve,
                                                                                interface_id)]
        missing = [item.name for item in items if not guest.guest_defines(image, item.name)]
        if missing:
            raise BuildFailed(
                f"the component imports {name} {', '.join(missing)}, which the Hyperlight "
                f"backend ({label}) does not define: it hosts {hosted}", where=where,
                fix="stop calling it, or build without --hyperlight")
        needed += items
    return needed


def check_load(tool: Path, aot: Path, hosted: list[HostedItem]) -> None:
    """Load, link and call the AOT code as the guest will (the precompiler's `link`)."""
    table = aot.with_suffix(".hosted.tsv")
    table.write_text("".join(f"{item.interface}\t{item.kind}\t{item.name}\n"
                             for item in hosted))
    _run([str(tool), "link", str(aot), str(table)],
         "checking that the backend's guest can load the Hyperlight AOT code")


def _named_items(resolve: Mapping[str, Any], interface_id: int) -> list[tuple[str, str]]:
    """(kind, name) of the functions and resources an imported interface asks the host for."""
    functions = [("func", name) for name in resolve["interfaces"][interface_id]["functions"]]
    resources = [("resource", t["name"]) for t in resolve["types"]
                 if t.get("kind") == "resource" and t.get("owner") == {"interface": interface_id}]
    return functions + resources


def check_aot(code: bytes, wasmtime: str) -> None:
    """Refuse precompiled code the backend's guest would not load."""
    engine = guest.aot_engine(code)
    if engine is None:
        raise BuildFailed("the Hyperlight AOT output is not a wasmtime precompiled ELF")
    if engine.wasmtime != wasmtime or engine.target != guest.AOT_TARGET:
        raise BuildFailed(f"the Hyperlight AOT code was made by wasmtime {engine.wasmtime} "
                          f"for {engine.target}, but the backend's guest runs wasmtime "
                          f"{wasmtime} on {guest.AOT_TARGET}",
                          fix="run `wasmforge toolchain install hyperlight` to rebuild the "
                              "precompiler for the installed backend")


def zig_env() -> dict[str, str] | None:
    """The pinned zig of the toolchain cache (the C toolchain's), else this interpreter's."""
    target = tools.pip_target(ZIG)
    if (target / ".installed").is_file():
        return tools.python_with(target)
    if importlib.util.find_spec("ziglang") is not None:
        return None
    raise ToolchainMissing(f"{ZIG.spec} (which compiles the Hyperlight executor) is not "
                           "installed", fix="run `wasmforge toolchain install c`")


def wasi_wit(version: str) -> Path:
    """jco's WASI WIT (from the toolchain cache, or $WASMFORGE_JCO) for `version`, else the
    newest 0.2.x it ships (guest/executor retargets it to `version`)."""
    explicit = os.environ.get("WASMFORGE_JCO")
    root = (Path(explicit) if explicit else tools.npm_package_dir(JCO)) / "lib" / "wit" / "builtin"
    if (root / version).is_dir():
        return root / version
    same_track = sorted((p for p in root.glob("0.2.*") if p.is_dir()),
                        key=lambda p: tuple(int(n) for n in p.name.split(".")
                                            if n.isdigit()))
    if not version.startswith("0.2.") or not same_track:
        raise ToolchainMissing(f"no WASI {version} WIT under {root} (it comes with "
                               f"{JCO.spec})", fix="run `wasmforge toolchain install c`")
    return same_track[-1]


def aot_tool_path(wasmtime: str) -> Path:
    """The precompiler for `wasmtime`, built from this wasmforge's guest/aot: a folder per
    wasmtime version (its cargo target dir) holding one binary per revision of the crate."""
    explicit = os.environ.get("WASMFORGE_HYPERLIGHT_AOT")
    if explicit:
        return Path(explicit)
    return (tools.toolchains_dir() / "cargo" / f"{AOT_BINARY}-{wasmtime}" / aot_revision()
            / AOT_BINARY)


@functools.cache
def aot_revision() -> str:
    """A digest of the precompiler's sources, so that a changed tool is rebuilt."""
    digest = hashlib.sha256()
    for name in ("Cargo.toml", "Cargo.lock", "src/main.rs"):
        digest.update(name.encode() + b"\0" + (AOT_CRATE / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def aot_tool(wasmtime: str) -> Path:
    path = aot_tool_path(wasmtime)
    if not path.is_file():
        raise ToolchainMissing(f"the Hyperlight precompiler for wasmtime {wasmtime} is not "
                               f"built (expected {path})",
                               fix="run `wasmforge toolchain install hyperlight` (needs cargo "
                                   "with Rust >= 1.85; about 4 minutes)")
    return path


def install_aot_tool(wasmtime: str | None = None, *, jobs: int = 2) -> Path:
    """Build guest/aot with `wasmtime` (default: the installed backend's) into the cache."""
    if wasmtime is None:
        backend = guest.backend_guest()
        if backend is None:
            raise ToolchainMissing("hyperlight-sandbox-backend-wasm is not installed",
                                   fix="pip install 'wasmforge[hyperlight]'")
        wasmtime = backend.wasmtime
    rustup_cargo = Path.home() / ".cargo" / "bin" / "cargo"  # newer than a distro's cargo
    pinned_cargo = rust_debian.host_cargo()  # `toolchain install rust`: Rust 1.96
    cargo = (str(rustup_cargo) if rustup_cargo.is_file()
             else str(pinned_cargo) if pinned_cargo else shutil.which("cargo"))
    if cargo is None:
        raise ToolchainMissing("cargo is not on PATH (needed once to build the Hyperlight "
                               "precompiler)", fix="install Rust >= 1.85 with rustup")
    target = aot_tool_path(wasmtime)
    if target.is_file() and os.access(target, os.X_OK):
        return target
    versioned = target.parent.parent  # shared by revisions: cargo rebuilds only the tool
    crate = versioned / "crate"
    if crate.exists():
        shutil.rmtree(crate)
    shutil.copytree(AOT_CRATE, crate, ignore=shutil.ignore_patterns("target"))
    manifest = crate / "Cargo.toml"
    text = manifest.read_text()
    locked = f'"={wasmtime}"' == _PINNED
    if not locked:  # another backend release: same tool, its guest's wasmtime
        manifest.write_text(text.replace(_PINNED, f'"={wasmtime}"'))
        (crate / "Cargo.lock").unlink(missing_ok=True)
    argv = [cargo, "build", "--release", "-j", str(jobs), "--manifest-path", str(manifest),
            "--target-dir", str(versioned / "target")]
    _run(argv + (["--locked"] if locked else []), "building the Hyperlight precompiler",
         timeout=3600)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(versioned / "target" / "release" / AOT_BINARY, target)
    return target


def _run(argv: list[str], what: str, timeout: float = 900) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BuildFailed(f"{what} took longer than {timeout:.0f} s and was stopped") from None
    if proc.returncode != 0:
        raise BuildFailed(f"{what} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")
