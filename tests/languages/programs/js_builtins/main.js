// js-builtins: a release tool's core, written against Node's builtins: it lays out an
// artifact tree (path), reports progress through events, formats with util, encodes with
// Buffer and checksums and signs with crypto; `syntax` runs current JavaScript that
// packages ship untranspiled.
import { EventEmitter, once } from "node:events";
import path from "node:path";
import { basename, extname, join, posix, relative } from "path";
import util, { format, inspect, promisify } from "node:util";
import { types } from "util";
import { Buffer as NodeBuffer } from "node:buffer";
import { chunkedEqualsWhole, digests, randomness, signature } from "./lib/checksums.js";
import { modern } from "./lib/modern.js";

const mode = process.argv[2] ?? "all";

class Release extends EventEmitter {
  publish(files) {
    for (const file of files) this.emit("file", file, Buffer.byteLength(file.body));
    this.emit("done", files.length);
  }
}

function paths() {
  const out = join("/dist", "v1.2", "..", "v1.3", "app.tar.gz");
  console.log(out, basename(out, ".gz"), extname(out), path.dirname(out));
  console.log(relative("/dist/v1.3", "/dist/docs/index.html"), posix.normalize("a//b/../c/"));
  console.log(path.resolve("/srv", "www", "./site"), path.isAbsolute("x/y"), path.sep);
  console.log(JSON.stringify(path.parse("/home/user/notes.tar.gz")));
}

async function events() {
  const release = new Release();
  const seen = [];
  release.on("file", (file, size) => seen.push(format("%s:%d", file.name, size)));
  release.once("done", (count) => seen.push(`done ${count}`));
  const finished = once(release, "done");
  release.publish([{ name: "a.txt", body: "héllo" }, { name: "b.bin", body: "xyz" }]);
  const [count] = await finished;
  console.log(seen.join(" "), count, release.listenerCount("file"), release.listenerCount("done"));
}

async function utilities() {
  console.log(format("%s has %d items costing %d: %j", "cart", 3, 42.9, { ok: true }));
  console.log(inspect({ name: "x", nested: { list: [1, 2, { deep: [3] }] } }, { depth: 0 }));
  console.log(util.inspect([1, "two", [3]]), types.isDate(new Date()), types.isRegExp(/x/));
  const wait = promisify((value, callback) => setTimeout(() => callback(null, value * 2), 1));
  console.log(await wait(21), util.inherits.length, typeof util.debuglog("release"));
}

function buffers() {
  const text = Buffer.from("wasmforge ✓", "utf8");
  console.log(text.toString("base64"), text.toString("hex"), text.length);
  const header = NodeBuffer.alloc(8);
  header.writeUInt32BE(0xcafebabe, 0);
  header.writeUInt16LE(513, 4);
  console.log(header.toString("hex"), header.readUInt32BE(0).toString(16), header.readUInt16LE(4));
  const joined = Buffer.concat([Buffer.from("ab"), Buffer.from([0x63, 0x64])]);
  console.log(joined.toString(), Buffer.from("aGk=", "base64").toString(), Buffer.compare(text, joined));
}

function hashes() {
  for (const [algorithm, hex] of Object.entries(digests("abc"))) console.log(algorithm, hex);
  console.log("hmac", signature("key", "The quick brown fox jumps over the lazy dog"));
  console.log("chunked", chunkedEqualsWhole("a manifest that is long enough to need chunks ✓"));
  console.log(JSON.stringify(randomness()));
}

async function syntax() {
  console.log(await modern());
}

const parts = { paths, events, utilities, buffers, hashes, syntax };
for (const [name, run] of Object.entries(parts)) {
  if (mode === "all" || mode === name) {
    console.log(`== ${name}`);
    await run();
  }
}
