// npm's `process` package as packages import it (`require("process/")`, e.g.
// readable-stream): wasmforge's process object (glue/js_process.js, which the bundle
// injects and so runs before any package's code), not the package's `global.process`,
// which a component does not have.
module.exports = globalThis.__wasmforge.process;
