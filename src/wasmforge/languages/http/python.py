"""Python handlers: `app.py` defines `IncomingHandler(exports.IncomingHandler)` against
componentize-py's own wasi:http bindings (`wit_world`), as componentize-py's examples do;
componentize-py 0.25.1 is given the wasi:http/proxy WIT jco ships (`-d`), and pure-Python
requirements are bundled as for a command."""

from __future__ import annotations

import sys

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.http import wit
from wasmforge.languages.python import (
    _RUN_CPY,
    COMPONENTIZE_PY,
    _install_dependencies,
    _python_error,
)
from wasmforge.languages.tools import python_with, require_pip, run_tool
from wasmforge.project import Project

ENTRY = "app.py"
MODULE = "app"


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    target = require_pip(COMPONENTIZE_PY, "python")
    if not (project.root / ENTRY).is_file():
        raise BuildFailed(f"{ENTRY} is missing", where=str(project.root),
                          fix=f"create {ENTRY} with a class IncomingHandler(exports."
                              "IncomingHandler), as `wasmforge new NAME --world http` does")
    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    wit.proxy_world(work / "wit", "python")
    paths = ["-p", str(project.root)]
    deps = _install_dependencies(project.root, work / "deps")
    if deps is not None:
        paths += ["-p", str(deps)]
    out = work / f"{project.name}.wasm"
    no_site = work / "no-site"  # keeps the host's site-packages out (see languages/python.py)
    (no_site / "lib" / "site-packages").mkdir(parents=True)
    env = {**python_with(target), "VIRTUAL_ENV": str(no_site)}
    try:
        run_tool([sys.executable, "-c", _RUN_CPY, "-q", "-d", work / "wit", "-w", wit.WORLD,
                  "componentize", *paths, MODULE, "-o", out],
                 what="componentize-py", cwd=work, env=env)
    except BuildFailed as failed:
        raise BuildFailed(_python_error(failed.what), where=str(project.root),
                          fix="fix the error above and build again") from None
    return BuildOutput(out, "component")
