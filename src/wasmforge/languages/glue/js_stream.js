// wasmforge's `stream` for a JavaScript component: readable-stream (Node's streams as a
// package, pinned). Importing it also makes process.stdout and process.stderr Writables
// over the WASI streams, as in Node, so that `pipeline(..., process.stdout)` and
// `readable.pipe(process.stdout)` work; programs that never import a stream keep the plain
// writers of js_process.js.
import Stream from "readable-stream/lib/ours/browser.js";
import { process } from "./js_process.js";

function writable(plain, fd) {
  // The WASI write completes before _write returns, so output keeps its order with
  // console.log's, which writes directly.
  const stream = new Stream.Writable({
    decodeStrings: false,
    write(chunk, _encoding, done) {
      plain.write(chunk);
      done();
    },
  });
  return Object.assign(stream, { fd, isTTY: false });
}

if (!(process.stdout instanceof Stream.Writable)) {
  process.stdout = writable(process.stdout, 1);
  process.stderr = writable(process.stderr, 2);
}

export {
  Readable, Writable, Duplex, Transform, PassThrough, Stream, pipeline, finished, compose,
  addAbortSignal, destroy, isDisturbed, isErrored, isReadable, promises,
} from "readable-stream/lib/ours/browser.js";
export default Stream;
