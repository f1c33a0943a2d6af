// Regular expressions the component's engine cannot compile, rewritten in the bundle: the
// engine is built without ICU, so Unicode property escapes (\p{L}, \P{Script=Greek}) and
// the v flag are SyntaxErrors there. acorn finds every regexp literal and every
// RegExp("...", "...") call with literal arguments (esbuild turns v-flag literals into
// those), and regexpu-core expands them into plain u-flag character classes. Each rewrite
// stays on its line, so the bundle's line table (source maps) still holds.

const NEEDS_REWRITE = /\\[pP]\{/;

function needsRewrite(pattern, flags) {
  return flags.includes("v") || (flags.includes("u") && NEEDS_REWRITE.test(pattern));
}

function rewrite(rewritePattern, pattern, flags) {
  const rewritten = rewritePattern(pattern, flags, {
    unicodePropertyEscapes: "transform",
    unicodeSetsFlag: "transform",
  });
  return { pattern: rewritten, flags: flags.replace("v", "u") };
}

function isStringLiteral(node) {
  return node && node.type === "Literal" && typeof node.value === "string";
}

// [start, end, replacement] for one node, or null when it holds nothing to rewrite.
function editFor(node, rewritePattern) {
  if (node.type === "Literal" && node.regex) {
    const { pattern, flags } = node.regex;
    if (!needsRewrite(pattern, flags)) return null;
    const out = rewrite(rewritePattern, pattern, flags);
    return [node.start, node.end, `/${out.pattern}/${out.flags}`];
  }
  const isRegExpCall = (node.type === "NewExpression" || node.type === "CallExpression") &&
    node.callee.type === "Identifier" && node.callee.name === "RegExp";
  if (!isRegExpCall || node.arguments.length !== 2) return null;
  const [source, flagArg] = node.arguments;
  if (!isStringLiteral(source) || !isStringLiteral(flagArg)) return null;
  if (!needsRewrite(source.value, flagArg.value)) return null;
  const out = rewrite(rewritePattern, source.value, flagArg.value);
  return [source.start, flagArg.end, `${JSON.stringify(out.pattern)}, ${JSON.stringify(out.flags)}`];
}

function collectEdits(root, rewritePattern) {
  const edits = [];
  const pending = [root];
  while (pending.length) {
    const node = pending.pop();
    let edit;
    try {
      edit = editFor(node, rewritePattern);
    } catch (err) {
      throw Object.assign(new Error(`invalid regular expression: ${err.message}`),
                          { offset: node.start });
    }
    if (edit) edits.push(edit);
    for (const key of Object.keys(node)) {
      const value = node[key];
      const children = Array.isArray(value) ? value : [value];
      for (const child of children) {
        if (child && typeof child.type === "string") pending.push(child);
      }
    }
  }
  return edits.sort((a, b) => b[0] - a[0]);
}

// Returns `code` with its unsupported regexps rewritten. A pattern regexpu-core rejects is
// an Error whose `offset` is the regexp's place in `code`.
export function lowerRegexps(code, acorn, rewritePattern) {
  let ast;
  try {
    ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module" });
  } catch {
    return code; // syntax newer than acorn's: the engine judges it, and its errors are mapped
  }
  let out = code;
  for (const [start, end, text] of collectEdits(ast, rewritePattern)) {
    out = out.slice(0, start) + text + out.slice(end);
  }
  return out;
}
