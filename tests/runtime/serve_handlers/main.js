// The JavaScript handler the serve tests build: a small service with one route per
// behaviour the tests check. Module state lives at the top level, which runs at build time.
import { createHash } from "node:crypto";
import path from "path";
import { getDirectories } from "wasi:filesystem/preopens@0.2.10";

let requests = 0;
// Read at build time: requests must still see their own environment (process.env).
const buildTimeEnv = Object.keys(process.env).length;

function text(body, status = 200) {
  return new Response(body + "\n", { status, headers: { "content-type": "text/plain" } });
}

async function handle(request) {
  requests += 1;
  const url = new URL(request.url);
  const query = url.searchParams;
  switch (url.pathname) {
    case "/state":
      return text(String(requests));
    case "/env":
      return text(process.env[query.get("name")] ?? "(unset)");
    case "/node": {
      // Node's crypto and path, and a Unicode property escape (the engine has no ICU).
      const words = (query.get("text") ?? "").match(/\p{L}+/gu) ?? [];
      const digest = createHash("sha256").update(words.join(" ")).digest("hex");
      return text(`${path.join("/srv", "a/../b", "c.txt")} ${words.join("|")} ${digest}`);
    }
    case "/dirs":
      return text(getDirectories().map(([, path]) => path).join(",") || "(none)");
    case "/fetch": {
      try {
        const answer = await fetch(query.get("url"));
        return text(`upstream ${answer.status}: ${(await answer.text()).trim()}`);
      } catch (err) {
        return text(`denied: ${err}`, 502);
      }
    }
    case "/spin":
      for (;;) {}
    case "/alloc": {
      const hoard = [];
      for (;;) hoard.push(new Array(1 << 20).fill(requests));
    }
    case "/echo":
      return text(`${request.method} ${await request.text()}`);
    default:
      return text(`Hello from JavaScript at ${url.pathname}`);
  }
}

addEventListener("fetch", (event) => event.respondWith(handle(event.request)));
