// Splits a note into its YAML front matter and its Markdown body.
import { parse } from "yaml";

const FENCE = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

export function splitFrontMatter(text, file) {
  const match = FENCE.exec(text);
  if (!match) return { meta: {}, body: text };
  const meta = parse(match[1]) ?? {};
  if (typeof meta !== "object" || Array.isArray(meta)) {
    throw new TypeError(`${file}: the front matter must be a YAML mapping`);
  }
  return { meta, body: text.slice(match[0].length) };
}
