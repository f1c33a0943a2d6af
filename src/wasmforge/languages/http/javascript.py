"""JavaScript handlers: a module whose top level registers a `fetch` event listener
(`addEventListener("fetch", e => e.respondWith(new Response(...)))`), bundled by esbuild and
made a wasi:http/proxy component by componentize-js (its engine's fetch-event support,
which exports wasi:http/incoming-handler@0.2.10, the only version 0.23.0 exports)."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.http import wit
from wasmforge.languages.javascript import (
    _NODE_FIX,
    COMPONENTIZE_JS,
    ENTRY,
    ESBUILD,
    _npm_dependencies,
)
from wasmforge.languages.tools import require_binary, require_npm, run_tool
from wasmforge.project import Project

EXPORTED_WASI = "0.2.10"  # the only wasi:http componentize-js 0.23.0's engine exports


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    node = require_binary("node", "javascript", _NODE_FIX)
    componentize_js = require_npm(COMPONENTIZE_JS, "javascript")
    esbuild = require_npm(ESBUILD, "javascript")
    entry = project.root / ENTRY
    if not entry.is_file():
        raise BuildFailed(f"{ENTRY} is missing", where=str(project.root),
                          fix=f"create {ENTRY}: a module that registers a fetch listener")
    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    script = work / "js_build.mjs"
    script.write_text((resources.files(__package__) / "js_build.mjs").read_text("utf-8"))
    out = work / f"{project.name}.wasm"
    wit.proxy_world(work / "wit", "javascript", retarget=EXPORTED_WASI, preopens=True)
    config = {
        "wit": str(work / "wit"), "world": wit.WORLD,
        "root": str(project.root), "entry": str(entry), "work": str(work), "out": str(out),
        "esbuild": (esbuild / "lib" / "main.js").as_uri(),
        "componentizeJs": (componentize_js / "src" / "componentize.js").as_uri(),
        "nodePaths": _npm_dependencies(project.root, work / "npm"),
        # fetch-event needs the `http` feature; without a network grant the build composes
        # a deny stub over wasi:http/outgoing-handler instead.
        "disableFeatures": [],
        "wizerEnv": {},
    }
    (work / "config.json").write_text(json.dumps(config, indent=1), "utf-8")
    run_tool([node, script, work / "config.json"], what="JavaScript build", cwd=work)
    return BuildOutput(Path(out), "component")


def versions() -> dict[str, str]:
    text = (resources.files(__package__) / "js_build.mjs").read_bytes()
    return {"wasi-http": EXPORTED_WASI,
            "wasmforge-http-glue": hashlib.sha256(text).hexdigest()[:16]}
