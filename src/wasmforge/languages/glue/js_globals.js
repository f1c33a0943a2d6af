// Node's global Buffer for a JavaScript component (injected by esbuild: a free `Buffer` in
// the user's code or a package refers to this; bundles that never name it do not get it).
export { Buffer } from "buffer";
