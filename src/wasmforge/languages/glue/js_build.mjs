// wasmforge's JavaScript build: bundle the user's module with esbuild, wrap it so that its
// top-level code runs inside wasi:cli/run (componentize-js pre-initialises at build time, so
// code at the top level of the component's module would run then, not at run time), then
// make the component with componentize-js. Usage: node js_build.mjs CONFIG.json
import { readFile } from "node:fs/promises";
import { bundle, componentizeStable } from "./js_bundle.mjs";

const config = JSON.parse(await readFile(process.argv[2], "utf8"));
const NO_NETWORK = "[capabilities] network in wasmforge.toml is empty; add the endpoint " +
  '(e.g. "https://api.example.com:443") and build again';
const { code: bundled, sources, lines: bundleLines } = await bundle(config);

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
await componentizeStable(config, "component.js", wrapper, wrapperLines, sources);
