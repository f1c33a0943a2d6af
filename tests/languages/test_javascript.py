"""The JavaScript driver: esbuild + componentize-js builds of ordinary ES modules, run in
real wasmtime."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import wasmforge.languages.glue
from wasmforge.errors import BuildFailed
from wasmforge.languages import repro
from wasmforge.languages.javascript import driver
from wasmforge.languages.tools import node_prefix
from wasmforge.templates import scaffold
from wasmforge.toolchain.build import build_project

GLUE = Path(wasmforge.languages.glue.__file__).parent
PROBE_MAIN = """\
import { readFileSync } from "fs";
import ms from "ms";
import { double } from "./lib/helpers.js";
import data from "./data.json";

const mode = process.argv[2] ?? "none";
if (mode === "echo") {
  const input = process.stdin.read();
  console.log(`argv=${JSON.stringify(process.argv.slice(2))} env=${process.env.GREETING} ` +
              `stdin=${input.trim()}`);
} else if (mode === "local") {
  console.log(double(21), data.word);
} else if (mode === "dep") {
  console.log(ms("2 days"), ms(60000));
} else if (mode === "read") {
  console.log(readFileSync(process.argv[3], "utf8"));
} else if (mode === "exitcode") {
  process.exitCode = Number(process.argv[3]);
} else if (mode === "exit") {
  process.exit(Number(process.argv[3]));
  console.log("not reached");
} else if (mode === "throw") {
  throw new TypeError("boom");
} else if (mode === "write") {
  process.stdout.write("a");
  console.log("b");
  process.stdout.write("c\\n" + "x".repeat(10000) + "\\n");
  process.stderr.write("to stderr\\n");
} else if (mode === "await") {
  const value = await Promise.resolve("awaited");
  console.log(value);
}
"""
PROBE_FILES = {
    "main.js": PROBE_MAIN,
    "lib/helpers.js": "export function double(n) {\n  return 2 * n;\n}\n",
    "data.json": '{"word": "local"}\n',
    "package.json": '{\n  "name": "jsprobe",\n  "version": "0.1.0",\n  "private": true,\n'
                    '  "type": "module",\n  "dependencies": {"ms": "2.1.3"}\n}\n',
}


@pytest.fixture(scope="session")
def js_hello(build_lang):
    return build_lang("javascript", "jshello", {})


@pytest.fixture(scope="session")
def js_probe(build_lang):
    return build_lang("javascript", "jsprobe", PROBE_FILES)


def test_status_and_pins_are_fast_constants() -> None:
    versions = driver.toolchain_versions()
    assert versions["@bytecodealliance/componentize-js"] == "0.23.0"
    assert versions["esbuild"] == "0.28.2"
    status = driver.status()
    assert status.usable or status.remedy


@pytest.mark.slow
def test_template_builds_and_runs(js_hello, guest_runner) -> None:
    assert js_hello.component.read_bytes()[:8] == b"\0asm\x0d\x00\x01\x00"
    assert not any(i.startswith(("wasi:sockets/", "wasi:http/"))
                   for i in js_hello.imports)
    run = guest_runner(js_hello.component, ["Bob"], env={"GREETING": "Hey"})
    assert run.ok, run.stderr
    assert run.stdout == "Hey, Bob!\n"
    plain = guest_runner(js_hello.component)
    assert plain.ok and plain.stdout == "Hello, world!\n"


@pytest.mark.slow
def test_clean_builds_in_different_folders_are_identical(js_probe, new_project,
                                                         tmp_path, monkeypatch) -> None:
    if repro.shim_library() is None:
        pytest.skip("the repro library cannot be built here (not Linux, or no C compiler)")
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "home"))  # no cache to hit
    parent = tmp_path / "elsewhere" / "deeper"
    parent.mkdir(parents=True)
    again = build_project(new_project(parent, "javascript", "jsprobe", PROBE_FILES))
    assert not again.cached
    assert again.component.read_bytes() == js_probe.component.read_bytes()
    assert again.digest == js_probe.digest


@pytest.mark.slow
def test_pnpm_layout_resolves_through_the_store(new_project, lang_home, guest_runner,
                                                tmp_path) -> None:
    root = new_project(tmp_path, "javascript", "jspnpm", {
        "main.js": 'import foo from "foo";\nconsole.log(foo());\n',
        "package.json": '{"name": "jspnpm", "type": "module", "dependencies": {"foo": "1.0.0"}}\n',
    })
    store = root / "node_modules" / ".pnpm"
    for name, source in (("foo", 'import bar from "bar";\nexport default () => bar + 1;\n'),
                         ("bar", "export default 41;\n")):
        package = store / f"{name}@1.0.0" / "node_modules" / name
        package.mkdir(parents=True)
        (package / "package.json").write_text(
            f'{{"name": "{name}", "version": "1.0.0", "type": "module", "main": "index.js"}}\n')
        (package / "index.js").write_text(source)
    # pnpm: a package's own dependencies are links next to it in the store, not hoisted
    (store / "foo@1.0.0" / "node_modules" / "bar").symlink_to("../../bar@1.0.0/node_modules/bar")
    (root / "node_modules" / "foo").symlink_to(".pnpm/foo@1.0.0/node_modules/foo")
    run = guest_runner(build_project(root).component)
    assert run.ok, run.stderr
    assert run.stdout == "42\n"


@pytest.mark.slow
def test_args_env_and_stdin(js_probe, guest_runner) -> None:
    run = guest_runner(js_probe.component, ["echo", "x y"], env={"GREETING": "Hi"},
                        stdin="from stdin\n")
    assert run.ok, run.stderr
    assert run.stdout == 'argv=["echo","x y"] env=Hi stdin=from stdin\n'


@pytest.mark.slow
def test_local_modules_are_bundled(js_probe, guest_runner) -> None:
    run = guest_runner(js_probe.component, ["local"])
    assert run.ok, run.stderr
    assert run.stdout == "42 local\n"


@pytest.mark.slow
def test_npm_dependency_is_bundled(js_probe, guest_runner) -> None:
    run = guest_runner(js_probe.component, ["dep"])
    assert run.ok, run.stderr
    assert run.stdout == "172800000 1m\n"


@pytest.mark.slow
def test_stdout_write_adds_no_newline(js_probe, guest_runner) -> None:
    run = guest_runner(js_probe.component, ["write"])
    assert run.ok, run.stderr
    assert run.stdout == "ab\nc\n" + "x" * 10000 + "\n"
    assert run.stderr == "to stderr\n"


@pytest.mark.slow
def test_top_level_await(js_probe, guest_runner) -> None:
    run = guest_runner(js_probe.component, ["await"])
    assert run.ok, run.stderr
    assert run.stdout == "awaited\n"


@pytest.mark.slow
def test_granted_mount_is_readable(js_probe, guest_runner, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("granted")
    run = guest_runner(js_probe.component, ["read", "/data/note.txt"],
                        preopens=[(tmp_path, "/data")])
    assert run.ok, run.stderr
    assert run.stdout == "granted\n"


@pytest.mark.slow
def test_exit_codes(js_probe, guest_runner) -> None:
    assert not guest_runner(js_probe.component, ["exitcode", "3"]).ok
    assert guest_runner(js_probe.component, ["exitcode", "0"]).ok
    stopped = guest_runner(js_probe.component, ["exit", "3"])
    assert not stopped.ok and "not reached" not in stopped.stdout
    assert guest_runner(js_probe.component, ["exit", "0"]).ok


@pytest.mark.slow
def test_uncaught_error_is_reported_and_fails(js_probe, guest_runner) -> None:
    run = guest_runner(js_probe.component, ["throw"])
    assert not run.ok
    assert "TypeError: boom" in run.stderr
    # frames name the user's file and line, not the generated wrapper
    assert "@main.js:23" in run.stderr
    assert "component.js" not in run.stderr and "initializer.js" not in run.stderr


@pytest.mark.slow
def test_missing_import_names_it(new_project, lang_home, tmp_path) -> None:
    root = new_project(tmp_path, "javascript", "jsmissing",
                      {"main.js": 'import { x } from "./nowhere.js";\nconsole.log(x);\n'})
    with pytest.raises(BuildFailed) as caught:
        build_project(root)
    assert "./nowhere.js" in str(caught.value)


@pytest.mark.slow
def test_project_node_modules_are_used(new_project, lang_home, guest_runner,
                                       tmp_path) -> None:
    root = new_project(tmp_path, "javascript", "jsmods", {
        "main.js": 'import ms from "ms";\nconsole.log(ms(3600000));\n',
        "package.json": PROBE_FILES["package.json"].replace("jsprobe", "jsmods"),
    })
    subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=root, check=True,
                   capture_output=True, timeout=300)
    assert (root / "node_modules" / "ms").is_dir()
    result = build_project(root)
    run = guest_runner(result.component)
    assert run.ok, run.stderr
    assert run.stdout == "1h\n"


@pytest.mark.slow
def test_unknown_npm_package_fails_with_npms_message(new_project, lang_home, tmp_path) -> None:
    root = new_project(tmp_path, "javascript", "jsnopkg", {
        "package.json": '{"name": "jsnopkg", "type": "module", "dependencies": '
                        '{"wasmforge-no-such-package-xq7": "1.0.0"}}\n',
    })
    with pytest.raises(BuildFailed) as caught:
        build_project(root)
    message = str(caught.value)
    assert "npm install" in message and "wasmforge-no-such-package-xq7" in message
    assert "package.json" in message


@pytest.mark.slow
def test_engine_error_at_build_names_the_source_line(new_project, lang_home, tmp_path) -> None:
    # esbuild accepts this regexp; the engine, running the module at build time, does not
    root = new_project(tmp_path, "javascript", "jsengine", {
        "main.js": 'import { check } from "./lib/re.js";\nconsole.log(check("xy"));\n',
        "lib/re.js": "// a pattern every engine rejects\n\nexport function check(s) {\n"
                     "  return /(?<a>x)(?<a>y)/.test(s);\n}\n",
    })
    with pytest.raises(BuildFailed) as caught:
        build_project(root)
    message = str(caught.value)
    assert "lib/re.js:4" in message and "duplicate capture group name" in message
    assert "component.js" not in message and "wizer" not in message


@pytest.mark.slow
def test_unsupported_builtin_fails_before_the_engine_runs(new_project, lang_home,
                                                          tmp_path) -> None:
    root = new_project(tmp_path, "javascript", "jsspawn", {
        "main.js": '// spawns a tool\n\nimport { spawnSync } from "child_process";\n'
                   'console.log(spawnSync("ls"));\n',
    })
    with pytest.raises(BuildFailed) as caught:
        build_project(root)
    message = str(caught.value)
    assert "main.js:3:" in message
    assert ('"child_process" is a Node.js builtin that wasmforge components do not have '
            "(they have buffer, crypto, events, fs, fs/promises, os, path, path/posix, "
            "process, stream, stream/promises, string_decoder, url, util, util/types)") in message
    assert "platform" not in message


REGEX_CASES = r"""
const a = /[\p{L}\p{N}]+/gu;
const b = new RegExp("[\\p{L}--[a-z]]", "v");
const c = x / 2 / y;
const d = "\\p{L} stays text";
const e = /\p{L}/;
"""


def test_regexps_the_engine_lacks_are_rewritten_in_place() -> None:
    node = shutil.which("node")
    if node is None or not driver.status().usable:
        pytest.skip("node and the JavaScript toolchain are needed")
    modules = node_prefix() / "node_modules"
    acorn, regexpu, glue = (json.dumps(path.as_uri()) for path in (
        modules / "acorn/dist/acorn.mjs", modules / "regexpu-core/rewrite-pattern.js",
        GLUE / "js_regex.mjs"))
    script = (
        f"import * as acorn from {acorn};\nimport rewrite from {regexpu};\n"
        f"import {{ lowerRegexps }} from {glue};\n"
        f"process.stdout.write(lowerRegexps({json.dumps(REGEX_CASES)}, acorn, rewrite));\n")
    proc = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(REGEX_CASES.splitlines())  # every rewrite stays on its line
    assert "\\p{" not in lines[1] and lines[1].endswith("/gu;")
    assert lines[2].startswith('const b = new RegExp("[') and lines[2].endswith('", "u");')
    assert lines[3:] == REGEX_CASES.splitlines()[3:]  # division, strings, no u flag: as is


# ------------------------------------------------------------------ http handlers (same bundling)

HANDLER_MAIN = """\
import { createHash } from "node:crypto";
import { words } from "./lib/words.js";

