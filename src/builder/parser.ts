// The Dockerfile parser, after moby's builder/dockerfile/parser: parser directives
// (`# escape=`, `# syntax=`), comments, line continuations (leading whitespace of continued
// lines is kept), one node per instruction with its --flags and its arguments split the way
// each instruction wants them (JSON or shell form, whitespace-delimited, name=value pairs).

import { invalidParameter } from "../errdefs/index.js";

export interface Node {
  /** Lower-cased instruction name. */
  cmd: string;
  /** The instruction as written (continuations joined), for "Step N/M : …". */
  original: string;
  flags: string[];
  /** Arguments; for ENV/LABEL alternating key, value; for ONBUILD the trigger text. */
  args: string[];
  /** JSON (exec) form for RUN/CMD/ENTRYPOINT/SHELL/COPY/ADD/VOLUME. */
  json: boolean;
  /** 1-based line where the instruction starts. */
  line: number;
  /** ONBUILD: the parsed trigger. */
  next?: Node;
  /** Arguments taken literally, never expanded (the LABEL steps --label adds). */
  noExpand?: boolean;
}

export interface ParseResult {
  nodes: Node[];
  escapeToken: string;
  warnings: string[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const VALID_DIRECTIVES = new Set(["escape", "syntax", "check"]);

export const INSTRUCTIONS = new Set([
  "add",
  "arg",
  "cmd",
  "copy",
  "entrypoint",
  "env",
  "expose",
  "from",
  "healthcheck",
  "label",
  "maintainer",
  "onbuild",
  "run",
  "shell",
  "stopsignal",
  "user",
  "volume",
  "workdir",
]);

const isSpace = (c: string) => c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\v" || c === "\f";

export function parseDockerfile(text: string): ParseResult {
  const warnings: string[] = [];
  let escapeToken = "\\";
  const seen = new Set<string>();
  let directivesDone = false;
  const lines = text.replace(/^\uFEFF/, "").split("\n").map((l) => l.replace(/\r$/, ""));
  const nodes: Node[] = [];
  let contRe = continuationRe(escapeToken);

  const isComment = (l: string) => /^\s*#/.test(l);
  const isEmptyContinuation = (l: string) => l.trim() === "";

  let i = 0;
  while (i < lines.length) {
    let raw = lines[i]!;
    const lineNo = i + 1;
    i++;
    if (!directivesDone) {
      const m = DIRECTIVE.exec(raw);
      const key = m?.[1]!.toLowerCase();
      if (m && key && VALID_DIRECTIVES.has(key)) {
        if (seen.has(key)) throw invalidParameter(`only one ${key} parser directive can be used`);
        seen.add(key);
        if (key === "escape") {
          const v = m[2]!;
          if (v !== "`" && v !== "\\") throw invalidParameter(`invalid escape token '${v}' does not match ${"`"} or \\`);
          escapeToken = v;
          contRe = continuationRe(escapeToken);
        } else if (key === "syntax") {
          warnings.push(`the syntax parser directive (${m[2]}) is ignored: this builder is the classic one`);
        }
        continue;
      }
      directivesDone = true;
    }
    if (isComment(raw)) continue;
    raw = raw.replace(/^[ \t]+/, "");
    let { line, end } = trimContinuation(raw, contRe);
    if (end && line.trim() === "") continue;
    let emptyContinuation = false;
    while (!end && i < lines.length) {
      const next = lines[i]!;
      i++;
      if (isComment(next)) continue;
      if (isEmptyContinuation(next)) {
        emptyContinuation = true;
        continue;
      }
      const t = trimContinuation(next, contRe);
      line += t.line;
      end = t.end;
    }
    if (emptyContinuation) warnings.push(`Empty continuation line found in: ${line.trim()}`);
    if (line.trim() === "") continue;
    nodes.push(nodeFromLine(line, escapeToken, lineNo));
  }
  return { nodes, escapeToken, warnings };
}

function continuationRe(escape: string): RegExp {
  return new RegExp(`${escape === "\\" ? "\\\\" : "`"}[ \\t]*$`);
}

function trimContinuation(line: string, re: RegExp): { line: string; end: boolean } {
  if (re.test(line)) return { line: line.replace(re, ""), end: false };
  return { line, end: true };
}

/** One instruction line (continuations already joined) → node. */
export function nodeFromLine(line: string, escapeToken: string, lineNo = 0): Node {
  const trimmed = line.trim();
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(trimmed)!;
  const cmd = m[1]!.toLowerCase();
  let rest = m[2] ?? "";
  const { rest: afterFlags, flags } = extractFlags(rest);
  rest = afterFlags;
  const node: Node = { cmd, original: trimmed, flags, args: [], json: false, line: lineNo };
  if (!INSTRUCTIONS.has(cmd)) throw invalidParameter(`dockerfile parse error line ${lineNo}: unknown instruction: ${m[1]!.toUpperCase()}`);
  switch (cmd) {
    case "run":
    case "cmd":
    case "entrypoint":
    case "shell": {
      const j = parseJSONArray(rest);
      if (j.kind === "json") {
        node.args = j.value;
        node.json = true;
      } else if (j.kind === "notStrings") {
        throw invalidParameter(`dockerfile parse error line ${lineNo}: ${cmd.toUpperCase()}: JSON array must contain only strings`);
      } else node.args = rest.trim() === "" ? [] : [rest.replace(/^\s+/, "")];
      break;
    }
    case "add":
    case "copy":
    case "volume": {
      const j = parseJSONArray(rest);
      if (j.kind === "json") {
        node.args = j.value;
        node.json = true;
      } else if (j.kind === "notStrings") {
        throw invalidParameter(`dockerfile parse error line ${lineNo}: ${cmd.toUpperCase()}: JSON array must contain only strings`);
      } else node.args = splitWhitespace(rest);
      break;
    }
    case "expose":
    case "from":
      node.args = splitWhitespace(rest);
      break;
    case "env":
    case "label":
      node.args = parseNameVal(rest, cmd.toUpperCase(), escapeToken, lineNo);
      break;
    case "arg":
      node.args = parseWords(rest, escapeToken);
      break;
    case "onbuild": {
      const trigger = rest.trim();
      if (trigger === "") throw invalidParameter(`dockerfile parse error line ${lineNo}: ONBUILD requires at least one argument`);
      node.args = [trigger];
      node.next = nodeFromLine(trigger, escapeToken, lineNo);
      break;
    }
    case "healthcheck":
      node.args = [rest.trim()];
      break;
    default:
      // maintainer, workdir, user, stopsignal: the whole rest is one string
      node.args = rest.trim() === "" ? [] : [rest.trim()];
  }
  return node;
}

type JSONResult = { kind: "json"; value: string[] } | { kind: "notJSON" } | { kind: "notStrings" };

function parseJSONArray(rest: string): JSONResult {
  const t = rest.trim();
  if (!t.startsWith("[")) return { kind: "notJSON" };
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return { kind: "notJSON" };
  }
  if (!Array.isArray(v)) return { kind: "notJSON" };
  if (!v.every((x) => typeof x === "string")) return { kind: "notStrings" };
  return { kind: "json", value: v as string[] };
}

function splitWhitespace(rest: string): string[] {
  return rest.split(/[\t\v\f\r\n ]+/).filter((w) => w !== "");
}

/** moby's extractBuilderFlags: leading `--name[=value]` words (quotes removed). */
export function extractFlags(line: string): { rest: string; flags: string[] } {
  const words: string[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let quote = "";
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? line[pos]! : "";
    if (phase === "spaces") {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      if (ch !== "-" || pos + 1 === line.length || line[pos + 1] !== "-") return { rest: line.slice(pos), flags: words };
      phase = "word";
    }
    if (pos === line.length) {
      if (word !== "--" && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === "word") {
      if (isSpace(ch)) {
        phase = "spaces";
        if (word === "--") return { rest: line.slice(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = "";
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = "quote";
        continue;
      }
      if (ch === "\\") {
        if (pos + 1 === line.length) continue;
        pos++;
        word += line[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // quote
    if (ch === quote) {
      phase = "word";
      continue;
    }
    if (ch === "\\") {
      if (pos + 1 === line.length) {
        phase = "word";
        continue;
      }
      pos++;
      word += line[pos];
      continue;
    }
    word += ch;
  }
  return { rest: "", flags: words };
}

/** moby's parseWords: whitespace-separated words, quotes and escapes kept for later expansion. */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let quote = "";
  let blankOK = false;
  const chars = [...rest];
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos]! : "";
    if (phase === "spaces") {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      phase = "word";
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === "word") {
      if (isSpace(ch)) {
        phase = "spaces";
        if (blankOK || word.length > 0) words.push(word);
        word = "";
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = "quote";
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // in quote
    if (ch === quote) phase = "word";
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = "word";
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV/LABEL: `KEY value with spaces` (legacy) or `k=v k2="v 2"`: [k, v, k2, v2, …] unexpanded. */
function parseNameVal(rest: string, key: string, escapeToken: string, lineNo: number): string[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) throw invalidParameter(`dockerfile parse error line ${lineNo}: ${key} requires at least one argument`);
  if (!words[0]!.includes("=")) {
    const parts = rest.trim().split(/[\t\v\f\r\n ]+/);
    if (parts.length < 2) throw invalidParameter(`dockerfile parse error line ${lineNo}: ${key} must have two arguments`);
    const name = parts[0]!;
    const value = rest.trim().slice(name.length).replace(/^[\t\v\f\r\n ]+/, "");
    return [name, value];
  }
  const out: string[] = [];
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq < 0) throw invalidParameter(`dockerfile parse error line ${lineNo}: Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    out.push(w.slice(0, eq), w.slice(eq + 1));
  }
  return out;
}
