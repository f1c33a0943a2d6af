"""world = "http": each language's build of a wasi:http/proxy handler.

The command-world drivers (languages/<lang>.py) stay as they are; for an http project the
build calls `build` here instead, which picks the language's module. Each returns a
component that exports wasi:http/incoming-handler (toolchain/build.py checks it).
"""

from __future__ import annotations

import importlib

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.project import Project

LANGUAGES = ("c", "go", "rust", "python", "javascript")


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    if project.language not in LANGUAGES:
        raise BuildFailed(f"world = \"http\" is not supported for {project.language}",
                          where=str(project.manifest_path),
                          fix=f"use one of: {', '.join(LANGUAGES)}, or world = \"command\"")
    if not project.capabilities.clocks:
        raise BuildFailed("an HTTP handler needs clocks: its requests and responses "
                          "(wasi:http/types) are built on wasi:clocks types",
                          where=str(project.manifest_path),
                          fix="set [capabilities] clocks = true")
    module = importlib.import_module(f"{__name__}.{project.language}")
    output: BuildOutput = module.build(project, ctx)
    return output


def versions(language: str) -> dict[str, str]:
    """What an http build of `language` adds to the toolchain versions (cache key and
    provenance): its binding generator, adapter and wasmforge's own build glue."""
    module = importlib.import_module(f"{__name__}.{language}")
    found = getattr(module, "versions", None)
    extra: dict[str, str] = dict(found()) if found is not None else {}
    return {"world": "http", **extra}
