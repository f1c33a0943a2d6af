"""Which `encodings.*` codecs a Python component carries.

The component has no file system at run time, so a codec exists only if pre-initialisation
imported it, and codecs are found by name (`"…".encode("idna")`, `socket.getaddrinfo`), so
no import statement names them. Every component gets the standard Unicode codecs, IDNA for
host names and the common byte codecs; any other codec a source names in a string literal
(`"shift_jis"`, `"cp850"`) comes too.
"""

from __future__ import annotations

import ast
import encodings
import encodings.aliases
import pkgutil
from collections.abc import Iterable

ALWAYS = frozenset({
    "ascii", "latin_1", "utf_8", "utf_8_sig", "utf_16", "utf_16_le", "utf_16_be", "utf_32",
    "utf_32_le", "utf_32_be", "idna", "punycode", "unicode_escape", "raw_unicode_escape",
    "charmap", "cp1252", "cp437", "iso8859_15", "base64_codec", "hex_codec", "quopri_codec",
    "uu_codec", "zlib_codec", "rot_13"})
_MODULES = frozenset(module.name for module in pkgutil.iter_modules(encodings.__path__))
_LONGEST_NAME = 40


def codecs(sources: Iterable[str]) -> set[str]:
    """`encodings.X` modules to preload: the standard set and those the sources name."""
    names = set(ALWAYS)
    for source in sources:
        names.update(codec for text in _strings(source) if (codec := module_for(text)))
    return {f"encodings.{name}" for name in names}


def module_for(name: str) -> str | None:
    """The `encodings` module that `codecs.lookup(name)` would import, if there is one."""
    normal = encodings.normalize_encoding(name.lower())
    module = (encodings.aliases.aliases.get(normal)
              or encodings.aliases.aliases.get(normal.replace(".", "_")) or normal)
    return module if module in _MODULES else None


def _strings(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and 0 < len(node.value) <= _LONGEST_NAME}
