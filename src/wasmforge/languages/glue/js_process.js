// wasmforge's Node-like `process` for a JavaScript component (injected by esbuild: the
// user's free `process` refers to this). Built when the user's module runs, i.e. at run time.
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

const proc = {
  argv: ["wasm", ...getArguments()],
  env: Object.fromEntries(getEnvironment()),
  exitCode: undefined,
  platform: "wasi",
  cwd: () => "/",
  nextTick: (callback, ...args) => queueMicrotask(() => callback(...args)),
  stdin: { read: () => new TextDecoder().decode(readStdin()) },
  stdout: { write: writer(getStdout) },
  stderr: { write: writer(getStderr) },
  exit(code) {
    throw new ExitRequest(code ?? proc.exitCode ?? 0);
  },
};
globalThis.__wasmforge = { process: proc, ExitRequest };

export { proc as process };
