// One note: front matter checked, body rendered to HTML.
import { isValid, parseISO } from "date-fns";
import { marked } from "marked";
import { countWords, slugify } from "./slug.js";

marked.use({ gfm: true });

function noteDate(meta, file) {
  const date = parseISO(String(meta.date ?? ""));
  if (!isValid(date)) {
    throw new RangeError(`${file}: "date" must be an ISO date such as 2024-03-05, got ${meta.date}`);
  }
  return date;
}

export function renderNote({ meta, body }, file) {
  const title = String(meta.title ?? file);
  return {
    title,
    slug: meta.slug ?? slugify(title),
    date: noteDate(meta, file),
    tags: [...(meta.tags ?? [])].map(String).sort(),
    words: countWords(body),
    html: marked.parse(body).trim(),
  };
}
