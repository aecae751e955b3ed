import { BIG_INT_PREFIX } from "../client/index.js";
// A Go text/template subset, enough for Docker's --format strings: fields and chains
// ({{.A.B}}, {{$x.A}}, {{(index .M "k").B}}), pipelines ({{.X | json}}), variables, if/else if/
// else, range (with $i, $e and else, break/continue), with, trim markers ({{- -}}), comments,
// Go's builtins (and or not len index print printf println eq ne lt le gt ge slice) and Docker's
// (json split join title lower upper pad truncate).

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

/** An object whose fields are a Go struct's: a missing field is an error naming the type. */
export interface StructLike {
  readonly [GO_TYPE]: string;
}
export const GO_TYPE = Symbol("goType");

export type TemplateFunc = (...args: unknown[]) => unknown;
export type FuncMap = Record<string, TemplateFunc>;

// ---------------------------------------------------------------- lexer

type TokKind =
  | "text"
  | "open"
  | "close"
  | "field"
  | "var"
  | "ident"
  | "string"
  | "number"
  | "char"
  | "lparen"
  | "rparen"
  | "pipe"
  | "declare"
  | "assign"
  | "comma"
  | "dot"
  | "eof";

interface Token {
  kind: TokKind;
  value: string;
  pos: number;
}

const WS = " \t\r\n";

function lex(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    const textPos = i;
    const trimLeft = open >= 0 && src[open + 2] === "-" && WS.includes(src[open + 3] ?? "x");
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, "");
    trimNext = false;
    if (text) toks.push({ kind: "text", value: text, pos: textPos });
    if (open < 0) break;
    i = open + 2 + (trimLeft ? 2 : 0);
    // comment
    const afterWs = skipWs(src, i);
    if (src.startsWith("/*", afterWs)) {
      const end = src.indexOf("*/", afterWs + 2);
      if (end < 0) throw new TemplateError(`template: :${lineOf(src, open)}: unclosed comment`);
      let j = end + 2;
      j = skipWs(src, j);
      if (src.startsWith("-}}", j)) {
        trimNext = true;
        j += 3;
      } else if (src.startsWith("}}", j)) j += 2;
      else throw new TemplateError(`template: :${lineOf(src, open)}: comment ends before closing delimiter`);
      i = j;
      continue;
    }
    toks.push({ kind: "open", value: "{{", pos: open });
    // tokens inside the action
    for (;;) {
      while (i < src.length && WS.includes(src[i]!)) i++;
      if (i >= src.length) throw new TemplateError(`template: :${lineOf(src, open)}: unclosed action`);
      if (src.startsWith("-}}", i) && i > 0 && WS.includes(src[i - 1]!)) {
        toks.push({ kind: "close", value: "}}", pos: i });
        trimNext = true;
        i += 3;
        break;
      }
      if (src.startsWith("}}", i)) {
        toks.push({ kind: "close", value: "}}", pos: i });
        i += 2;
        break;
      }
      const c = src[i]!;
      const start = i;
      if (c === "(") {
        toks.push({ kind: "lparen", value: c, pos: i++ });
      } else if (c === ")") {
        toks.push({ kind: "rparen", value: c, pos: i++ });
      } else if (c === "|") {
        toks.push({ kind: "pipe", value: c, pos: i++ });
      } else if (c === ",") {
        toks.push({ kind: "comma", value: c, pos: i++ });
      } else if (c === ":" && src[i + 1] === "=") {
        toks.push({ kind: "declare", value: ":=", pos: i });
        i += 2;
      } else if (c === "=") {
        toks.push({ kind: "assign", value: "=", pos: i++ });
      } else if (c === '"') {
        i++;
        while (i < src.length && src[i] !== '"') {
          if (src[i] === "\\") i++;
          if (src[i] === "\n") throw new TemplateError(`template: :${lineOf(src, start)}: unterminated quoted string`);
          i++;
        }
        if (i >= src.length) throw new TemplateError(`template: :${lineOf(src, start)}: unterminated quoted string`);
        i++;
        toks.push({ kind: "string", value: unquoteGo(src.slice(start, i)), pos: start });
      } else if (c === "`") {
        const end = src.indexOf("`", i + 1);
        if (end < 0) throw new TemplateError(`template: :${lineOf(src, start)}: unterminated raw quoted string`);
        toks.push({ kind: "string", value: src.slice(i + 1, end), pos: start });
        i = end + 1;
      } else if (c === "'") {
        let j = i + 1;
        if (src[j] === "\\") j++;
        j++;
        if (src[j] !== "'") throw new TemplateError(`template: :${lineOf(src, start)}: unterminated character constant`);
        const ch = unquoteGo(`"${src.slice(i + 1, j)}"`);
        toks.push({ kind: "char", value: String(ch.codePointAt(0)), pos: start });
        i = j + 1;
      } else if (c === ".") {
        if (/[A-Za-z_]/.test(src[i + 1] ?? "")) {
          i++;
          while (i < src.length && /[A-Za-z0-9_]/.test(src[i]!)) i++;
          toks.push({ kind: "field", value: src.slice(start + 1, i), pos: start });
        } else if (/[0-9]/.test(src[i + 1] ?? "")) {
          i = lexNumber(src, i);
          toks.push({ kind: "number", value: src.slice(start, i), pos: start });
        } else {
          toks.push({ kind: "dot", value: ".", pos: i++ });
        }
      } else if (c === "$") {
        i++;
        while (i < src.length && /[A-Za-z0-9_]/.test(src[i]!)) i++;
        toks.push({ kind: "var", value: src.slice(start, i), pos: start });
      } else if (/[0-9+-]/.test(c)) {
        i = lexNumber(src, i);
        if (i === start) throw new TemplateError(`template: :${lineOf(src, start)}: bad character ${JSON.stringify(c)}`);
        toks.push({ kind: "number", value: src.slice(start, i), pos: start });
      } else if (/[A-Za-z_]/.test(c)) {
        while (i < src.length && /[A-Za-z0-9_]/.test(src[i]!)) i++;
        toks.push({ kind: "ident", value: src.slice(start, i), pos: start });
      } else {
        throw new TemplateError(`template: :${lineOf(src, start)}: unexpected ${JSON.stringify(c)} in command`);
      }
    }
  }
  toks.push({ kind: "eof", value: "", pos: src.length });
  return toks;
}

