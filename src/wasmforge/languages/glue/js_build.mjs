// wasmforge's JavaScript build: bundle the user's module with esbuild, wrap it so that its
// top-level code runs inside wasi:cli/run (componentize-js pre-initialises at build time, so
// code at the top level of the component's module would run then, not at run time), then
// make the component with componentize-js. Usage: node js_build.mjs CONFIG.json
import { readFile, realpath, writeFile } from "node:fs/promises";
import path from "node:path";
import { nodePlugin } from "./js_node.mjs";
import { lowerRegexps } from "./js_regex.mjs";
import { lineSegments, segmentAt } from "./js_sourcemap.mjs";

const config = JSON.parse(await readFile(process.argv[2], "utf8"));
const NO_NETWORK = "[capabilities] network in wasmforge.toml is empty; add the endpoint " +
  '(e.g. "https://api.example.com:443") and build again';
const esbuild = (await import(config.esbuild)).default;
const { componentize } = await import(config.componentizeJs);

// Node's builtins (shims and polyfills), and the engine's missing regexp features.
const plugin = nodePlugin(config);
const acorn = await import(config.acorn);
const rewritePattern = (await import(config.regexpu)).default;

// The toolchain's packages (the polyfills) are named in the bundle and its source map
// relative to the project; they are renamed to one fixed folder, the same on every machine.
const toolchainModules = path.relative(config.root, await realpath(config.nodePrefix));
const renamed = (text) => text.replaceAll(toolchainModules, "wasmforge");

function reportBuildErrors(errors) {
  return esbuild.formatMessages(errors.map((e) => ({ ...e, pluginName: "" })),
                                { kind: "error", color: false });
}

let bundled;
let sourceMap;
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
    define: { global: "globalThis" },
    preserveSymlinks: config.preserveSymlinks,
    plugins: [plugin],
    logLevel: "silent",
    charset: "utf8",
    outfile: path.join(config.root, "bundle.js"),
    sourcemap: "external",
    sourcesContent: false,
  });
  bundled = renamed(result.outputFiles.find((f) => f.path.endsWith(".js")).text);
  sourceMap = JSON.parse(result.outputFiles.find((f) => f.path.endsWith(".map")).text);
} catch (err) {
  const messages = await reportBuildErrors(err.errors ?? []);
  process.stderr.write(messages.length ? messages.join("") : String(err));
  process.exit(1);
}
const sources = sourceMap.sources.map((s) => renamed(s).replace(/^(\.\.\/)+/, ""));
const bundleLines = lineSegments(sourceMap.mappings);

// "file:line" of the user's source for a place in the bundle, when the map has it.
function bundlePlace(line, column = 1) {
  const origin = bundleLines[line] && segmentAt(bundleLines[line], column);
  return origin ? `${sources[origin[1]]}:${origin[2]}` : `bundle line ${line + 1}`;
}

try {
  bundled = lowerRegexps(bundled, acorn, rewritePattern);
} catch (err) {
  const before = err.offset === undefined ? null : bundled.slice(0, err.offset).split("\n");
  const place = before ? `${bundlePlace(before.length - 1, before.at(-1).length + 1)}: ` : "";
  process.stderr.write(`${place}${err.message}\n`);
  process.exit(1);
}

