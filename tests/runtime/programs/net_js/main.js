// The network tests' JavaScript program: fetch each URL given as an argument and report what
// came back, catching every failure the way an ordinary program would.
import { summarise } from "./report.js";

let failures = 0;
for (const url of process.argv.slice(2)) {
  try {
    const response = await fetch(url, { headers: { "x-client": "wasmforge-test" } });
    console.log(`fetched ${url}: ${summarise(response.status, await response.text())}`);
  } catch (err) {
    failures += 1;
    console.log(`fetch ${url} failed: ${err}`);
  }
}
process.exitCode = failures ? 3 : 0;