function skipWs(src: string, i: number): number {
  while (i < src.length && WS.includes(src[i]!)) i++;
  return i;
}

function lexNumber(src: string, i: number): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(src.slice(i));
  return i + (m ? m[0].length : 0);
}

function lineOf(src: string, pos: number): number {
  return src.slice(0, pos).split("\n").length;
}

function unquoteGo(lit: string): string {
  const body = lit.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case "n":
        return "\n";
      case "t":
        return "\t";
      case "r":
        return "\r";
      case "a":
        return "\x07";
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "v":
        return "\v";
      case "x":
      case "u":
      case "U":
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
        return e;
    }
  });
}

// ---------------------------------------------------------------- parser

type Arg =
  | { t: "field"; base: Arg | null; names: string[]; pos: number; text: string }
  | { t: "dot"; pos: number }
  | { t: "var"; name: string; names: string[]; pos: number; text: string }
  | { t: "ident"; name: string; pos: number }
  | { t: "string"; value: string; pos: number }
  | { t: "number"; value: number; pos: number; text: string }
  | { t: "bool"; value: boolean; pos: number }
  | { t: "nil"; pos: number }
  | { t: "pipe"; pipe: Pipeline; names: string[]; pos: number; text: string };

interface Command {
  args: Arg[];
  pos: number;
}

interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
  pos: number;
}

