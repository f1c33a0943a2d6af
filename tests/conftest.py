"""Suite-wide set-up.

Many fixtures point WASMFORGE_HOME at a scratch folder (a private trust store and build
cache). Pin WASMFORGE_TOOLCHAINS to the installed toolchains first, so that those fixtures
still find the toolchains `wasmforge toolchain install` put in the real cache.

The suite tests this checkout's `src/`, also in the subprocesses it starts (workers, the
CLI), whichever checkout an editable install happens to point at.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if sys.path[0] != _SRC:
    sys.path.insert(0, _SRC)
# Helpers shared across test folders (image builders, registries, the nested KVM).
_SUPPORT = str(Path(__file__).resolve().parent / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(1, _SUPPORT)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_SRC, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

from wasmforge.languages.tools import toolchains_dir  # noqa: E402

os.environ.setdefault("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
