import { readFileSync } from "fs";
import { shout } from "./shout.js";

console.log(`stdin: ${process.stdin.read().split("\n")[0].trim()}`);
console.log(`shout: ${shout(process.argv.slice(2).join(" "))}`);
try {
  readFileSync("/etc/passwd", "utf8");
  console.log("read: allowed");
} catch {
  console.log("read: denied");
}
if (process.argv.slice(2).length > 1) {
  process.exitCode = 7;
}
