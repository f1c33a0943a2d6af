// wasmforge's `stream/promises`: readable-stream's, with process.stdout and process.stderr
// made Writables first (js_stream.js).
import "./js_stream.js";

export { pipeline, finished } from "readable-stream/lib/stream/promises.js";
export { default } from "readable-stream/lib/stream/promises.js";