addEventListener("fetch", (event) => event.respondWith(new Response(
  createHash("sha1").update(words(new URL(event.request.url).pathname).join(",")).digest("hex"))));
"""
HANDLER_WORDS = ("// letters of any script\n"
                 "export const words = (s) => s.match(/\\p{L}+/gu) ?? [];\n")


def _handler(parent: Path, name: str, files: dict[str, str]) -> Path:
    root = parent / name
    scaffold(name, "javascript", root, world="http")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.slow
def test_http_handler_builds_are_identical_in_different_folders(lang_home, tmp_path,
                                                                monkeypatch) -> None:
    if not driver.status().usable or repro.shim_library() is None:
        pytest.skip("the JavaScript toolchain and the repro library are needed")
    files = {"main.js": HANDLER_MAIN, "lib/words.js": HANDLER_WORDS}
    first = build_project(_handler(tmp_path / "a", "jssvc", files))
    monkeypatch.setenv("WASMFORGE_HOME", str(tmp_path / "other-home"))  # no cache to hit
    again = build_project(_handler(tmp_path / "b" / "deeper", "jssvc", files))
    assert not again.cached
    assert again.component.read_bytes() == first.component.read_bytes()


@pytest.mark.slow
def test_http_handler_top_level_errors_name_the_line_or_say_what_to_move(lang_home,
                                                                         tmp_path) -> None:
    if not driver.status().usable:
        pytest.skip("the JavaScript toolchain is needed")
    thrown = _handler(tmp_path, "jsthrow", {
        "main.js": 'import "./lib/boot.js";\n',
        "lib/boot.js": "// checks its settings\n\nthrow new RangeError(\"no settings\");\n"})
    with pytest.raises(BuildFailed) as caught:
        build_project(thrown)
    assert "lib/boot.js:3" in str(caught.value) and "no settings" in str(caught.value)
    reads = _handler(tmp_path, "jsread", {
        "main.js": 'import { readFileSync } from "fs";\n'
                   'const table = readFileSync("/data/table.txt", "utf8");\n'
                   'addEventListener("fetch", (e) => e.respondWith(new Response(table)));\n'})
    with pytest.raises(BuildFailed) as caught:
        build_project(reads)
    message = str(caught.value)
    assert "runs once at build time" in message and "fetch listener" in message
    assert "wasm backtrace" not in message
