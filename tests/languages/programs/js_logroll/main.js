// js-logroll: rolls up a folder of service logs, written against Node's I/O builtins: it
// lists and reads the logs (fs/promises), streams their lines through Transforms
// (stream, stream/promises, string_decoder), writes a report into an output folder and
// names it by file URL (url), joining lines with os.EOL.
//   node main.js LOGS OUT [all|files|roll|report|urls|errors|os|readonly]
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import fs from "fs";
import os, { EOL } from "node:os";
import path from "node:path";
import process from "node:process";
import { PassThrough, Readable, Transform, pipeline as pipelineCallback } from "stream";
import { pipeline } from "node:stream/promises";
import url, { fileURLToPath, pathToFileURL } from "node:url";
import { parseEntries, splitLines, Tally } from "./lib/parse.js";

const [logs, out, mode = "all"] = process.argv.slice(2);

async function logFiles() {
  const entries = await readdir(logs, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".log")).map((e) => e.name).sort();
}

async function files() {
  for (const name of await logFiles()) {
    const info = await stat(path.join(logs, name));
    console.log(name, info.size, info.isFile(), info.isDirectory(), info.mtime instanceof Date);
  }
  const archive = await stat(path.join(logs, "archive"));
  console.log("archive", archive.isDirectory(), fs.existsSync(path.join(logs, "nope.log")));
}

// Each file's bytes in 7-byte chunks, so that multi-byte characters are split.
function chunks(bytes) {
  const parts = [];
  for (let at = 0; at < bytes.length; at += 7) parts.push(bytes.subarray(at, at + 7));
  return Readable.from(parts);
}

async function rollUp() {
  const tally = new Tally();
  for (const name of await logFiles()) {
    const bytes = await readFile(path.join(logs, name));
    await pipeline(chunks(bytes), splitLines(), parseEntries(name), tally, { end: false });
  }
  return tally;
}

async function roll() {
  const tally = await rollUp();
  for (const [service, counts] of [...tally.services].sort()) {
    console.log(service, JSON.stringify(counts));
  }
  const line = new Transform({
    writableObjectMode: true,
    transform(e, _encoding, done) {
      done(null, `${e.file}:${e.line} ${e.time.toISOString()} ${e.message}${EOL}`);
    },
  });
  await pipeline(Readable.from(tally.errors), line, process.stdout, { end: false });
  process.stderr.write(`${tally.errors.length} errors${EOL}`);
  console.log("stdout is a stream:", typeof process.stdout.on, process.stdout.writable);
}

async function report() {
  const tally = await rollUp();
  const made = await mkdir(path.join(out, "reports", "daily"), { recursive: true });
  console.log("made", path.relative(out, made));
  const again = await mkdir(path.join(out, "reports", "daily"), { recursive: true });
  console.log("again", again);
  const target = path.join(out, "reports", "daily", "summary.txt");
  const lines = [...tally.services].sort().map(([s, c]) => `${s}: ${c.ERROR} errors, ${c.WARN} warnings`);
  await writeFile(target, lines.join(EOL) + EOL);
  await appendFile(target, `total errors: ${tally.errors.length}${EOL}`);
  const text = await readFile(target, "utf8");
  process.stdout.write(text);
  console.log("bytes", (await stat(target)).size, Buffer.byteLength(text));
  fs.writeFileSync(path.join(out, "reports", "index.json"), JSON.stringify({ lines: lines.length }));
  console.log(JSON.parse(fs.readFileSync(path.join(out, "reports", "index.json"), "utf8")).lines);
  console.log((await readdir(path.join(out, "reports"))).sort().join(","));
  const copied = new PassThrough();
  const seen = [];
  copied.on("data", (chunk) => seen.push(chunk.toString()));
  await pipeline(Readable.from(["ab", "cd", "é"]), copied);
  console.log(seen.join("|"));
}

function urls() {
  const base = pathToFileURL(`${out}/reports/`);
  const summary = new URL("daily/summary.txt", base);
  console.log(path.relative(out, fileURLToPath(summary)), summary.protocol);
  console.log(pathToFileURL("/srv/logs/a b#1?.log").href, pathToFileURL("/srv/x/").href);
  console.log(fileURLToPath("file:///tmp/caf%C3%A9.txt"), fileURLToPath(new URL("file://localhost/etc/hosts")));
  for (const bad of ["file://server/share/x", "https://example.com/x", "file:///a%2Fb"]) {
    try {
      fileURLToPath(bad);
    } catch (err) {
      console.log(bad, err.code);
    }
  }
  const parsed = url.parse("https://user:pw@example.com:8080/p/a/t/h?query=string&x=1#hash", true);
  console.log(parsed.protocol, parsed.auth, parsed.host, parsed.port, parsed.pathname,
              parsed.search, parsed.hash, JSON.stringify(parsed.query));
  console.log(url.format({ protocol: "https", hostname: "example.com", pathname: "/a b",
                           query: { q: "1", r: ["x", "y"] } }));
  console.log(url.resolve("/one/two/three", "four"), url.resolve("http://example.com/", "/one"),
              url.resolve("http://example.com/one", "../two"));
  const params = new URLSearchParams("b=2&a=1&a=0&c=%20x");
  params.sort();
  params.append("d", "é&");
  console.log(params.toString(), params.getAll("a").join("+"), params.get("c"));
  console.log(url.format(new URL("https://u:p@example.com/x?y=1#z"), { auth: false, fragment: false }));
}

async function errors() {
  for (const attempt of [
    () => readFile(path.join(logs, "missing.log")),
    () => readdir(path.join(logs, "api.log")),
    () => mkdir(path.join(out)),
    () => readFile(path.join(logs, "archive")),
  ]) {
    try {
      await attempt();
      console.log("no error");
    } catch (err) {
      console.log(err.code, err.syscall);
    }
  }
  const strict = parseEntries("README.txt", { strict: true });
  const text = await readFile(path.join(logs, "README.txt"));
  await new Promise((resolve) => {
    pipelineCallback(chunks(text), splitLines(), strict, new Tally(), (err) => {
      console.log("pipeline failed:", err.message);
      resolve();
    });
  });
}

function system() {
  console.log(JSON.stringify(EOL), os.EOL === "\n");
  console.log(os.platform(), os.type(), os.arch(), os.tmpdir(), os.homedir(), os.hostname());
  console.log(os.cpus().length, os.availableParallelism(), os.endianness(), os.userInfo().username);
}

async function readonly() {
  for (const attempt of [
    () => writeFile(path.join(logs, "new.log"), "x"),
    () => mkdir(path.join(logs, "made")),
    () => readFile("/etc/passwd", "utf8"),
  ]) {
    try {
      await attempt();
      console.log("allowed");
    } catch (err) {
      console.log(err.code, err.message);
    }
  }
}

const parts = { files, roll, report, urls, errors };
const extra = { os: system, readonly };
for (const [name, run] of Object.entries(mode in extra ? extra : parts)) {
  if (mode === "all" || mode === name) {
    console.log(`== ${name}`);
    await run();
  }
}
