// wasmforge's `url` for a JavaScript component: the engine's WHATWG URL and
// URLSearchParams, the legacy parse/format/resolve of the pinned `url` polyfill (0.11.4),
// and Node's file-URL conversions for POSIX paths (the guest's paths are POSIX: "/" is the
// root and mounts lie under it).
import legacy from "url/";
import path from "path";

const { URL, URLSearchParams } = globalThis;
export { URL, URLSearchParams };
export const { parse, resolve, resolveObject, Url } = legacy;

function codedError(Kind, code, message) {
  const err = new Kind(message);
  err.code = code;
  return err;
}

export function fileURLToPath(value) {
  const url = typeof value === "string" ? new URL(value) : value;
  if (!(url instanceof URL)) {
    throw codedError(TypeError, "ERR_INVALID_ARG_TYPE",
                     'The "path" argument must be of type string or an instance of URL');
  }
  if (url.protocol !== "file:") {
    throw codedError(TypeError, "ERR_INVALID_URL_SCHEME", "The URL must be of scheme file");
  }
  if (url.hostname !== "") {
    throw codedError(TypeError, "ERR_INVALID_FILE_URL_HOST",
                     'File URL host must be "localhost" or empty on wasi');
  }
  if (/%2f/i.test(url.pathname)) {
    throw codedError(TypeError, "ERR_INVALID_FILE_URL_PATH",
                     "File URL path must not include encoded / characters");
  }
  return decodeURIComponent(url.pathname);
}

// The characters the URL parser would take for something else; it encodes the rest.
const PATH_CHARS = { "%": "%25", "\\": "%5C", "\n": "%0A", "\r": "%0D", "\t": "%09",
                     "?": "%3F", "#": "%23" };

export function pathToFileURL(filepath) {
  let resolved = path.resolve("/", String(filepath));
  if (String(filepath).endsWith("/") && !resolved.endsWith("/")) resolved += "/";
  return new URL(`file://${resolved.replace(/[%\\\n\r\t?#]/g, (c) => PATH_CHARS[c])}`);
}

// Node's format() also takes a WHATWG URL, with options to leave parts out.
export function format(value, options) {
  if (!(value instanceof URL)) return legacy.format(value);
  const url = new URL(value.href);
  if (options?.auth === false) {
    url.username = "";
    url.password = "";
  }
  if (options?.fragment === false) url.hash = "";
  if (options?.search === false) url.search = "";
  return url.href;
}

export function domainToASCII(domain) {
  try {
    return new URL(`ws://${domain}`).hostname;
  } catch {
    return "";
  }
}

export function urlToHttpOptions(url) {
  const options = {
    protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ""), hash: url.hash,
    search: url.search, pathname: url.pathname, path: `${url.pathname}${url.search}`,
    href: url.href,
  };
  if (url.port !== "") options.port = Number(url.port);
  if (url.username || url.password) {
    options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  }
  return options;
}

export default {
  URL, URLSearchParams, parse, resolve, resolveObject, Url, format, fileURLToPath,
  pathToFileURL, domainToASCII, urlToHttpOptions,
};
