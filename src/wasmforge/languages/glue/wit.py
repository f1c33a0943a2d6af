"""The wasi:cli command world, assembled from the WASI WIT that jco ships."""

from __future__ import annotations

import re
from pathlib import Path

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.pins import JCO
from wasmforge.languages.tools import install_remedy, require_npm

__all__ = ["JCO", "WORLD", "command_world", "wasi_version"]  # JCO: the drivers' `wit.JCO`
WORLD = "command"
_VERSION_RE = re.compile(r"^0\.2\.(\d+)$")


def wasi_version(language: str) -> tuple[str, Path]:
    """The newest WASI 0.2.x jco ships, and its folder."""
    builtin = require_npm(JCO, language) / "lib" / "wit" / "builtin"
    found = sorted(((int(m.group(1)), p) for p in builtin.glob("0.2.*")
                    if (m := _VERSION_RE.match(p.name)) and (p / "wasi-cli").is_dir()),
                   key=lambda pair: pair[0])
    if not found:
        raise ToolchainMissing(f"{JCO.spec} has no WASI 0.2 WIT under {builtin}",
                               fix=install_remedy(language))
    return found[-1][1].name, found[-1][1]


def command_world(dest: Path, language: str) -> str:
    """Write a WIT folder whose world `command` includes wasi:cli/command; returns the WASI
    version used (e.g. "0.2.12")."""
    version, source = wasi_version(language)
    deps = dest / "deps"
    deps.mkdir(parents=True, exist_ok=True)
    for package in sorted(source.glob("wasi-*")):
        if (package / "package.wit").is_file():
            (deps / f"{package.name}.wit").write_bytes((package / "package.wit").read_bytes())
    (dest / "world.wit").write_text(
        f"package wasmforge:app;\n\nworld {WORLD} {{\n  include wasi:cli/command@{version};\n}}\n")
    return version
