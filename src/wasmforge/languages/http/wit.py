"""The wasi:http/proxy world, assembled from the WASI WIT that jco ships."""

from __future__ import annotations

from pathlib import Path

from wasmforge.errors import ToolchainMissing
from wasmforge.languages.glue.wit import JCO, wasi_version
from wasmforge.languages.tools import install_remedy

WORLD = "http"
HTTP_EXPORT = "wasi:http/incoming-handler"


def wasi_folder(language: str) -> tuple[str, Path]:
    """jco's newest WASI 0.2.x WIT, which must hold wasi:http."""
    version, folder = wasi_version(language)
    if not (folder / "wasi-http").is_dir():
        raise ToolchainMissing(f"{JCO.spec} ships no wasi:http {version} WIT (under {folder})",
                               fix=install_remedy(language))
    return version, folder


def proxy_world(dest: Path, language: str, retarget: str | None = None,
                preopens: bool = False) -> str:
    """Write a WIT folder whose world `http` includes wasi:http/proxy; returns the version.

    `preopens` imports wasi:filesystem/preopens too, for a language whose runtime does not
    (the others reach mounts through their libc). `retarget` relabels the newest WIT jco
    ships as an older 0.2.x release, for a tool that exports only that one (componentize-js
    0.23.0: 0.2.10, which jco 1.35 ships without wasi:http). WASI 0.2 releases only add
    `@since`-gated items, and jco's have none."""
    version = wasi_deps(dest, language, retarget)
    (dest / "world.wit").write_text(
        f"package wasmforge:app;\n\nworld {WORLD} {{\n  include wasi:http/proxy@{version};\n"
        # What wasi:http/proxy leaves out and a manifest can grant: the environment (--env)
        # and, for a language whose runtime does not bring it (JavaScript), the mounts.
        f"  import wasi:cli/environment@{version};\n"
        + (f"  import wasi:filesystem/preopens@{version};\n" if preopens else "") + "}\n")
    return version


def wasi_deps(dest: Path, language: str, retarget: str | None = None) -> str:
    """Write jco's WASI packages into `dest/deps` (relabelled as `retarget`, see
    proxy_world); returns the version written."""
    newest, source = wasi_folder(language)
    version = retarget or newest
    deps = dest / "deps"
    deps.mkdir(parents=True, exist_ok=True)
    for package in sorted(source.glob("wasi-*")):
        if (package / "package.wit").is_file():
            text = (package / "package.wit").read_text("utf-8")
            if "@since(" in text and retarget:
                raise ToolchainMissing(f"{package} has @since gates, so it cannot stand in "
                                       f"for WASI {retarget}", fix=install_remedy(language))
            (deps / f"{package.name}.wit").write_text(
                text.replace(f"@{newest}", f"@{version}"), "utf-8")
    return version
