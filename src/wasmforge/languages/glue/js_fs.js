// wasmforge's `fs` for a JavaScript component, over WASI: the synchronous calls here, their
// promise forms in js_fs_promises.js. Only the directories the operator mounted are
// reachable (with the mount's mode: a read-only mount refuses writes with EROFS or EACCES);
// fd 0 and /dev/stdin read stdin. The current directory is "/".
import { getStdin } from "wasi:cli/stdin@WASI_VERSION";
import { getDirectories } from "wasi:filesystem/preopens@WASI_VERSION";
import { Buffer } from "buffer";
import path from "path";
import * as promises from "./js_fs_promises.js";
import { constants } from "./js_fs_promises.js";

// WASI's error codes as Node's (code, message); anything else is EIO.
const CODES = {
  access: ["EACCES", "permission denied"],
  "not-permitted": ["EPERM", "operation not permitted"],
  "read-only": ["EROFS", "read-only file system"],
  "no-entry": ["ENOENT", "no such file or directory"],
  exist: ["EEXIST", "file already exists"],
  "not-directory": ["ENOTDIR", "not a directory"],
  "is-directory": ["EISDIR", "illegal operation on a directory"],
  "not-empty": ["ENOTEMPTY", "directory not empty"],
  invalid: ["EINVAL", "invalid argument"],
  loop: ["ELOOP", "too many symbolic links encountered"],
  "name-too-long": ["ENAMETOOLONG", "name too long"],
  "insufficient-space": ["ENOSPC", "no space left on device"],
  quota: ["EDQUOT", "disk quota exceeded"],
  "cross-device": ["EXDEV", "cross-device link not permitted"],
  "file-too-large": ["EFBIG", "file too large"],
};

function fsError(code, message, syscall, where) {
  const err = new Error(`${code}: ${message}, ${syscall} '${where}'`);
  Object.assign(err, { code, syscall, path: where });
  return err;
}

function wasiError(err, syscall, where) {
  const [code, message] = CODES[err?.payload] ?? ["EIO", `i/o error (${err?.payload ?? err})`];
  return fsError(code, message, syscall, where);
}

function call(syscall, where, action) {
  try {
    return action();
  } catch (err) {
    throw err?.syscall ? err : wasiError(err, syscall, where);
  }
}

// A path as Node takes it (string, Buffer, file: URL), absolute and normalised.
function pathOf(value) {
  if (value instanceof URL) {
    if (value.protocol !== "file:") throw new TypeError("The URL must be of scheme file");
    value = decodeURIComponent(value.pathname);
  } else if (value instanceof Uint8Array) {
    value = new TextDecoder().decode(value);
  }
  return path.resolve("/", String(value));
}

// The mount holding `where`: { dir: its descriptor, rel: the path inside it, root }.
function locate(where, syscall) {
  const abs = pathOf(where);
  let best = null;
  for (const [dir, guest] of getDirectories()) {
    const root = guest.replace(/\/+$/, "");
    if ((abs === root || abs.startsWith(`${root}/`)) && (!best || root.length > best.root.length)) {
      best = { dir, root };
    }
  }
  if (best === null) {
    throw fsError("ENOENT", "no such file or directory (no mount grants it)", syscall, String(where));
  }
  return { ...best, abs, rel: abs.slice(best.root.length).replace(/^\/+/, "") || "." };
}

