// wasmforge's `crypto` for a JavaScript component: Node's synchronous hashes and HMACs over
// @noble/hashes, and randomness from the engine's Web Crypto (wasi:random underneath).
import { Buffer } from "buffer";
import { hmac } from "@noble/hashes/hmac.js";
import { md5, ripemd160, sha1 } from "@noble/hashes/legacy.js";
import { sha224, sha256, sha384, sha512, sha512_224, sha512_256 } from "@noble/hashes/sha2.js";
import { sha3_224, sha3_256, sha3_384, sha3_512 } from "@noble/hashes/sha3.js";

const HASHES = {
  md5, sha1, ripemd160, rmd160: ripemd160, sha224, sha256, sha384, sha512,
  "sha512-224": sha512_224, "sha512-256": sha512_256,
  "sha3-224": sha3_224, "sha3-256": sha3_256, "sha3-384": sha3_384, "sha3-512": sha3_512,
};
const WEB_CRYPTO_CHUNK = 65536; // getRandomValues fills at most this many bytes a call

function hashFor(algorithm) {
  const key = String(algorithm).toLowerCase().replace(/^rsa-/, "").replace(/^sha-(\d)/, "sha$1");
  const hash = HASHES[key];
  if (!hash) {
    const err = new Error(`Digest method not supported: ${algorithm} (wasmforge has ` +
                          `${getHashes().join(", ")})`);
    err.code = "ERR_CRYPTO_INVALID_DIGEST";
    throw err;
  }
  return hash;
}

function toBytes(data, encoding) {
  if (typeof data === "string") return Buffer.from(data, encoding ?? "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  const err = new TypeError('The "data" argument must be of type string or an instance of ' +
                            `Buffer, TypedArray, or DataView. Received ${typeof data}`);
  err.code = "ERR_INVALID_ARG_TYPE";
  throw err;
}

class Hash {
  constructor(state) {
    this._state = state;
    this._done = false;
  }

  update(data, encoding) {
    if (this._done) throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this._state.update(toBytes(data, encoding));
    return this;
  }

  digest(encoding) {
    if (this._done) throw Object.assign(new Error("Digest already called"), { code: "ERR_CRYPTO_HASH_FINALIZED" });
    this._done = true;
    const out = Buffer.from(this._state.digest());
    return encoding && encoding !== "buffer" ? out.toString(encoding) : out;
  }

  copy() {
    return new Hash(this._state.clone());
  }
}

export function createHash(algorithm) {
  return new Hash(hashFor(algorithm).create());
}

export function createHmac(algorithm, key) {
  return new Hash(hmac.create(hashFor(algorithm), toBytes(key)));
}

export function hash(algorithm, data, outputEncoding = "hex") {
  return createHash(algorithm).update(data).digest(outputEncoding);
}

export function getHashes() {
  return Object.keys(HASHES).sort();
}

export function getRandomValues(array) {
  return globalThis.crypto.getRandomValues(array);
}

export function randomFillSync(buffer, offset = 0, size) {
  const view = ArrayBuffer.isView(buffer)
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);
  const end = size === undefined ? view.length : offset + size;
  for (let at = offset; at < end; at += WEB_CRYPTO_CHUNK) {
    globalThis.crypto.getRandomValues(view.subarray(at, Math.min(end, at + WEB_CRYPTO_CHUNK)));
  }
  return buffer;
}

export function randomBytes(size, callback) {
  const bytes = randomFillSync(Buffer.alloc(size));
  if (typeof callback !== "function") return bytes;
  queueMicrotask(() => callback(null, bytes));
  return undefined;
}

export function randomInt(min, max) {
  if (max === undefined) [min, max] = [0, min];
  const range = max - min;
  if (!Number.isSafeInteger(range) || range <= 0 || range > 2 ** 48) {
    throw new RangeError(`randomInt: need min < max within 2**48, got ${min} and ${max}`);
  }
  const limit = 2 ** 48 - (2 ** 48 % range); // rejection sampling: no modulo bias
  for (;;) {
    const value = randomBytes(6).readUIntBE(0, 6);
    if (value < limit) return min + (value % range);
  }
}

export function randomUUID() {
  return globalThis.crypto.randomUUID();
}

export function timingSafeEqual(a, b) {
  const left = toBytes(a);
  const right = toBytes(b);
  if (left.length !== right.length) {
    throw Object.assign(new RangeError("Input buffers must have the same byte length"),
                        { code: "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH" });
  }
  let diff = 0;
  for (let i = 0; i < left.length; i++) diff |= left[i] ^ right[i];
  return diff === 0;
}

export const webcrypto = globalThis.crypto;
export const subtle = globalThis.crypto?.subtle;

export default {
  createHash, createHmac, hash, getHashes, getRandomValues, randomFillSync, randomBytes,
  randomInt, randomUUID, timingSafeEqual, webcrypto, subtle,
};
