// wasmforge's JavaScript build for the http world: bundle the handler module as the command
// build does (glue/js_bundle.mjs: npm packages, Node's builtins, regexps the engine lacks,
// errors at the user's lines), then componentize-js, whose StarlingMonkey engine exports
// wasi:http/incoming-handler and dispatches each request to the module's `fetch` event
// listener (the world exports wasi:http/incoming-handler@0.2.10, the engine's own).
// The module's top level runs once, at build time (pre-initialisation): that is where it
// registers its listener. Usage: node js_build.mjs CONFIG.json (run from the glue folder).
import { readFile } from "node:fs/promises";
import { bundle, componentizeStable } from "./js_bundle.mjs";

const config = JSON.parse(await readFile(process.argv[2], "utf8"));
const { code, sources, lines } = await bundle(config);

// The top level runs at build time, where the process shim answers without WASI; from the
// first request on (after the snapshot) it reads the request's own argv and environment.
const source = `${code}\nglobalThis.__wasmforge?.started();\n`;
// Bundle line i is line i + 1 of the module componentize-js is given.
const moduleLines = {};
lines.forEach((segments, i) => { moduleLines[i + 1] = segments; });
await componentizeStable(config, "handler.js", source, moduleLines, sources);
