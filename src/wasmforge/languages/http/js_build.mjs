// wasmforge's JavaScript build for the http world: bundle the handler module with esbuild
// (local modules and npm packages), then componentize-js, whose StarlingMonkey engine
// exports wasi:http/incoming-handler and dispatches each request to the module's `fetch`
// event listener (the world exports wasi:http/incoming-handler@0.2.10, the engine's own).
// The module's top level runs once, at build time (pre-initialisation):
// that is where it registers its listener. Usage: node js_build.mjs CONFIG.json
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";

const config = JSON.parse(await readFile(process.argv[2], "utf8"));
const esbuild = (await import(config.esbuild)).default;
const { componentize } = await import(config.componentizeJs);

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
    logLevel: "silent",
    charset: "utf8",
  });
  bundled = result.outputFiles[0].text;
} catch (err) {
  const messages = await esbuild.formatMessages(err.errors ?? [], { kind: "error", color: false });
  process.stderr.write(messages.length ? messages.join("") : String(err));
  process.exit(1);
}

const source = path.join(config.work, "handler.js");
await writeFile(source, bundled);
try {
  const { component } = await componentize({
    sourcePath: source,
    witPath: config.wit,
    worldName: config.world,
    disableFeatures: config.disableFeatures,
    env: config.wizerEnv,
  });
  await writeFile(config.out, component);
} catch (err) {
  process.stderr.write(String(err?.message ?? err) + "\n");
  process.exit(1);
}