type Node =
  | { t: "text"; text: string }
  | { t: "action"; pipe: Pipeline }
  | { t: "if" | "with"; pipe: Pipeline; list: Node[]; elseList: Node[] | null }
  | { t: "range"; pipe: Pipeline; list: Node[]; elseList: Node[] | null }
  | { t: "break" }
  | { t: "continue" };

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
    private readonly funcs: FuncMap,
  ) {}

  private peek(off = 0): Token {
    return this.toks[Math.min(this.i + off, this.toks.length - 1)]!;
  }
  private next(): Token {
    return this.toks[this.i++]!;
  }
  private fail(msg: string, tok: Token = this.peek()): never {
    throw new TemplateError(`template: :${lineOf(this.src, tok.pos)}: ${msg}`);
  }

  parseAll(): Node[] {
    const { list, end } = this.parseList(0);
    if (end !== "eof") this.fail(`unexpected {{${end}}}`);
    return list;
  }

  /** Parse nodes until {{end}}, {{else}} or EOF; returns which one stopped it. */
  private parseList(loopDepth: number): { list: Node[]; end: string } {
    const list: Node[] = [];
    for (;;) {
      const tok = this.peek();
      if (tok.kind === "eof") return { list, end: "eof" };
      if (tok.kind === "text") {
        this.next();
        list.push({ t: "text", text: tok.value });
        continue;
      }
      // open
      this.next();
      const kw = this.peek();
      if (kw.kind === "ident") {
        switch (kw.value) {
          case "end":
            this.next();
            this.expectClose();
            return { list, end: "end" };
          case "else":
            this.next();
            return { list, end: "else" };
          case "if":
          case "with":
          case "range": {
            this.next();
            list.push(this.parseControl(kw.value, loopDepth));
            continue;
          }
          case "break":
          case "continue":
            if (loopDepth === 0) this.fail(`{{${kw.value}}} outside {{range}}`);
            this.next();
            this.expectClose();
            list.push({ t: kw.value });
            continue;
          case "define":
          case "template":
          case "block":
            this.fail(`{{${kw.value}}} is not supported`);
        }
      }
      const pipe = this.parsePipeline(true);
      this.expectClose();
      list.push({ t: "action", pipe });
    }
  }

  private parseControl(kind: "if" | "with" | "range", loopDepth: number): Node {
    const pipe = this.parsePipeline(kind === "range" || kind === "with" || kind === "if");
    this.expectClose();
    const inner = kind === "range" ? loopDepth + 1 : loopDepth;
    const { list, end } = this.parseList(inner);
    let elseList: Node[] | null = null;
    if (end === "eof") this.fail(`unexpected EOF`);
    if (end === "else") {
      // {{else if ...}} / {{else with ...}} chain into a nested node
      const kw = this.peek();
      if ((kind === "if" || kind === "with") && kw.kind === "ident" && kw.value === kind) {
        this.next();
        elseList = [this.parseControl(kind, loopDepth)];
        return kind === "if"
          ? { t: "if", pipe, list, elseList }
          : { t: "with", pipe, list, elseList };
      }
      this.expectClose();
      const rest = this.parseList(loopDepth);
      if (rest.end !== "end") this.fail(`expected end; found ${rest.end}`);
      elseList = rest.list;
    }
    if (kind === "range") return { t: "range", pipe, list, elseList };
    return { t: kind, pipe, list, elseList };
  }

  private expectClose(): void {
    const tok = this.next();
    if (tok.kind !== "close") this.fail(`unexpected "${tok.value}" in command`, tok);
  }

  private parsePipeline(allowDecl: boolean): Pipeline {
    const pos = this.peek().pos;
    const decl: string[] = [];
    let assign = false;
    if (allowDecl && this.peek().kind === "var") {
      // $x := ..., $x = ..., $i, $e := ...
      const save = this.i;
      const names: string[] = [this.next().value];
      if (this.peek().kind === "comma") {
        this.next();
        if (this.peek().kind === "var") names.push(this.next().value);
      }
      const op = this.peek();
      if (op.kind === "declare" || op.kind === "assign") {
        this.next();
        decl.push(...names);
        assign = op.kind === "assign";
      } else {
        this.i = save;
      }
    }
    const cmds: Command[] = [];
    for (;;) {
      cmds.push(this.parseCommand());
      if (this.peek().kind === "pipe") {
        this.next();
        continue;
      }
      break;
    }
    if (cmds.length === 0 || cmds.some((c) => c.args.length === 0)) this.fail(`missing value for command`);
    return { decl, assign, cmds, pos };
  }

  private parseCommand(): Command {
    const pos = this.peek().pos;
    const args: Arg[] = [];
    for (;;) {
      const tok = this.peek();
      if (tok.kind === "close" || tok.kind === "pipe" || tok.kind === "rparen" || tok.kind === "eof") break;
      args.push(this.parseOperand());
    }
    return { args, pos };
  }

  private parseOperand(): Arg {
    const tok = this.next();
    let arg: Arg;
    switch (tok.kind) {
      case "field": {
        const names = [tok.value];
        while (this.peek().kind === "field" && this.peek().pos === this.endOf(names, tok.pos)) names.push(this.next().value);
        return { t: "field", base: null, names, pos: tok.pos, text: "." + names.join(".") };
      }
      case "dot":
        return { t: "dot", pos: tok.pos };
      case "var": {
        const names: string[] = [];
        let end = tok.pos + tok.value.length;
        while (this.peek().kind === "field" && this.peek().pos === end) {
          const f = this.next();
          names.push(f.value);
          end = f.pos + 1 + f.value.length;
        }
        return { t: "var", name: tok.value, names, pos: tok.pos, text: tok.value + names.map((n) => "." + n).join("") };
      }
      case "ident":
        if (tok.value === "true" || tok.value === "false") return { t: "bool", value: tok.value === "true", pos: tok.pos };
        if (tok.value === "nil") return { t: "nil", pos: tok.pos };
        if (!(tok.value in this.funcs)) this.fail(`function "${tok.value}" not defined`, tok);
        return { t: "ident", name: tok.value, pos: tok.pos };
      case "string":
        return { t: "string", value: tok.value, pos: tok.pos };
      case "char":
        return { t: "number", value: Number(tok.value), pos: tok.pos, text: tok.value };
      case "number": {
        const v = Number(tok.value.replace(/_/g, ""));
        if (Number.isNaN(v)) this.fail(`illegal number syntax: ${JSON.stringify(tok.value)}`, tok);
        return { t: "number", value: v, pos: tok.pos, text: tok.value };
      }
      case "lparen": {
        const pipe = this.parsePipeline(false);
        const close = this.next();
        if (close.kind !== "rparen") this.fail(`unclosed left paren`, tok);
        const names: string[] = [];
        let end = close.pos + 1;
        while (this.peek().kind === "field" && this.peek().pos === end) {
          const f = this.next();
          names.push(f.value);
          end = f.pos + 1 + f.value.length;
        }
        arg = { t: "pipe", pipe, names, pos: tok.pos, text: this.src.slice(tok.pos, end) };
        return arg;
      }
      default:
        this.fail(`unexpected "${tok.value}" in operand`, tok);
    }
  }

  private endOf(names: string[], start: number): number {
    return start + names.reduce((n, s) => n + 1 + s.length, 0);
  }
}

