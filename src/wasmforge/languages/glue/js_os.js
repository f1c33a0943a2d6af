// wasmforge's `os` for a JavaScript component: what a WASI guest can truthfully say about
// itself. The platform is "wasi" (as process.platform): the guest runs on wasmtime, not on
// the host's kernel, and code that branches on "win32" takes its POSIX path. It has one
// thread of execution (wasm32-wasip2 has no threads), so cpus() is one entry and
// availableParallelism() 1: code that sizes a worker pool by them gets 1, not 0. It has no
// hostname, network interfaces, users or signals of its own; its memory is wasm32's 4 GiB
// address space at most (the host's memory and the manifest's limit are not visible).
import { process } from "./js_process.js";

const GIB4 = 2 ** 32;

export const EOL = "\n";
export const devNull = "/dev/null";
export const constants = Object.freeze({ signals: Object.freeze({}), errno: Object.freeze({}),
                                         priority: Object.freeze({}) });

export const platform = () => "wasi";
export const type = () => "WASI";
export const arch = () => "wasm32";
export const machine = () => "wasm32";
export const release = () => "WASI_VERSION";
export const version = () => "WASI WASI_VERSION";
export const endianness = () => "LE";
export const hostname = () => "localhost";
export const loadavg = () => [0, 0, 0];
export const uptime = () => Math.floor(performance.now() / 1000);
export const totalmem = () => GIB4;
export const freemem = () => GIB4;
export const availableParallelism = () => 1;
export const networkInterfaces = () => ({});
export const getPriority = () => 0;
export const setPriority = () => undefined;

export function cpus() {
  return [{ model: "wasm32", speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } }];
}

// Like Node on POSIX: $TMPDIR, $TMP or $TEMP (less a trailing slash), else /tmp. The
// directory exists only if the operator mounted one there.
export function tmpdir() {
  const { TMPDIR, TMP, TEMP } = process.env;
  const dir = TMPDIR || TMP || TEMP || "/tmp";
  return dir.length > 1 ? dir.replace(/\/$/, "") : dir;
}

// Like Node on POSIX: $HOME; else "/" (the guest has no password database).
export const homedir = () => process.env.HOME || "/";

export function userInfo() {
  const { USER, LOGNAME } = process.env;
  return { uid: -1, gid: -1, username: USER || LOGNAME || "", homedir: homedir(), shell: null };
}

export default {
  EOL, devNull, constants, platform, type, arch, machine, release, version, endianness,
  hostname, loadavg, uptime, totalmem, freemem, availableParallelism, networkInterfaces,
  getPriority, setPriority, cpus, tmpdir, homedir, userInfo,
};
