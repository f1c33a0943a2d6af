// wasmforge's `fs/promises` for a JavaScript component: the calls of js_fs.js (WASI, only
// the mounted directories) as promises. They run synchronously (WASI's filesystem calls
// block) and settle at once; errors reject with Node's codes (ENOENT, EACCES, EROFS, ...).
import {
  accessSync, appendFileSync, copyFileSync, lstatSync, mkdirSync, readFileSync,
  readdirSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync,
} from "./js_fs.js";

// Function declarations of js_fs.js: bound before either module's body runs.
const later = (action) => async (...args) => action(...args);

export const readFile = later(readFileSync);
export const writeFile = later(writeFileSync);
export const appendFile = later(appendFileSync);
export const readdir = later(readdirSync);
export const stat = later(statSync);
export const lstat = later(lstatSync);
export const mkdir = later(mkdirSync);
export const unlink = later(unlinkSync);
export const rmdir = later(rmdirSync);
export const rm = later(rmSync);
export const rename = later(renameSync);
export const copyFile = later(copyFileSync);
export const access = later(accessSync);
// Here, not in js_fs.js, which imports this module first (its default export names them).
export const constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1 };

export default {
  readFile, writeFile, appendFile, readdir, stat, lstat, mkdir, unlink, rmdir, rm, rename,
  copyFile, access, constants,
};
