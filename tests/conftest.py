"""Suite-wide set-up.

Many fixtures point WASMFORGE_HOME at a scratch folder (a private trust store and build
cache). Pin WASMFORGE_TOOLCHAINS to the installed toolchains first, so that those fixtures
still find the toolchains `wasmforge toolchain install` put in the real cache.
"""

from __future__ import annotations

import os

from wasmforge.languages.tools import toolchains_dir

os.environ.setdefault("WASMFORGE_TOOLCHAINS", str(toolchains_dir()))
