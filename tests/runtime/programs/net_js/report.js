// One line per response: the status and the body's first line, trimmed.
export function summarise(status, body) {
  const first = body.trim().split("\n")[0] ?? "";
  return `${status} ${first.length > 80 ? `${first.slice(0, 80)}...` : first}`;
}
