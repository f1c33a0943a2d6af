// wasmforge's JavaScript build: bundle the user's module with esbuild, wrap it so that its
// top-level code runs inside wasi:cli/run (componentize-js pre-initialises at build time, so
// code at the top level of the component's module would run then, not at run time), then
// make the component with componentize-js. Usage: node js_build.mjs CONFIG.json
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";

const config = JSON.parse(await readFile(process.argv[2], "utf8"));
const esbuild = (await import(config.esbuild)).default;
const { componentize } = await import(config.componentizeJs);

const shims = {
  fs: path.join(config.glue, "js_fs.js"),
  "node:fs": path.join(config.glue, "js_fs.js"),
  process: path.join(config.glue, "js_process.js"),
  "node:process": path.join(config.glue, "js_process.js"),
};
const shimPlugin = {
  name: "wasmforge-shims",
  setup(build) {
    build.onResolve({ filter: /^(node:)?(fs|process)$/ }, (args) => ({ path: shims[args.path] }));
  },
};

let bundled;
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
    inject: [path.join(config.glue, "js_process.js")],
    plugins: [shimPlugin],
    logLevel: "silent",
    charset: "utf8",
  });
  bundled = result.outputFiles[0].text;
} catch (err) {
  const messages = await esbuild.formatMessages(err.errors ?? [], { kind: "error", color: false });
  process.stderr.write(messages.length ? messages.join("") : String(err));
  process.exit(1);
}

// Imports of wasi: interfaces stay module imports; everything else becomes the body of main().
const hoisted = [];
const body = [];
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
  }
}

const wrapper = `${hoisted.join("\n")}
async function __wasmforgeMain() {
${body.join("\n")}
}

function __wasmforgeReport(err) {
  const stack = err && err.stack ? String(err.stack).trim() : "";
  console.error(stack ? \`Uncaught \${err}\\n\${stack}\` : \`Uncaught \${err}\`);
}

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
const wrapperPath = path.join(config.work, "component.js");
await writeFile(wrapperPath, wrapper);

try {
  const { component } = await componentize({
    sourcePath: wrapperPath,
    witPath: config.wit,
    worldName: config.world,
    disableFeatures: config.disableFeatures,
  });
  await writeFile(config.out, component);
} catch (err) {
  process.stderr.write(`${err && err.message ? err.message : err}\n`);
  process.exit(1);
}
