"""JavaScript: an ordinary ES module `main.js` made into a wasi:cli command.

esbuild bundles the user's module with its local imports and the npm packages of the
project's package.json; generated glue (glue/js_build.mjs) moves the bundle's top-level code
into the wasi:cli/run export, and componentize-js makes the component. `process.argv`,
`process.env`, `process.exitCode`, `process.exit()`, `process.stdin.read()`, `fs` and
`fs/promises` (over WASI) are provided by glue/js_process.js, glue/js_fs.js and
glue/js_fs_promises.js, `os` (what a WASI guest is) by glue/js_os.js, `url` by
glue/js_url.js (the engine's URL, the `url` polyfill's legacy parse/format, file URLs);
`stream` and `stream/promises` by glue/js_stream*.js (readable-stream, and process.stdout
and stderr as Writables); Node's path, events, util, buffer and string_decoder by pinned
npm polyfills, crypto by glue/js_crypto.js (hashes over @noble/hashes, randomness from the
engine's Web Crypto); any other builtin is a build error at the importing line
(glue/js_node.mjs). The engine has no ICU, so regexps with
Unicode property escapes or the v flag are rewritten in the bundle (glue/js_regex.mjs), and
errors name the user's files and lines through esbuild's source map (glue/js_sourcemap.mjs).

Builds are byte-reproducible. componentize-js keeps the engine's memory after wizer ran its
start-up, and that memory held (1) paths of the build folder: the wrapper's, componentize-js's
scratch folder's (named after Math.random()), the bundle's module comments and the source
names of stack traces; (2) wizer's random bytes (SpiderMonkey's hash keys) and monotonic
clock readings. For (1) the build runs in /tmp/wasmforge-js-DIGEST (DIGEST: the inputs), the
project seen through links in it and the glue as `wasmforge:` modules; for (2) wizer runs
with languages/repro.py's preloaded library. Where that library cannot be built (no C
compiler, not Linux) builds still work, but differ.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wasmforge.errors import BuildFailed
from wasmforge.languages import glue, repro
from wasmforge.languages.base import BuildContext, BuildOutput, LanguageDriver
from wasmforge.languages.glue import wit
from wasmforge.languages.tools import (
    Requirement,
    node_prefix,
    npm_package_dir,
    project_files,
    require_binary,
    require_npm,
    run_tool,
)
from wasmforge.project import Project

COMPONENTIZE_JS = Requirement("npm", "@bytecodealliance/componentize-js", "0.23.0")
ESBUILD = Requirement("npm", "esbuild", "0.28.2")
# componentize-js imports this without declaring it (it comes with jco): pinned here so
# that it stays at the top of the toolchain's node_modules whatever else is installed.
PREVIEW2_SHIM = Requirement("npm", "@bytecodealliance/preview2-shim", "0.25.0")
# Bundle-time rewriting of what the engine lacks (regexps with Unicode property escapes or
# the v flag): acorn finds the bundle's regexps, regexpu-core rewrites them.
BUNDLE_TOOLS = (Requirement("npm", "acorn", "8.19.0"),
                Requirement("npm", "regexpu-core", "6.5.4"))
# Node's pure builtins, as the bundle's polyfills (glue/js_node.mjs maps the names).
POLYFILLS = (Requirement("npm", "path-browserify", "1.0.1"),
             Requirement("npm", "events", "3.3.0"),
             Requirement("npm", "util", "0.12.5"),
             Requirement("npm", "buffer", "6.0.3"),
             Requirement("npm", "@noble/hashes", "2.4.0"),
             Requirement("npm", "url", "0.11.4"),
             Requirement("npm", "readable-stream", "4.7.0"),
             Requirement("npm", "string_decoder", "1.3.0"))
NPM_PINS = (COMPONENTIZE_JS, ESBUILD, PREVIEW2_SHIM, *BUNDLE_TOOLS, *POLYFILLS)
ENTRY = "main.js"
_SOURCE_SUFFIXES = {".js", ".mjs", ".cjs", ".json", ".ts"}
_SKIP_DIRS = {"build", "node_modules"}
_GLUE = ("js_build.mjs", "js_bundle.mjs", "js_node.mjs", "js_regex.mjs", "js_sourcemap.mjs",
         "js_process.js", "js_process_package.js", "js_fs.js", "js_fs_promises.js", "js_os.js",
         "js_url.js", "js_stream.js", "js_stream_promises.js", "js_crypto.js", "js_globals.js")
_NODE_FIX = "install Node.js 20 or newer, e.g. `apt-get install nodejs npm`"


class JavaScriptDriver(LanguageDriver):
    name = "javascript"
    entry_file = ENTRY

    def requirements(self) -> list[Requirement]:
        return [*NPM_PINS, wit.JCO]

    def check_installed(self) -> None:
        require_binary("node", self.name, _NODE_FIX)
        super().check_installed()

    def status_extras(self) -> dict[str, str]:
        version, _ = wit.wasi_version(self.name)
        reproducible = ("yes" if repro.shim_library() is not None else
                        "no (the repro shim needs Linux with glibc and a C compiler)")
        return {"wasi": version, "byte-reproducible": reproducible}

    def source_files(self, project: Project) -> list[Path]:
        return project_files(project.root, lambda path: (
            path.suffix in _SOURCE_SUFFIXES or path.name == "package-lock.json"),
            skip_dirs=_SKIP_DIRS)

    def toolchain_versions(self) -> dict[str, str]:
        return {**super().toolchain_versions(),
                "wasmforge-glue": glue.digest(*_GLUE, repro.SHIM)}

    def build(self, project: Project, ctx: BuildContext) -> BuildOutput:
        self.entry(project, "the ES module the component runs")
        work = ctx.work_dir
        work.mkdir(parents=True, exist_ok=True)
        version = wit.command_world(work / "wit", self.name)
        glue_dir = write_glue(work / "glue", version)
        out = work / f"{project.name}.wasm"
        disable = [] if project.capabilities.network else ["http"]
        bundle_and_componentize(project, BundleJob(
            script=glue_dir / "js_build.mjs", kind=wit.WORLD, wit=work / "wit", world=wit.WORLD,
            out=out, disable=disable, inputs=inputs_digest(self, project, disable)))
        return BuildOutput(out, "component")


@dataclass(frozen=True)
class BundleJob:
    """One run of a js_build.mjs: the command's (glue/) or the http handler's (http/)."""

    script: Path  # in the glue folder, next to js_bundle.mjs
    kind: str  # "command" or "http": what the process shim may do
    wit: Path
    world: str
    out: Path
    disable: list[str]
    inputs: str  # digest of everything the build reads


def write_glue(dest: Path, version: str) -> Path:
    """The glue files, for WASI `version`, in `dest` (the scripts import them from there)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in _GLUE:
        text = (resources.files("wasmforge.languages.glue") / name).read_text("utf-8")
        (dest / name).write_text(text.replace("WASI_VERSION", version), "utf-8")
    return dest


