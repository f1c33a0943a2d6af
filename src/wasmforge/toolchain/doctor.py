"""`wasmforge doctor`: per language, is its toolchain usable here, and if not, the remedy."""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmforge.errors import WasmforgeError
from wasmforge.languages import get_driver
from wasmforge.project import LANGUAGES


@dataclass(frozen=True)
class ToolchainRow:
    """One line of doctor's language or packaging table."""

    name: str  # the language, or the packaging step
    usable: bool
    versions: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    remedy: str = ""

    def to_json(self, key: str) -> dict[str, object]:
        """As `doctor --json` writes it, the name under `key` ("language" or "what")."""
        return {key: self.name, "usable": self.usable, "versions": dict(self.versions),
                "problem": self.problem, "remedy": self.remedy}


def diagnose_languages() -> list[ToolchainRow]:
    rows = []
    for language in LANGUAGES:
        try:
            status = get_driver(language).status()
        except WasmforgeError as failure:
            rows.append(ToolchainRow(language, False, problem=str(failure)))
            continue
        rows.append(ToolchainRow(language, status.usable, dict(status.versions),
                                 status.problem, status.remedy))
    return rows


def diagnose_hyperlight_build() -> ToolchainRow:
    """Can `build --hyperlight` package images here: the backend whose guest the AOT code
    targets, the precompiler built for that guest's wasmtime, zig and jco for the executor."""
    from wasmforge.guest import hyperlight as guest
    from wasmforge.languages import tools
    from wasmforge.toolchain.hyperlight import JCO, aot_revision, aot_tool_path, zig_env

    def row(usable: bool, versions: dict[str, str], problem: str = "", remedy: str = ""
            ) -> ToolchainRow:
        return ToolchainRow("build --hyperlight", usable, versions, problem, remedy)

    backend = guest.backend_guest()
    if backend is None:
        return row(False, {}, f"{guest.BACKEND_PACKAGE} is not installed",
                   "pip install 'wasmforge[hyperlight]'")
    versions = {guest.BACKEND_PACKAGE: backend.package_version,
                "guest wasmtime": backend.wasmtime}
    tool = aot_tool_path(backend.wasmtime)
    if not tool.is_file():
        return row(False, versions, f"the precompiler for wasmtime {backend.wasmtime} "
                   f"(revision {aot_revision()}) is not built",
                   "run `wasmforge toolchain install hyperlight` (cargo with Rust >= 1.85; "
                   "about 4 minutes)")
    versions["precompiler"] = aot_revision()
    try:
        zig_env()
    except WasmforgeError as failure:
        return row(False, versions, str(failure))
    if not (tools.npm_package_dir(JCO) / "lib" / "wit" / "builtin").is_dir():
        return row(False, versions, f"{JCO.spec} (the WASI WIT the executor is built "
                   "against) is not installed", "run `wasmforge toolchain install c`")
    return row(True, versions)


def diagnose_serve_host() -> ToolchainRow:
    """Can `wasmforge serve` start here without a build first: its Rust host for this
    wasmforge's host sources, and wit-bindgen and zig, which C and Go HTTP handlers are
    built with (all from `wasmforge toolchain install serve`)."""
    from wasmforge import serve_host as host
    from wasmforge.languages.http.c import WIT_BINDGEN, wit_bindgen_path
    from wasmforge.languages.pins import ZIG
    from wasmforge.languages.tools import pip_target

    versions = {"wasmtime": host.WASMTIME}
    missing = []
    if host.built_host() is None:
        missing.append(f"the HTTP serving host (revision {host.host_revision()}) is not built")
    else:
        versions["host"] = host.host_revision()
    if wit_bindgen_path().is_file():
        versions["wit-bindgen"] = WIT_BINDGEN
    else:
        missing.append(f"wit-bindgen {WIT_BINDGEN} (C and Go HTTP handlers) is not built")
    if (pip_target(ZIG) / ".installed").is_file():
        versions["zig"] = ZIG.version
    else:
        missing.append(f"{ZIG.spec} (C and Go HTTP handlers) is not installed")
    if not missing:
        return ToolchainRow("serve", True, versions)
    return ToolchainRow("serve", False, versions, "; ".join(missing),
                        "run `wasmforge toolchain install serve` (cargo with Rust >= 1.85; "
                        "minutes)")
