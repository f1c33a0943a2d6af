"""`wasmforge doctor`: per language, is its toolchain usable here, and if not, the remedy."""

from __future__ import annotations

from wasmforge.errors import WasmforgeError
from wasmforge.languages import get_driver
from wasmforge.project import LANGUAGES


def diagnose_languages() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for language in LANGUAGES:
        try:
            status = get_driver(language).status()
        except WasmforgeError as failure:
            rows.append({"language": language, "usable": False, "versions": {},
                         "problem": str(failure), "remedy": ""})
            continue
        rows.append({"language": language, "usable": status.usable,
                     "versions": dict(status.versions), "problem": status.problem,
                     "remedy": status.remedy})
    return rows
