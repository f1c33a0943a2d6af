"""One driver per language, looked up by the name used in `wasmforge.toml`."""

from __future__ import annotations

import importlib

from wasmforge.errors import WasmforgeError
from wasmforge.languages.base import BuildContext, BuildOutput, LanguageDriver, ToolStatus
from wasmforge.project import LANGUAGES

__all__ = ["BuildContext", "BuildOutput", "LanguageDriver", "ToolStatus", "get_driver",
           "all_drivers"]


def get_driver(language: str) -> LanguageDriver:
    if language not in LANGUAGES:
        raise WasmforgeError(f"unknown language {language!r}",
                             fix=f"use one of: {', '.join(LANGUAGES)}")
    module = importlib.import_module(f"wasmforge.languages.{language}")
    return module.driver


def all_drivers() -> list[LanguageDriver]:
    return [get_driver(language) for language in LANGUAGES]