def inputs_digest(driver: LanguageDriver, project: Project, extra: list[str]) -> str:
    """Digest of the toolchain, `extra` (what else shapes the build) and the sources."""
    hasher = hashlib.sha256(json.dumps([driver.toolchain_versions(), extra]).encode())
    for path in driver.source_files(project):
        hasher.update(path.relative_to(project.root).as_posix().encode() + b"\0")
        hasher.update(path.read_bytes() + b"\0")
    return hasher.hexdigest()


def bundle_and_componentize(project: Project, job: BundleJob) -> None:
    """Run `job.script`, which bundles the project (glue/js_bundle.mjs) and makes the
    component at `job.out`.

    Reproducible snapshots: the component keeps the paths its start-up saw (the module's,
    componentize-js's scratch folder's, the bundle's module names), so all of them lie under
    a folder whose path is named after the inputs; wizer's random bytes and clocks are fixed
    (repro.py). esbuild names modules relative to the project, or, when the npm packages are
    installed here (outside the project), relative to links to the project's entries next
    to them."""
    node = require_binary("node", "javascript", _NODE_FIX)
    componentize_js = require_npm(COMPONENTIZE_JS, "javascript")
    esbuild = require_npm(ESBUILD, "javascript")
    for req in (*BUNDLE_TOOLS, *POLYFILLS):
        require_npm(req, "javascript")
    work = job.out.parent
    with repro.stable_dir(f"js-{job.inputs[:16]}") as stage:
        base = stage or work
        node_paths = _npm_dependencies(project.root, base / "npm")
        root = _mirror(project.root, base / "src") if node_paths else project.root
        config = {
            "root": str(root), "entry": str(root / ENTRY), "work": str(work),
            "glue": str(job.script.parent), "wit": str(job.wit), "world": job.world,
            "kind": job.kind, "out": str(job.out), "stage": str(base),
            "esbuild": (esbuild / "lib" / "main.js").as_uri(),
            "componentizeJs": (componentize_js / "src" / "componentize.js").as_uri(),
            "acorn": (npm_package_dir(BUNDLE_TOOLS[0]) / "dist" / "acorn.mjs").as_uri(),
            "regexpu": (npm_package_dir(BUNDLE_TOOLS[1]) / "rewrite-pattern.js").as_uri(),
            "nodePrefix": str(node_prefix()),
            "nodePaths": node_paths, "preserveSymlinks": root != project.root,
            "disableFeatures": job.disable,
            "wizerEnv": repro.preload_env(job.inputs[:16]),
        }
        (work / "config.json").write_text(json.dumps(config, indent=1), "utf-8")
        run_tool([node, job.script, work / "config.json"], what="JavaScript build", cwd=work)


def _mirror(root: Path, folder: Path) -> Path:
    """`folder`, holding a symbolic link to each entry of `root` (esbuild, told to keep links
    and resolving only its working folder's own, then names modules relative to `folder`);
    `root` itself where links cannot be made."""
    try:
        folder.mkdir()
        for entry in root.iterdir():
            (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    except OSError:
        return root
    return folder


def _npm_dependencies(root: Path, dest: Path) -> list[str]:
    """Where esbuild finds the project's npm packages: its own node_modules when present,
    else a private install of its package.json into the build's scratch folder."""
    manifest = root / "package.json"
    if not manifest.is_file() or (root / "node_modules").is_dir():
        return []
    try:
        declared = json.loads(manifest.read_text("utf-8")).get("dependencies") or {}
    except ValueError as err:
        raise BuildFailed(f"package.json is not valid JSON ({err})", where=str(manifest),
                          fix="fix package.json and build again") from None
    if not declared:
        return []
    npm = require_binary("npm", "javascript", _NODE_FIX)
    dest.mkdir(parents=True)
    shutil.copy(manifest, dest / "package.json")
    if (root / "package-lock.json").is_file():
        shutil.copy(root / "package-lock.json", dest / "package-lock.json")
    try:
        run_tool([npm, "install", "--prefix", dest, "--omit=dev", "--ignore-scripts",
                  "--no-audit", "--no-fund", "--no-save"], what="npm install", cwd=dest)
    except BuildFailed as failed:
        raise BuildFailed(failed.what, where=str(manifest),
                          fix="list only packages that exist on npm, then build again") from None
    return [str(dest / "node_modules")]


driver = JavaScriptDriver()
