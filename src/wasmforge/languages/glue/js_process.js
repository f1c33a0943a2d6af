// wasmforge's Node-like `process` for a JavaScript component (injected by esbuild: the
// user's free `process` refers to this). argv and env are read from WASI when first used,
// at run time. A command's module runs inside wasi:cli/run, so always at run time; an HTTP
// handler's top level runs at build time, under wizer, which allows no WASI calls: there
// argv is ["wasm"] and env is empty until the build calls started() after the top level.
import { getArguments, getEnvironment } from "wasi:cli/environment@WASI_VERSION";
import { getStderr } from "wasi:cli/stderr@WASI_VERSION";
import { getStdout } from "wasi:cli/stdout@WASI_VERSION";
import { readStdin } from "./js_fs.js";

// write() goes straight to the WASI stream (no newline added, unlike console.log);
// blocking-write-and-flush takes at most 4096 bytes a call.
function writer(getStream) {
  return (chunk) => {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    const stream = getStream();
    for (let at = 0; at < bytes.length; at += 4096) {
      stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
    }
    return true;
  };
}

class ExitRequest {
  constructor(code) {
    this.code = code;
  }
}

let live = __wasmforgeWorld !== "http";
let read = null; // { argv, env } once first used at run time
function host() {
  if (!live) return { argv: ["wasm"], env: {} };
  read ??= { argv: ["wasm", ...getArguments()], env: Object.fromEntries(getEnvironment()) };
  return read;
}

const proc = {
  get argv() { return host().argv; },
  set argv(value) { host().argv = value; },
  get env() { return host().env; },
  set env(value) { host().env = value; },
  exitCode: undefined,
  platform: "wasi",
  cwd: () => "/",
  nextTick: (callback, ...args) => queueMicrotask(() => callback(...args)),
  stdin: { read: () => new TextDecoder().decode(readStdin()) },
  stdout: { write: writer(getStdout) },
  stderr: { write: writer(getStderr) },
  exit(code) {
    if (__wasmforgeWorld === "http") {
      throw new Error("process.exit() ends a command, not an HTTP handler: return a " +
                      "Response (e.g. with status 500) instead");
    }
    throw new ExitRequest(code ?? proc.exitCode ?? 0);
  },
};
globalThis.__wasmforge = { process: proc, ExitRequest, started: () => { live = true; } };

export { proc as process };
export default proc; // import process from "node:process"