function open(where, syscall, openFlags, flags) {
  const { dir, rel } = locate(where, syscall);
  return call(syscall, String(where), () => dir.openAt({ symlinkFollow: true }, rel, openFlags, flags));
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

export function readStdin() {
  const stream = getStdin();
  const chunks = [];
  for (;;) {
    let chunk;
    try {
      chunk = stream.blockingRead(65536n);
    } catch {
      break; // closed
    }
    chunks.push(chunk);
  }
  return concat(chunks);
}

function encodingOf(options) {
  return typeof options === "string" ? options : options?.encoding;
}

function decode(bytes, encoding) {
  if (!encoding || encoding === "buffer") return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (/^utf-?8$/i.test(encoding)) return new TextDecoder().decode(bytes);
  return Buffer.from(bytes).toString(encoding);
}

function readAll(file, where) {
  if (call("read", where, () => file.getType()) === "directory") {
    throw fsError("EISDIR", "illegal operation on a directory", "read", where);
  }
  const chunks = [];
  let offset = 0n;
  for (;;) {
    const [chunk, end] = call("read", where, () => file.read(65536n, offset));
    chunks.push(chunk);
    offset += BigInt(chunk.length);
    if (end || chunk.length === 0) break;
  }
  return concat(chunks);
}

export function readFileSync(where, options) {
  const bytes = where === 0 || where === "/dev/stdin"
    ? readStdin()
    : readAll(open(where, "open", {}, { read: true }), String(where));
  return decode(bytes, encodingOf(options));
}

function bytesOf(data, encoding) {
  if (typeof data === "string") {
    return !encoding || /^utf-?8$/i.test(encoding)
      ? new TextEncoder().encode(data) : Buffer.from(data, encoding);
  }
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("The \"data\" argument must be a string, Buffer, TypedArray or DataView");
}

function writeAt(where, data, options, append) {
  const file = open(where, "open", { create: true, truncate: !append }, { write: true });
  const bytes = bytesOf(data, encodingOf(options));
  let offset = append ? call("fstat", String(where), () => file.stat()).size : 0n;
  for (let at = 0; at < bytes.length;) {
    const wrote = call("write", String(where), () => file.write(bytes.subarray(at, at + 65536), offset));
    at += Number(wrote);
    offset += BigInt(wrote);
  }
}

export function writeFileSync(where, data, options) {
  writeAt(where, data, options, false);
}

export function appendFileSync(where, data, options) {
  writeAt(where, data, options, true);
}

export function existsSync(where) {
  try {
    statSync(where);
    return true;
  } catch {
    return false;
  }
}

const TYPE_BITS = { "regular-file": 0o100000, directory: 0o040000, "symbolic-link": 0o120000,
  "block-device": 0o060000, "character-device": 0o020000, fifo: 0o010000, socket: 0o140000 };

// What Dirent and Stats share: the is*() questions about the entry's type.
class Typed {
  constructor(type) {
    Object.defineProperty(this, "type", { value: type });
  }
  isFile() { return this.type === "regular-file"; }
  isDirectory() { return this.type === "directory"; }
  isSymbolicLink() { return this.type === "symbolic-link"; }
  isFIFO() { return this.type === "fifo"; }
  isSocket() { return this.type === "socket"; }
  isBlockDevice() { return this.type === "block-device"; }
  isCharacterDevice() { return this.type === "character-device"; }
}

class Dirent extends Typed {
  constructor(name, type, parentPath) {
    super(type);
    Object.assign(this, { name, parentPath, path: parentPath });
  }
}

function millis(stamp) {
  return stamp ? Number(stamp.seconds) * 1000 + Math.floor(stamp.nanoseconds / 1e6) : 0;
}

// WASI tells a file's type, size, links and times; not its permissions or owner, so mode
// holds only the type's bits and uid/gid are 0.
class Stats extends Typed {
  constructor(stat) {
    super(stat.type);
    Object.assign(this, {
      dev: 0, ino: 0, mode: TYPE_BITS[stat.type] ?? 0, nlink: Number(stat.linkCount),
      uid: 0, gid: 0, rdev: 0, size: Number(stat.size), blksize: 4096,
      blocks: Math.ceil(Number(stat.size) / 512),
      atimeMs: millis(stat.dataAccessTimestamp), mtimeMs: millis(stat.dataModificationTimestamp),
      ctimeMs: millis(stat.statusChangeTimestamp), birthtimeMs: millis(stat.statusChangeTimestamp),
    });
    for (const key of ["atime", "mtime", "ctime", "birthtime"]) this[key] = new Date(this[`${key}Ms`]);
  }
}

function statWith(where, follow, syscall) {
  const { dir, rel } = locate(where, syscall);
  const stat = call(syscall, String(where), () => (rel === "." && follow
    ? dir.stat() : dir.statAt({ symlinkFollow: follow }, rel)));
  return new Stats(stat);
}

export function statSync(where) {
  return statWith(where, true, "stat");
}

export function lstatSync(where) {
  return statWith(where, false, "lstat");
}

export function readdirSync(where, options) {
  const dir = open(where, "scandir", { directory: true }, { read: true });
  const entries = call("scandir", String(where), () => dir.readDirectory());
  const found = [];
  for (;;) {
    const entry = call("scandir", String(where), () => entries.readDirectoryEntry());
    if (!entry) break;
    found.push(entry);
  }
  if (options?.withFileTypes) return found.map((e) => new Dirent(e.name, e.type, String(where)));
  return found.map((e) => e.name);
}

function makeOne(where, syscall) {
  const { dir, rel } = locate(where, syscall);
  call(syscall, String(where), () => dir.createDirectoryAt(rel));
}

// Like Node: recursive returns the first directory it made, or undefined if all existed.
export function mkdirSync(where, options) {
  const recursive = typeof options === "object" && options?.recursive;
  if (!recursive) return void makeOne(where, "mkdir");
  const abs = pathOf(where);
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) throw fsError("EEXIST", "file already exists", "mkdir", abs);
    return undefined;
  }
  const first = path.dirname(abs) === abs ? undefined : mkdirSync(path.dirname(abs), options);
  makeOne(abs, "mkdir");
  return first ?? abs;
}

export function unlinkSync(where) {
  const { dir, rel } = locate(where, "unlink");
  call("unlink", String(where), () => dir.unlinkFileAt(rel));
}

export function rmdirSync(where) {
  const { dir, rel } = locate(where, "rmdir");
  call("rmdir", String(where), () => dir.removeDirectoryAt(rel));
}

export function rmSync(where, options) {
  let stat;
  try {
    stat = lstatSync(where);
  } catch (err) {
    if (options?.force && err.code === "ENOENT") return;
    throw err;
  }
  if (!stat.isDirectory()) return unlinkSync(where);
  if (!options?.recursive) {
    throw fsError("ERR_FS_EISDIR", "Path is a directory", "rm", String(where));
  }
  for (const name of readdirSync(where)) rmSync(path.join(pathOf(where), name), options);
  rmdirSync(where);
}

export function renameSync(from, to) {
  const source = locate(from, "rename");
  const target = locate(to, "rename");
  if (source.root !== target.root) {
    throw fsError("EXDEV", "cross-device link not permitted", "rename", `${from}' -> '${to}`);
  }
  call("rename", String(from), () => source.dir.renameAt(source.rel, target.dir, target.rel));
}

export function copyFileSync(from, to) {
  writeFileSync(to, readFileSync(from));
}

// Existence, and for W_OK whether the mount allows writing there.
export function accessSync(where, mode = constants.F_OK) {
  const stat = statSync(where);
  if (mode & constants.W_OK) {
    const flags = stat.isDirectory() ? { mutateDirectory: true } : { write: true };
    open(where, "access", stat.isDirectory() ? { directory: true } : {}, flags);
  }
}

export { constants, promises };

export default {
  readFileSync, writeFileSync, appendFileSync, existsSync, statSync, lstatSync, readdirSync,
  mkdirSync, unlinkSync, rmdirSync, rmSync, renameSync, copyFileSync, accessSync, constants,
  promises,
};
