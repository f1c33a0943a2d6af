"""The dependency rules of DESIGN.md's layout, checked on the source: `toolchain` and
`runtime` never import each other, nothing but the CLI imports `cli` or `runtime`, and the
runtime does not reach into the build side (`toolchain`, `languages`, `templates`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wasmforge

PACKAGE = Path(wasmforge.__file__).parent
CLI_MODULES = {"cli", "launch", "__main__"}
BUILD_SIDE = ("wasmforge.toolchain", "wasmforge.languages", "wasmforge.templates")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every wasmforge module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("wasmforge")}


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _reaches(imports: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imports
                  if any(name == p or name.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) == "toolchain"))
def test_the_toolchain_never_imports_the_runtime(module: str) -> None:
    assert _reaches(MODULES[module], ("wasmforge.runtime",)) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) == "runtime"))
def test_the_runtime_never_imports_the_build_side(module: str) -> None:
    assert _reaches(MODULES[module], BUILD_SIDE) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES
                                          if _part(m) not in CLI_MODULES | {"runtime"}))
def test_only_the_cli_imports_the_runtime_or_the_cli(module: str) -> None:
    assert _reaches(MODULES[module], ("wasmforge.runtime", "wasmforge.cli")) == []
