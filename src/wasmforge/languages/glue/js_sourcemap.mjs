// Where a place in the bundle came from, after esbuild's source map: for each bundle line,
// the segments [column, source, line] at which the original file or line changes (enough
// to name a stack frame's file and line, and small enough to keep in the component).
const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeSegment(segment) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = DIGITS.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

export function lineSegments(mappings) {
  const table = [];
  let source = 0;
  let line = 0;
  mappings.split(";").forEach((group, generated) => {
    let column = 0;
    const segments = [];
    for (const segment of group ? group.split(",") : []) {
      const values = decodeSegment(segment);
      column += values[0];
      if (values.length < 4) continue;
      source += values[1];
      line += values[2];
      const last = segments[segments.length - 1];
      if (!last || last[1] !== source || last[2] !== line + 1) segments.push([column, source, line + 1]);
    }
    if (segments.length) table[generated] = segments;
  });
  return table;
}

// The segment of `segments` covering 1-based `column` (the first when none does).
export function segmentAt(segments, column) {
  let found = segments[0];
  for (const segment of segments) {
    if (segment[0] <= column - 1) found = segment;
  }
  return found;
}
