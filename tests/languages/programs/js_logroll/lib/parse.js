// The log's streams: bytes to lines (a StringDecoder keeps characters split across chunks
// whole), lines to entries, entries to per-service tallies.
import { Transform, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

export function splitLines() {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  const emit = (stream, text) => {
    const lines = (rest + text).split(/\r?\n/);
    rest = lines.pop();
    for (const line of lines) stream.push(line);
  };
  return new Transform({
    readableObjectMode: true,
    transform(chunk, _encoding, done) {
      emit(this, decoder.write(chunk));
      done();
    },
    flush(done) {
      emit(this, decoder.end());
      if (rest) this.push(rest);
      done();
    },
  });
}

const ENTRY = /^(\S+) (INFO|WARN|ERROR) (\S+) (.*)$/;

export function parseEntries(file, { strict = false } = {}) {
  let number = 0;
  return new Transform({
    objectMode: true,
    transform(line, _encoding, done) {
      number += 1;
      if (line.trim() === "") return done();
      const match = ENTRY.exec(line);
      if (!match) {
        return done(strict ? new Error(`${file}:${number}: not a log line: ${line}`) : null);
      }
      const [, time, level, service, message] = match;
      done(null, { file, line: number, time: new Date(time), level, service, message });
    },
  });
}

export class Tally extends Writable {
  constructor() {
    super({ objectMode: true });
    this.services = new Map();
    this.errors = [];
  }

  _write(entry, _encoding, done) {
    const counts = this.services.get(entry.service) ?? { INFO: 0, WARN: 0, ERROR: 0 };
    counts[entry.level] += 1;
    this.services.set(entry.service, counts);
    if (entry.level === "ERROR") this.errors.push(entry);
    done();
  }
}
