// js-notes: renders Markdown notes with YAML front matter to HTML articles, then prints a
// YAML index of them. Usage: js-notes NOTE.md... (or one note on stdin).
import { readFileSync } from "node:fs";
import { differenceInCalendarDays, format, formatDistanceStrict } from "date-fns";
import { stringify } from "yaml";
import { splitFrontMatter } from "./lib/frontmatter.js";
import { renderNote } from "./lib/render.js";

const files = process.argv.slice(2);
const sources = files.length
  ? files.map((file) => [file, readFileSync(file, "utf8")])
  : [["<stdin>", process.stdin.read()]];

const notes = sources
  .map(([file, text]) => renderNote(splitFrontMatter(text, file), file))
  .sort((a, b) => a.date - b.date || a.title.localeCompare(b.title));

for (const note of notes) {
  console.log(`<article id="${note.slug}">`);
  console.log(`<h1>${note.title}</h1>`);
  console.log(`<time datetime="${format(note.date, "yyyy-MM-dd")}">` +
              `${format(note.date, "EEEE, d MMMM yyyy")}</time>`);
  console.log(note.html);
  console.log("</article>");
}

const first = notes[0].date;
const last = notes[notes.length - 1].date;
const index = {
  notes: notes.map(({ slug, title, date, tags, words }) => ({
    slug, title, date: format(date, "yyyy-MM-dd"), tags, words,
  })),
  tags: [...new Set(notes.flatMap((note) => note.tags))].sort(),
  span: { days: differenceInCalendarDays(last, first), words: formatDistanceStrict(last, first) },
};
process.stdout.write(stringify(index));