// ---------------------------------------------------------------- values

/** Go's fmt %v rendering of a template value. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return v.startsWith(BIG_INT_PREFIX) ? v.slice(BIG_INT_PREFIX.length) : v;
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (typeof v === "function") return "<func>";
  if (Array.isArray(v)) return `[${v.map((e) => formatInner(e)).join(" ")}]`;
  if (typeof v === "object") {
    if (isUlimit(v)) return `${v.Name}=${v.Soft}:${v.Hard}`;
    if (GO_TYPE in (v as object)) {
      return `{${Object.keys(v as object).map((k) => formatInner((v as Record<string, unknown>)[k])).join(" ")}}`;
    }
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${formatInner((v as Record<string, unknown>)[k])}`).join(" ")}]`;
  }
  return String(v);
}

/** units.Ulimit prints through its String method: "nofile=1024:2048". */
function isUlimit(v: object): v is { Name: string; Soft: number; Hard: number } {
  const keys = Object.keys(v);
  return keys.length === 3 && "Name" in v && "Soft" in v && "Hard" in v;
}

function formatInner(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  return formatValue(v);
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go's %v for float64 is strconv's shortest 'g' form: exponent when < -4 or >= 21.
  const s = String(n);
  if (s.includes("e")) {
    const [m, e] = s.split("e") as [string, string];
    const ev = Number(e);
    return `${m}e${ev < 0 ? "-" : "+"}${Math.abs(ev) < 10 ? "0" : ""}${Math.abs(ev)}`;
  }
  return s;
}

/** Go's notion of truth for if/with/and/or/not. */
export function isTrue(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") {
    if (GO_TYPE in (v as object)) return true;
    return Object.keys(v as object).length > 0;
  }
  return true;
}

function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return "interface {}";
  if (typeof v === "object" && GO_TYPE in (v as object)) return (v as StructLike)[GO_TYPE];
  if (Array.isArray(v)) return "[]interface {}";
  if (typeof v === "object") return "map[string]interface {}";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  return typeof v === "boolean" ? "bool" : "string";
}

/** Whether an object reads as a Go struct (all keys capitalized) rather than a free-form map. */
function looksLikeStruct(obj: Record<string, unknown>): boolean {
  const keys = Object.keys(obj);
  return keys.length > 0 && keys.every((k) => /^[A-Z]/.test(k));
}

// ---------------------------------------------------------------- builtins

function compareBasic(a: unknown, b: unknown, op: string): number {
  if (typeof a === "number" && typeof b === "number") return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === "string" && typeof b === "string") return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === "boolean" && typeof b === "boolean" && (op === "eq" || op === "ne")) return a === b ? 0 : 1;
  if ((a === null || a === undefined) && (b === null || b === undefined) && (op === "eq" || op === "ne")) return 0;
  if (op === "eq" || op === "ne") {
    if (typeof a !== typeof b) throw new Error("incompatible types for comparison");
    throw new Error("invalid type for comparison");
  }
  throw new Error(typeof a !== typeof b ? "incompatible types for comparison" : "invalid type for comparison");
}

