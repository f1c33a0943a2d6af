// wasmforge's Node-like `process` for a JavaScript component (injected by esbuild: the
// user's free `process` refers to this). Built when the user's module runs, i.e. at run time.
import { getArguments, getEnvironment } from "wasi:cli/environment@WASI_VERSION";
import { readStdin } from "./js_fs.js";

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
  stdin: { read: () => new TextDecoder().decode(readStdin()) },
  stdout: { write: (text) => { console.log(String(text).replace(/\n$/, "")); return true; } },
  stderr: { write: (text) => { console.error(String(text).replace(/\n$/, "")); return true; } },
  exit(code) {
    throw new ExitRequest(code ?? proc.exitCode ?? 0);
  },
};
globalThis.__wasmforge = { process: proc, ExitRequest };

export { proc as process };
