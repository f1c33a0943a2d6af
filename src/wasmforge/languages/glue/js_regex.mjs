// Regular expressions the component's engine cannot compile, rewritten in the bundle: the
// engine is built without ICU, so Unicode property escapes (\p{L}, \P{Script=Greek}) and
// the v flag are SyntaxErrors there. acorn's tokenizer finds every regexp literal and every
// RegExp("...", "...") call with literal arguments (esbuild turns v-flag literals into
// those), and regexpu-core expands them into plain u-flag character classes. Each rewrite
// stays on its line, so the bundle's line table (source maps) still holds.

const NEEDS_REWRITE = /\\[pP]\{/;

function needsRewrite(pattern, flags) {
  return flags.includes("v") || (flags.includes("u") && NEEDS_REWRITE.test(pattern));
}

const rewritten = new Map(); // bundles repeat patterns; each rewrite takes milliseconds

function rewrite(rewritePattern, pattern, flags) {
  const key = `${flags}/${pattern}`;
  if (!rewritten.has(key)) {
    rewritten.set(key, {
      pattern: rewritePattern(pattern, flags, {
        unicodePropertyEscapes: "transform",
        unicodeSetsFlag: "transform",
      }),
      flags: flags.replace("v", "u"),
    });
  }
  return rewritten.get(key);
}

// A RegExp(...) call with two string literal arguments ends at `tokens`' last token.
function regExpCall(tokens) {
  const [name, open, source, comma, flags, close] = tokens;
  return tokens.length === 6 && name.type.label === "name" && name.value === "RegExp" &&
    open.type.label === "(" && source.type.label === "string" && comma.type.label === "," &&
    flags.type.label === "string" && close.type.label === ")";
}

// [start, end, replacement] for the regexp ending at `tokens`' last token, or null.
function editFor(tokens, rewritePattern) {
  const token = tokens[tokens.length - 1];
  if (token.type.label === "regexp") {
    const { pattern, flags } = token.value;
    if (!needsRewrite(pattern, flags)) return null;
    const out = rewrite(rewritePattern, pattern, flags);
    return [token.start, token.end, `/${out.pattern}/${out.flags}`];
  }
  if (!regExpCall(tokens)) return null;
  const [, , source, , flags] = tokens;
  if (!needsRewrite(source.value, flags.value)) return null;
  const out = rewrite(rewritePattern, source.value, flags.value);
  return [source.start, flags.end, `${JSON.stringify(out.pattern)}, ${JSON.stringify(out.flags)}`];
}

// acorn's tokenizer tells regexps from divisions as its parser does, at a fraction of the
// cost of a full parse.
function collectEdits(code, acorn, rewritePattern) {
  const edits = [];
  const recent = [];
  for (const token of acorn.tokenizer(code, { ecmaVersion: "latest", sourceType: "module" })) {
    recent.push(token);
    if (recent.length > 6) recent.shift();
    const label = token.type.label;
    if (label !== "regexp" && label !== ")") continue;
    let edit;
    try {
      edit = editFor(label === "regexp" ? [token] : recent, rewritePattern);
    } catch (err) {
      throw Object.assign(new Error(`invalid regular expression: ${err.message}`),
                          { offset: token.start });
    }
    if (edit) edits.push(edit);
  }
  return edits.reverse();
}

// Only bundles that may hold such a regexp are tokenized: a property escape, or a flags
// string or literal with v in it (false alarms cost only the tokenizing).
const MAYBE = /\\[pP]\{|"[dgimsuy]*v[dgimsuy]*"|\/[dgimsuy]*v[dgimsuy]*(?![\w$])/;

// Returns `code` with its unsupported regexps rewritten. A pattern regexpu-core rejects is
// an Error whose `offset` is the regexp's place in `code`.
export function lowerRegexps(code, acorn, rewritePattern) {
  if (!MAYBE.test(code)) return code;
  let edits;
  try {
    edits = collectEdits(code, acorn, rewritePattern);
  } catch (err) {
    if (err.offset !== undefined) throw err;
    return code; // syntax newer than acorn's: the engine judges it, and its errors are mapped
  }
  let out = code;
  for (const [start, end, text] of edits) out = out.slice(0, start) + text + out.slice(end);
  return out;
}
