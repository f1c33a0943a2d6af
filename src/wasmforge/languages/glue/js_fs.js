// wasmforge's small `fs` for a JavaScript component: readFileSync over WASI. Only the
// directories the operator mounted are reachable; fd 0 and /dev/stdin read stdin.
import { getStdin } from "wasi:cli/stdin@WASI_VERSION";
import { getDirectories } from "wasi:filesystem/preopens@WASI_VERSION";

function fsError(code, message) {
  const err = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
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

function openFile(path) {
  const abs = path.startsWith("/") ? path : `/${path}`;
  let best = null;
  for (const [descriptor, guest] of getDirectories()) {
    const root = guest.replace(/\/+$/, "");
    if ((abs === root || abs.startsWith(`${root}/`)) && (!best || root.length > best[1].length)) {
      best = [descriptor, root];
    }
  }
  if (best === null) {
    throw fsError("ENOENT", `no such file or directory (no mount grants it), open '${path}'`);
  }
  const relative = abs.slice(best[1].length).replace(/^\/+/, "") || ".";
  try {
    return best[0].openAt({ symlinkFollow: true }, relative, {}, { read: true });
  } catch (err) {
    throw fsError("EACCES", `cannot open '${path}' (${err?.payload ?? err})`);
  }
}

export function readFileSync(path, options) {
  const encoding = typeof options === "string" ? options : options?.encoding;
  let bytes;
  if (path === 0 || path === "/dev/stdin") {
    bytes = readStdin();
  } else {
    const file = openFile(String(path));
    const chunks = [];
    let offset = 0n;
    for (;;) {
      const [chunk, end] = file.read(65536n, offset);
      chunks.push(chunk);
      offset += BigInt(chunk.length);
      if (end || chunk.length === 0) break;
    }
    bytes = concat(chunks);
  }
  return encoding ? new TextDecoder().decode(bytes) : bytes;
}

export function existsSync(path) {
  try {
    openFile(String(path));
    return true;
  } catch {
    return false;
  }
}

export default { readFileSync, existsSync };