/** Go's fmt.Sprintf for the common verbs (%s %v %d %q %t %x %X %f %e %g %c %%, widths, flags). */
export function sprintf(format: string, ...args: unknown[]): string {
  let argi = 0;
  return format.replace(/%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g, (whole, flags: string, width?: string, prec?: string, verb?: string) => {
    if (verb === "%") return "%";
    if (width === "*") width = String(args[argi++]);
    if (prec === "*") prec = String(args[argi++]);
    if (argi >= args.length) return `%!${verb}(MISSING)`;
    const a = args[argi++];
    let s: string;
    switch (verb) {
      case "v":
        s = flags.includes("+") && a && typeof a === "object" && !Array.isArray(a) ? formatValue(a) : formatValue(a);
        break;
      case "s":
        s = typeof a === "string" ? a : formatValue(a);
        if (prec !== undefined) s = [...s].slice(0, Number(prec)).join("");
        break;
      case "q":
        s = typeof a === "number" ? `'${String.fromCodePoint(a)}'` : goQuote(typeof a === "string" ? a : formatValue(a));
        break;
      case "d":
        s = typeof a === "number" ? String(Math.trunc(a)) : `%!d(${goTypeName(a)}=${formatValue(a)})`;
        if (flags.includes("+") && typeof a === "number" && a >= 0) s = "+" + s;
        break;
      case "t":
        s = typeof a === "boolean" ? String(a) : `%!t(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case "x":
      case "X": {
        if (typeof a === "number") s = Math.trunc(a).toString(16);
        else s = Buffer.from(typeof a === "string" ? a : formatValue(a)).toString("hex");
        if (verb === "X") s = s.toUpperCase();
        break;
      }
      case "o":
        s = typeof a === "number" ? Math.trunc(a).toString(8) : formatValue(a);
        break;
      case "b":
        s = typeof a === "number" ? Math.trunc(a).toString(2) : formatValue(a);
        break;
      case "c":
        s = typeof a === "number" ? String.fromCodePoint(a) : formatValue(a);
        break;
      case "f":
      case "F":
        s = typeof a === "number" ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case "e": {
        if (typeof a !== "number") {
          s = `%!e(${goTypeName(a)}=${formatValue(a)})`;
          break;
        }
        const [m, e] = a.toExponential(prec === undefined ? 6 : Number(prec)).split("e") as [string, string];
        const ev = Number(e);
        s = `${m}e${ev < 0 ? "-" : "+"}${Math.abs(ev) < 10 ? "0" : ""}${Math.abs(ev)}`;
        break;
      }
      case "g":
        s = typeof a === "number" ? formatNumber(a) : formatValue(a);
        break;
      default:
        return `%!${verb}(${goTypeName(a)}=${formatValue(a)})`;
    }
    void whole;
    if (width !== undefined) {
      const w = Number(width);
      const len = [...s].length;
      if (len < w) {
        if (flags.includes("-")) s = s + " ".repeat(w - len);
        else if (flags.includes("0") && /[dfeFxXob]/.test(verb!)) {
          const neg = s.startsWith("-");
          s = (neg ? "-" : "") + "0".repeat(w - len) + (neg ? s.slice(1) : s);
        } else s = " ".repeat(w - len) + s;
      }
    }
    return s;
  }) + (argi < args.length ? `%!(EXTRA ${args.slice(argi).map((a) => `${goTypeName(a)}=${formatValue(a)}`).join(", ")})` : "");
}

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\x07") out += "\\a";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\v") out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp >= 0x80 && cp < 0xa0) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

function sprint(args: unknown[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += formatValue(a);
  });
  return out;
}

/** Go's json.Marshal as Docker's `json` function uses it (no HTML escaping, compact). */
export function goJSON(v: unknown, escapeHTML = false): string {
  const s = JSON.stringify(v === undefined ? null : v, (_k, val: unknown) => (val === undefined ? null : val)) ?? "null";
  const fixed = s
    .replace(/[\u2028\u2029]/g, (c) => (c === "\u2028" ? "\\u2028" : "\\u2029"))
    .replace(/"\\u0000int:(-?\d+)"/g, "$1");
  return escapeHTML ? fixed.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : fixed;
}

/** A value that marshals like Docker's formatter contexts (html-escaped, from toJSON). */
export const JSON_ESCAPE_HTML = Symbol("jsonEscapeHTML");

function goTitle(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, ch: string) => pre + ch.toUpperCase());
}

function builtinFuncs(): FuncMap {
  return {
    and: (...args) => {
      for (const a of args) if (!isTrue(a)) return a;
      return args[args.length - 1];
    },
    or: (...args) => {
      for (const a of args) if (isTrue(a)) return a;
      return args[args.length - 1];
    },
    not: (a) => !isTrue(a),
    len: (a) => {
      if (typeof a === "string") return Buffer.byteLength(a);
      if (Array.isArray(a)) return a.length;
      if (a && typeof a === "object") return Object.keys(a).length;
      throw new Error(`len of type ${goTypeName(a)}`);
    },
    index: (item, ...keys) => {
      let cur = item;
      for (const k of keys) {
        if (cur === null || cur === undefined) throw new Error(`index of untyped nil`);
        if (Array.isArray(cur) || typeof cur === "string") {
          // Go's indexArg: a slice or string takes an integer index only.
          if (typeof k !== "number" && typeof k !== "bigint") throw new Error(`error calling index: cannot index slice/array with type ${goTypeName(k)}`);
          const n = Number(k);
          const len = Array.isArray(cur) ? cur.length : Buffer.byteLength(cur);
          if (!Number.isInteger(n) || n < 0 || n >= len) throw new Error(`error calling index: index out of range: ${formatValue(k)}`);
          cur = Array.isArray(cur) ? cur[n] : Buffer.from(cur)[n];
        } else if (typeof cur === "object") {
          const obj = cur as Record<string, unknown>;
          if (Object.prototype.hasOwnProperty.call(obj, String(k))) cur = obj[String(k)];
          else {
            // A missing key gives the map's zero value: "" for Docker's string maps (labels, options).
            const values = Object.values(obj);
            cur = values.every((x) => typeof x === "string") ? "" : undefined;
          }
        } else {
          throw new Error(`can't index item of type ${goTypeName(cur)}`);
        }
      }
      return cur;
    },
    slice: (item, ...idx) => {
      const nums = idx.map(Number);
      if (typeof item === "string") return item.slice(nums[0] ?? 0, nums[1]);
      if (Array.isArray(item)) return item.slice(nums[0] ?? 0, nums[1]);
      throw new Error(`can't slice item of type ${goTypeName(item)}`);
    },
    print: (...args) => sprint(args),
    println: (...args) => args.map((a) => formatValue(a)).join(" ") + "\n",
    printf: (fmt, ...args) => sprintf(String(fmt), ...args),
    eq: (a, ...bs) => {
      if (bs.length === 0) throw new Error("missing argument for comparison");
      return bs.some((b) => compareBasic(a, b, "eq") === 0);
    },
    ne: (a, b) => compareBasic(a, b, "ne") !== 0,
    lt: (a, b) => compareBasic(a, b, "lt") < 0,
    le: (a, b) => compareBasic(a, b, "le") <= 0,
    gt: (a, b) => compareBasic(a, b, "gt") > 0,
    ge: (a, b) => compareBasic(a, b, "ge") >= 0,
    html: (...args) => sprint(args).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
    js: (...args) => sprint(args).replace(/[\\'"<>&=]/g, (c) => `\\u00${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`),
    urlquery: (...args) => encodeURIComponent(sprint(args)).replace(/%20/g, "+"),
    call: (fn, ...args) => {
      if (typeof fn !== "function") throw new Error(`non-function of type ${goTypeName(fn)}`);
      return (fn as TemplateFunc)(...args);
    },
  };
}

/** Docker's template functions (cli/templates). */
export function dockerFuncs(): FuncMap {
  return {
    json: (v) => goJSON(v, typeof v === "object" && v !== null && JSON_ESCAPE_HTML in v),
    split: (s, sep) => String(s).split(String(sep)),
    join: (arr, sep) => {
      if (!Array.isArray(arr)) throw new Error(`wrong type for value; expected []string; got ${goTypeName(arr)}`);
      return arr.map((e) => formatValue(e)).join(String(sep));
    },
    title: (s) => goTitle(String(s)),
    lower: (s) => String(s).toLowerCase(),
    upper: (s) => String(s).toUpperCase(),
    pad: (s, prefix, suffix) => {
      const str = String(s);
      return str === "" ? str : " ".repeat(Number(prefix)) + str + " ".repeat(Number(suffix));
    },
    truncate: (s, length) => {
      const str = String(s);
      const n = Number(length);
      return str.length < n ? str : str.slice(0, n);
    },
  };
}

/** The functions as they apply to a table header: each passes its first argument through. */
export function headerFuncs(): FuncMap {
  const passthrough: TemplateFunc = (v) => v;
  return { json: passthrough, split: passthrough, join: passthrough, title: passthrough, lower: passthrough, upper: passthrough, pad: passthrough, truncate: passthrough };
}

// ---------------------------------------------------------------- executor

class BreakSignal {}
class ContinueSignal {}

interface Scope {
  vars: Map<string, unknown>;
  parent: Scope | null;
}

export interface ExecuteOptions {
  /** "error" (Docker's inspect fallback): a missing key in a struct-like map is an error. */
  missingKey?: "default" | "error";
}

export class Template {
  private readonly nodes: Node[];
  private readonly funcs: FuncMap;
  readonly source: string;

  /** `name` is the template's name in Go's errors ("template: version:1: …", `executing "version"`). */
  constructor(
    source: string,
    funcs: FuncMap = {},
    readonly name = "",
  ) {
    this.source = source;
    this.funcs = { ...builtinFuncs(), ...dockerFuncs(), ...funcs };
    try {
      this.nodes = new Parser(lex(source), source, this.funcs).parseAll();
    } catch (err) {
      throw this.named(err);
    }
  }

  private named(err: unknown): unknown {
    if (!this.name || !(err instanceof TemplateError)) return err;
    return new TemplateError(err.message.replace(/^template: :/, `template: ${this.name}:`).replace(/executing ""/, `executing ${JSON.stringify(this.name)}`));
  }

  /** Run with other functions under the same names (headers use passthroughs). */
  execute(data: unknown, options: ExecuteOptions = {}, funcs?: FuncMap): string {
    try {
      return this.run(data, options, funcs);
    } catch (err) {
      throw this.named(err);
    }
  }

  private run(data: unknown, options: ExecuteOptions, funcs?: FuncMap): string {
    const saved = { ...this.funcs };
    if (funcs) Object.assign(this.funcs, funcs);
    try {
      const out: string[] = [];
      const scope: Scope = { vars: new Map([["$", data]]), parent: null };
      this.walk(this.nodes, data, scope, out, options);
      return out.join("");
    } finally {
      if (funcs) {
        for (const k of Object.keys(this.funcs)) delete this.funcs[k];
        Object.assign(this.funcs, saved);
      }
    }
  }

  private walk(nodes: Node[], dot: unknown, scope: Scope, out: string[], opts: ExecuteOptions): void {
    for (const node of nodes) {
      switch (node.t) {
        case "text":
          out.push(node.text);
          break;
        case "action": {
          const v = this.evalPipeline(node.pipe, dot, scope, opts);
          if (node.pipe.decl.length === 0) out.push(formatValue(v));
          break;
        }
        case "if":
        case "with": {
          const inner: Scope = { vars: new Map(), parent: scope };
          const v = this.evalPipeline(node.pipe, dot, inner, opts);
          if (isTrue(v)) this.walk(node.list, node.t === "with" ? v : dot, inner, out, opts);
          else if (node.elseList) this.walk(node.elseList, dot, inner, out, opts);
          break;
        }
        case "range":
          this.walkRange(node, dot, scope, out, opts);
          break;
        case "break":
          throw new BreakSignal();
        case "continue":
          throw new ContinueSignal();
      }
    }
  }

  private walkRange(node: Extract<Node, { t: "range" }>, dot: unknown, scope: Scope, out: string[], opts: ExecuteOptions): void {
    const pipe = node.pipe;
    const value = this.evalPipeline({ ...pipe, decl: [] }, dot, scope, opts);
    let entries: Array<[unknown, unknown]>;
    if (value === null || value === undefined) entries = [];
    else if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (typeof value === "number" && Number.isInteger(value)) entries = Array.from({ length: Math.max(0, value) }, (_, i) => [i, i]);
    else if (typeof value === "object") {
      entries = Object.keys(value as object)
        .sort()
        .map((k) => [k, (value as Record<string, unknown>)[k]]);
    } else {
      const last = pipe.cmds[pipe.cmds.length - 1];
      throw this.execError(last?.pos ?? pipe.pos, last ? commandText(last) : "range", `range can't iterate over ${formatValue(value)}`);
    }
    if (entries.length === 0) {
      if (node.elseList) this.walk(node.elseList, dot, scope, out, opts);
      return;
    }
    for (const [k, v] of entries) {
      const inner: Scope = { vars: new Map(), parent: scope };
      if (pipe.decl.length === 1) inner.vars.set(pipe.decl[0]!, v);
      else if (pipe.decl.length === 2) {
        inner.vars.set(pipe.decl[0]!, k);
        inner.vars.set(pipe.decl[1]!, v);
      }
      try {
        this.walk(node.list, v, inner, out, opts);
      } catch (e) {
        if (e instanceof BreakSignal) break;
        if (e instanceof ContinueSignal) continue;
        throw e;
      }
    }
  }

  private execError(pos: number, at: string, msg: string): TemplateError {
    const before = this.source.slice(0, pos);
    const line = before.split("\n").length;
    const col = pos - (before.lastIndexOf("\n") + 1);
    return new TemplateError(`template: :${line}:${col}: executing "" at <${at}>: ${msg}`);
  }

  private evalPipeline(pipe: Pipeline, dot: unknown, scope: Scope, opts: ExecuteOptions): unknown {
    let value: unknown = undefined;
    let hasValue = false;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(cmd, dot, scope, opts, hasValue ? [value] : []);
      hasValue = true;
    }
    if (pipe.decl.length > 0) {
      if (pipe.assign) {
        const name = pipe.decl[0]!;
        let s: Scope | null = scope;
        while (s && !s.vars.has(name)) s = s.parent;
        if (!s) throw this.execError(pipe.pos, name, `undefined variable: ${name}`);
        s.vars.set(name, value);
      } else {
        scope.vars.set(pipe.decl[pipe.decl.length - 1]!, value);
      }
    }
    return value;
  }

  private evalCommand(cmd: Command, dot: unknown, scope: Scope, opts: ExecuteOptions, piped: unknown[]): unknown {
    const [first, ...rest] = cmd.args;
    if (!first) throw this.execError(cmd.pos, "", "empty command");
    if (first.t === "ident") {
      const fn = this.funcs[first.name]!;
      const args = [...rest.map((a) => this.evalArg(a, dot, scope, opts)), ...piped];
      try {
        return fn(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        const msg = (e as Error).message;
        // Go names the whole command (`index .Labels "x"`) where a function call fails.
        throw this.execError(cmd.pos, commandText(cmd), msg.startsWith("error calling") ? msg : `error calling ${first.name}: ${msg}`);
      }
    }
    if (first.t === "field" || first.t === "var" || first.t === "pipe") {
      const args = [...rest.map((a) => this.evalArg(a, dot, scope, opts)), ...piped];
      return this.evalArg(first, dot, scope, opts, args);
    }
    if (rest.length > 0 || piped.length > 0) {
      throw this.execError(cmd.pos, argText(first), `can't give argument to non-function ${argText(first)}`);
    }
    return this.evalArg(first, dot, scope, opts);
  }

  private evalArg(arg: Arg, dot: unknown, scope: Scope, opts: ExecuteOptions, callArgs: unknown[] = []): unknown {
    switch (arg.t) {
      case "dot":
        return dot;
      case "string":
        return arg.value;
      case "number":
        return arg.value;
      case "bool":
        return arg.value;
      case "nil":
        return null;
      case "ident": {
        const fn = this.funcs[arg.name]!;
        return fn();
      }
      case "field":
        return this.evalFields(dot, arg.names, arg.text, arg.pos, opts, callArgs);
      case "var": {
        let s: Scope | null = scope;
        while (s && !s.vars.has(arg.name)) s = s.parent;
        if (!s) throw this.execError(arg.pos, arg.name, `undefined variable: ${arg.name}`);
        const base = s.vars.get(arg.name);
        return arg.names.length ? this.evalFields(base, arg.names, arg.text, arg.pos, opts, callArgs) : base;
      }
      case "pipe": {
        const base = this.evalPipeline(arg.pipe, dot, scope, opts);
        return arg.names.length ? this.evalFields(base, arg.names, arg.text, arg.pos, opts, callArgs) : base;
      }
    }
  }

  private evalFields(receiver: unknown, names: string[], text: string, pos: number, opts: ExecuteOptions, callArgs: unknown[]): unknown {
    let cur = receiver;
    names.forEach((name, i) => {
      const last = i === names.length - 1;
      if (cur === undefined) {
        cur = undefined;
        return;
      }
      if (cur === null) throw this.execError(pos, text, `nil pointer evaluating interface {}.${name}`);
      if (typeof cur !== "object") {
        throw this.execError(pos, text, `can't evaluate field ${name} in type ${goTypeName(cur)}`);
      }
      const obj = cur as Record<string, unknown>;
      const isStruct = GO_TYPE in obj;
      const present = Object.prototype.hasOwnProperty.call(obj, name);
      if (!present) {
        if (isStruct) throw this.execError(pos, text, `can't evaluate field ${name} in type ${goTypeName(obj)}`);
        if (Array.isArray(obj)) throw this.execError(pos, text, `can't evaluate field ${name} in type []interface {}`);
        if (opts.missingKey === "error" && looksLikeStruct(obj)) {
          throw this.execError(pos, text, `map has no entry for key "${name}"`);
        }
        cur = undefined;
        return;
      }
      const v = obj[name];
      if (typeof v === "function") {
        const args = last ? callArgs : [];
        try {
          cur = (v as TemplateFunc).apply(obj, args);
        } catch (e) {
          throw this.execError(pos, text, `error calling ${name}: ${(e as Error).message}`);
        }
        if (last) callArgs = [];
        return;
      }
      cur = v;
    });
    if (callArgs.length > 0) {
      throw this.execError(pos, text, `${text} has arguments but cannot be invoked as function`);
    }
    return cur;
  }
}

/** A command as Go's parse.CommandNode prints it: its operands joined by spaces. */
function commandText(cmd: Command): string {
  return cmd.args.map(argText).join(" ");
}

function argText(a: Arg): string {
  switch (a.t) {
    case "string":
      return JSON.stringify(a.value);
    case "number":
      return a.text;
    case "bool":
      return String(a.value);
    case "nil":
      return "nil";
    case "dot":
      return ".";
    case "ident":
      return a.name;
    default:
      return a.text;
  }
}

/** Parse and run in one go. */
export function renderTemplate(source: string, data: unknown, options?: ExecuteOptions): string {
  return new Template(source).execute(data, options);
}
