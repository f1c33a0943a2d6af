// Node's builtin modules in a wasmforge JavaScript bundle (an esbuild plugin). `x` and
// `node:x` both resolve to: wasmforge's own shims over WASI (fs, fs/promises, process, os),
// its crypto over @noble/hashes and the engine's Web Crypto, its url over the engine's URL
// and the `url` polyfill, its stream over readable-stream, or the pinned npm polyfills
// (path, events, util, buffer, string_decoder). Any other builtin is a build error naming
// it, at the importing line.
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import path from "node:path";

// Modules of the "wasmforge" namespace: glue files, named so in the bundle (whose text the
// component keeps), not by the build folder's path.
const SHIMS = {
  fs: "js_fs.js",
  "fs/promises": "js_fs_promises.js",
  process: "js_process.js",
  crypto: "js_crypto.js",
  os: "js_os.js",
  url: "js_url.js",
  stream: "js_stream.js",
  "stream/promises": "js_stream_promises.js",
};
const POLYFILLS = {
  path: "path-browserify",
  "path/posix": "path-browserify",
  events: "events/",
  util: "util/",
  "util/types": "util/support/types.js",
  buffer: "buffer/",
  string_decoder: "string_decoder/",
};
export const SUPPORTED = [...Object.keys(SHIMS), ...Object.keys(POLYFILLS)].sort();

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function unsupported(name) {
  return `"${name}" is a Node.js builtin that wasmforge components do not have (they have ` +
    `${SUPPORTED.join(", ")}); remove the import or use a package that does not need it`;
}

function resolveBuiltin(build, config, args) {
  const name = args.path.replace(/^node:/, "");
  if (SHIMS[name]) return { path: SHIMS[name], namespace: "wasmforge" };
  if (POLYFILLS[name]) {
    // Free of side effects: the injected global Buffer costs nothing where it is not used.
    return build.resolve(POLYFILLS[name], { kind: args.kind, resolveDir: config.nodePrefix })
      .then((found) => (found.errors.length
        ? { errors: found.errors }
        : { path: found.path, sideEffects: false }));
  }
  // A package's require() may sit in a try block or a branch for Node only: it stays a
  // call that fails if it runs. Anything else fails the build here.
  const inPackage = /[\\/]node_modules[\\/]/.test(args.importer);
  if (args.kind === "require-call" && inPackage) return { path: args.path, external: true };
  return { errors: [{ text: unsupported(args.path) }] };
}

export function nodePlugin(config) {
  const names = [...new Set([...builtinModules, ...Object.keys(SHIMS)])];
  const builtin = new RegExp(`^(node:.*|(${names.map(escapeRegExp).join("|")}))$`);
  return {
    name: "wasmforge-node",
    setup(build) {
      build.onResolve({ filter: builtin }, (args) => resolveBuiltin(build, config, args));
      build.onResolve({ filter: /^process\/$/ }, () => ({
        path: "js_process_package.js",
        namespace: "wasmforge",
      }));
      build.onResolve({ filter: /^wasmforge:/ }, (args) => ({
        path: args.path.slice("wasmforge:".length),
        namespace: "wasmforge",
      }));
      build.onResolve({ filter: /^\.\/js_\w+\.js$/, namespace: "wasmforge" }, (args) => ({
        path: args.path.slice(2),
        namespace: "wasmforge",
      }));
      build.onLoad({ filter: /.*/, namespace: "wasmforge" }, async (args) => ({
        contents: await readFile(path.join(config.glue, args.path), "utf8"),
        loader: "js",
        resolveDir: config.nodePrefix,
      }));
    },
  };
}
