// Content digests and signatures of a manifest, with Node's crypto.
import { createHash, createHmac, getRandomValues, randomBytes, randomUUID } from "node:crypto";
import crypto from "crypto";

export function digests(text) {
  return Object.fromEntries(["md5", "sha1", "sha256", "sha512"].map((algorithm) => [
    algorithm, createHash(algorithm).update(text, "utf8").digest("hex"),
  ]));
}

export function signature(key, text) {
  return createHmac("sha256", key).update(text).digest("base64");
}

export function chunkedEqualsWhole(text) {
  const whole = crypto.createHash("sha256").update(text).digest("hex");
  const hash = crypto.createHash("sha256");
  for (const part of text.match(/.{1,7}/gs)) hash.update(Buffer.from(part));
  return hash.digest("hex") === whole;
}

export function randomness() {
  const first = randomUUID();
  const bytes = randomBytes(32);
  const filled = getRandomValues(new Uint32Array(4));
  return {
    uuidShape: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(first),
    uuidsDiffer: first !== crypto.randomUUID(),
    bytes: `${bytes.length} ${Buffer.isBuffer(bytes)} ${!bytes.equals(randomBytes(32))}`,
    filled: filled.length === 4 && filled.some((n) => n !== 0),
    big: randomBytes(100000).length,
  };
}
