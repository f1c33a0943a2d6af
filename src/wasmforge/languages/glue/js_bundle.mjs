// The bundling step both JavaScript builds share (glue/js_build.mjs for wasi:cli commands,
// http/js_build.mjs for wasi:http handlers): esbuild bundles the user's module with its local
// imports, npm packages and Node's builtins (glue/js_node.mjs), the regexps the engine cannot
// compile are rewritten (glue/js_regex.mjs), and errors name the user's files and lines
// through esbuild's source map (glue/js_sourcemap.mjs). `componentizeStable` then makes the
// component the same way on every machine.
import { realpath, writeFile } from "node:fs/promises";
import path from "node:path";
import { nodePlugin } from "./js_node.mjs";
import { lowerRegexps } from "./js_regex.mjs";
import { lineSegments, segmentAt } from "./js_sourcemap.mjs";

export function fail(message) {
  process.stderr.write(message.endsWith("\n") ? message : `${message}\n`);
  process.exit(1);
}

async function esbuildOutput(config, esbuild) {
  try {
    const result = await esbuild.build({
      entryPoints: [config.entry],
      absWorkingDir: config.root,
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      mainFields: ["module", "main"],
      conditions: ["import", "module", "default"],
      nodePaths: config.nodePaths,
      external: ["wasi:*"],
      inject: ["wasmforge:js_process.js", "wasmforge:js_globals.js"],
      define: { global: "globalThis", __wasmforgeWorld: JSON.stringify(config.kind) },
      preserveSymlinks: config.preserveSymlinks,
      plugins: [nodePlugin(config)],
      logLevel: "silent",
      charset: "utf8",
      outfile: path.join(config.root, "bundle.js"),
      sourcemap: "external",
      sourcesContent: false,
    });
    const text = (suffix) => result.outputFiles.find((f) => f.path.endsWith(suffix)).text;
    return { code: text(".js"), map: JSON.parse(text(".map")) };
  } catch (err) {
    const messages = await esbuild.formatMessages(
      (err.errors ?? []).map((e) => ({ ...e, pluginName: "" })), { kind: "error", color: false });
    return fail(messages.length ? messages.join("") : String(err));
  }
}

// The bundle of config.entry: { code, sources, lines, place }. `lines[i]` holds the source
// map segments of bundle line i; `place(i, column)` names the user's "file:line" there.
export async function bundle(config) {
  const esbuild = (await import(config.esbuild)).default;
  const acorn = await import(config.acorn);
  const rewritePattern = (await import(config.regexpu)).default;
  // The toolchain's packages (the polyfills) are named in the bundle and its source map
  // relative to the project; they are renamed to one fixed folder, the same on every machine.
  const toolchainModules = path.relative(config.root, await realpath(config.nodePrefix));
  const renamed = (text) => text.replaceAll(toolchainModules, "wasmforge");
  const output = await esbuildOutput(config, esbuild);
  const sources = output.map.sources.map((s) => renamed(s).replace(/^(\.\.\/)+/, ""));
  const lines = lineSegments(output.map.mappings);
  const place = (line, column = 1) => {
    const origin = lines[line] && segmentAt(lines[line], column);
    return origin ? `${sources[origin[1]]}:${origin[2]}` : `bundle line ${line + 1}`;
  };
  let code = renamed(output.code);
  try {
    code = lowerRegexps(code, acorn, rewritePattern);
  } catch (err) {
    const before = err.offset === undefined ? null : code.slice(0, err.offset).split("\n");
    const where = before ? `${place(before.length - 1, before.at(-1).length + 1)}: ` : "";
    fail(`${where}${err.message}`);
  }
  return { code, sources, lines, place };
}

// The engine's errors at build time (it runs the module's top level then) name `name`'s
// lines; `lines` (source map segments by 1-based line of that file) turn them into the
// user's.
const WIZER_IMPORT = /cannot call arbitrary imported functions during Wizer initialization/;

function engineError(err, name, lines, sources) {
  if (WIZER_IMPORT.test(String(err?.message ?? err))) {
    return "the module's top level, which runs once at build time, called a WASI import " +
      "(a file, the environment, stdio, a clock or randomness); move that call into a " +
      "function that runs at run time, e.g. the fetch listener, and build again";
  }
  const file = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return String(err && err.message ? err.message : err).replace(
    /^Failed to initialize component \(wizer \(.*\)\):\s*Exception while evaluating top-level script\s*/,
    "the JavaScript engine rejected the module:\n").replace(
    new RegExp(`(?:[^\\s()@]*\\/)?${file}:(\\d+)(?::(\\d+))?`, "g"), (found, line, column) => {
      const origin = lines[line] && segmentAt(lines[line], Number(column ?? 1));
      return origin ? `${sources[origin[1]]}:${origin[2]}` : found;
    });
}

// componentize-js pre-initialises the engine under wizer and snapshots its memory, which
// keeps the paths it was given: the module's, and its scratch folder's (under os.tmpdir(),
// named after Math.random()). Both go into config.stage, whose path is the same in every
// build, and Math.random follows a fixed sequence while componentize-js names the folder.
// config.wizerEnv fixes wizer's random bytes and clocks (languages/repro.py).
export async function componentizeStable(config, name, source, lines, sources) {
  const { componentize } = await import(config.componentizeJs);
  const sourcePath = path.join(config.stage, name);
  await writeFile(sourcePath, source);
  process.env.TMPDIR = config.stage;
  const random = Math.random;
  let seed = 1;
  Math.random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  try {
    const { component } = await componentize({
      sourcePath,
      witPath: config.wit,
      worldName: config.world,
      disableFeatures: config.disableFeatures,
      env: config.wizerEnv,
    });
    await writeFile(config.out, component);
  } catch (err) {
    fail(engineError(err, name, lines, sources));
  } finally {
    Math.random = random;
  }
}