// Imports of wasi: interfaces stay module imports; everything else becomes the body of main().
const hoisted = [];
const body = [];
const bodyOrigin = []; // bundle line index of each body line
const lines = bundled.split("\n");
for (let i = 0; i < lines.length; i++) {
  let line = lines[i];
  if (/^import\s[^;]*from\s*"wasi:[^"]+";\s*$/.test(line) || /^import\s*"wasi:/.test(line)) {
    hoisted.push(line);
  } else if (/^import\s*\{\s*$/.test(line)) {
    const block = [line];
    while (i + 1 < lines.length && !/;\s*$/.test(line)) {
      line = lines[++i];
      block.push(line);
    }
    hoisted.push(...block);
  } else if (/^export\s*\{/.test(line)) {
    while (!/;\s*$/.test(line) && i + 1 < lines.length) line = lines[++i];
  } else {
    body.push(line);
    bodyOrigin.push(i);
  }
}

const firstBodyLine = Math.max(hoisted.length, 1) + 2;
const wrapperLines = {};
bodyOrigin.forEach((origin, k) => {
  if (bundleLines[origin]) wrapperLines[firstBodyLine + k] = bundleLines[origin];
});
// Built with no [capabilities] network, componentize-js leaves fetch() without its HTTP
// backend and a call traps (`unreachable`); a rejected promise the program can catch instead.
const fetchDenied = config.disableFeatures.includes("http")
  ? `globalThis.fetch = async (resource) => {
  throw new TypeError(\`fetch(\${resource?.url ?? resource}) is not granted: ${NO_NETWORK}\`);
};`
  : "";

const wrapper = `${hoisted.join("\n")}
async function __wasmforgeMain() {
${body.join("\n")}
}

const __wasmforgeSources = ${JSON.stringify(sources)};
const __wasmforgeLines = ${JSON.stringify(wrapperLines)};

function __wasmforgeFrame(frame) {
  return frame.replace(/component\\.js:(\\d+):(\\d+)/, (found, line, column) => {
    const segments = __wasmforgeLines[line] ?? [];
    let origin = segments[0];
    for (const segment of segments) if (segment[0] <= column - 1) origin = segment;
    return origin ? \`\${__wasmforgeSources[origin[1]]}:\${origin[2]}\` : found;
  });
}

function __wasmforgeReport(err) {
  const frames = err && err.stack ? String(err.stack).trim().split("\\n") : [];
  const shown = frames
    .filter((f) => !/^run@component\\.js|initializer\\.js/.test(f))
    .map((f) => __wasmforgeFrame(f.replace(/^__wasmforgeMain\\/?/, "")));
  console.error([\`Uncaught \${err}\`, ...shown].join("\\n"));
}

${fetchDenied}

export const run = {
  async run() {
    let code = 0;
    try {
      await __wasmforgeMain();
      code = globalThis.__wasmforge?.process.exitCode ?? 0;
    } catch (err) {
      if (globalThis.__wasmforge && err instanceof globalThis.__wasmforge.ExitRequest) {
        code = err.code;
      } else {
        __wasmforgeReport(err);
        code = 1;
      }
    }
    // WASI 0.2's run result carries only failure: any non-zero status becomes 1.
    if (Number(code) !== 0) throw new Error(\`exit status \${code}\`);
  },
};
`;
// componentize-js pre-initialises the engine under wizer and snapshots its memory, which
// keeps the paths it was given: the wrapper's, and its scratch folder's (under os.tmpdir(),
// named after Math.random()). Both go into config.stage, whose path is the same in every
// build, and Math.random follows a fixed sequence while componentize-js names the folder.
// config.wizerEnv fixes wizer's random bytes and clocks (languages/repro.py).
const wrapperPath = path.join(config.stage, "component.js");
await writeFile(wrapperPath, wrapper);
process.env.TMPDIR = config.stage;
const random = Math.random;
let seed = 1;
Math.random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
try {
  const { component } = await componentize({
    sourcePath: wrapperPath,
    witPath: config.wit,
    worldName: config.world,
    disableFeatures: config.disableFeatures,
    env: config.wizerEnv,
  });
  await writeFile(config.out, component);
} catch (err) {
  // The engine's errors (it runs the module once at build time) name the wrapper's lines.
  const message = String(err && err.message ? err.message : err).replace(
    /^Failed to initialize component \(wizer \(.*\)\):\s*Exception while evaluating top-level script\s*/,
    "the JavaScript engine rejected the module:\n").replace(
    /(?:[^\s()@]*\/)?component\.js:(\d+)(?::(\d+))?/g, (found, line, column) => {
      const origin = wrapperLines[line] && segmentAt(wrapperLines[line], Number(column ?? 1));
      return origin ? `${sources[origin[1]]}:${origin[2]}` : found;
    });
  process.stderr.write(`${message}\n`);
  process.exit(1);
} finally {
  Math.random = random;
}
