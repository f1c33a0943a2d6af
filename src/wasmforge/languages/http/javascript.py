"""JavaScript handlers: a module whose top level registers a `fetch` event listener
(`addEventListener("fetch", e => e.respondWith(new Response(...)))`), made a wasi:http/proxy
component by componentize-js (its engine's fetch-event support, which exports
wasi:http/incoming-handler@0.2.10, the only version 0.23.0 exports).

The bundling is the command build's (languages/javascript.py, glue/js_bundle.mjs): npm
packages, Node's path, events, util, buffer and crypto (any other builtin is a build error at
the importing line), regexps the engine lacks rewritten, errors at the user's file and line,
and byte-reproducible snapshots (languages/repro.py). Only the last step differs: the bundle
stays the module (no wasi:cli/run wrapper), since its top level registers the listener."""

from __future__ import annotations

import hashlib
from importlib import resources

from wasmforge.errors import BuildFailed
from wasmforge.languages.base import BuildContext, BuildOutput
from wasmforge.languages.http import wit
from wasmforge.languages.javascript import (
    ENTRY,
    BundleJob,
    bundle_and_componentize,
    driver,
    inputs_digest,
    write_glue,
)
from wasmforge.project import Project

EXPORTED_WASI = "0.2.10"  # the only wasi:http componentize-js 0.23.0's engine exports
SCRIPT = "js_build.mjs"


def build(project: Project, ctx: BuildContext) -> BuildOutput:
    if not (project.root / ENTRY).is_file():
        raise BuildFailed(f"{ENTRY} is missing", where=str(project.root),
                          fix=f"create {ENTRY}: a module that registers a fetch listener")
    work = ctx.work_dir
    work.mkdir(parents=True, exist_ok=True)
    version = wit.proxy_world(work / "wit", "javascript", retarget=EXPORTED_WASI, preopens=True)
    glue_dir = write_glue(work / "glue", version)
    script = glue_dir / "js_http_build.mjs"
    script.write_text((resources.files(__package__) / SCRIPT).read_text("utf-8"), "utf-8")
    out = work / f"{project.name}.wasm"
    # fetch-event needs the `http` feature; without a network grant the build composes a
    # deny stub over wasi:http/outgoing-handler instead.
    disable: list[str] = []
    inputs = inputs_digest(driver, project, ["world=http", *versions().values(), *disable])
    bundle_and_componentize(project, BundleJob(
        script=script, kind=wit.WORLD, wit=work / "wit", world=wit.WORLD, out=out,
        disable=disable, inputs=inputs))
    return BuildOutput(out, "component")


def versions() -> dict[str, str]:
    text = (resources.files(__package__) / SCRIPT).read_bytes()
    return {"wasi-http": EXPORTED_WASI,
            "wasmforge-http-glue": hashlib.sha256(text).hexdigest()[:16]}
