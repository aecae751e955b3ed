// Dockerfile variable substitution, as moby's shell.Lex.ProcessWord does it: quotes are
// removed, the escape token escapes, `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}`,
// `${VAR-word}`, `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}` expand (recursively in `word`);
// nothing inside single quotes expands.

import { invalidParameter } from "../errdefs/index.js";

/** Env list ("K=V" entries, later entries win) → map. */
export function envMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf("=");
    if (i < 0) m.set(e, "");
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  peek(): string | undefined {
    return this.pos < this.s.length ? this.s[this.pos] : undefined;
  }
  next(): string | undefined {
    return this.pos < this.s.length ? this.s[this.pos++] : undefined;
  }
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isNameChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

export class Lexer {
  constructor(readonly escapeToken = "\\") {}

  /** One word: quotes removed, variables expanded, no word splitting. */
  processWord(word: string, env: readonly string[] | Map<string, string>): string {
    const envs = env instanceof Map ? env : envMap(env);
    const sc = new Scanner(word);
    return this.processStopOn(sc, envs, undefined);
  }

  private processStopOn(sc: Scanner, env: Map<string, string>, stop: string | undefined): string {
    let out = "";
    for (;;) {
      const ch = sc.peek();
      if (ch === undefined) {
        if (stop !== undefined) throw invalidParameter(`unexpected end of statement while looking for matching ${stop}`);
        return out;
      }
      if (ch === stop) {
        sc.next();
        return out;
      }
      if (ch === "'") {
        out += this.singleQuote(sc);
      } else if (ch === '"') {
        out += this.doubleQuote(sc, env);
      } else if (ch === "$") {
        out += this.dollar(sc, env);
      } else {
        sc.next();
        if (ch === this.escapeToken) {
          const n = sc.next();
          if (n === undefined) break;
          out += n;
        } else out += ch;
      }
    }
    return out;
  }

  private singleQuote(sc: Scanner): string {
    sc.next();
    let out = "";
    for (;;) {
      const ch = sc.next();
      if (ch === undefined) throw invalidParameter("unexpected end of statement while looking for matching single-quote");
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuote(sc: Scanner, env: Map<string, string>): string {
    sc.next();
    let out = "";
    for (;;) {
      const ch = sc.peek();
      if (ch === undefined) throw invalidParameter("unexpected end of statement while looking for matching double-quote");
      if (ch === '"') {
        sc.next();
        return out;
      }
      if (ch === "$") {
        out += this.dollar(sc, env);
        continue;
      }
      sc.next();
      if (ch === this.escapeToken) {
        const p = sc.peek();
        if (p === undefined) continue;
        if (p === '"' || p === "$" || p === this.escapeToken) {
          out += sc.next();
          continue;
        }
      }
      out += ch;
    }
  }

  private name(sc: Scanner): string {
    let name = "";
    for (;;) {
      const ch = sc.peek();
      if (ch === undefined) return name;
      if (name === "" && isDigit(ch)) {
        while (isDigit(sc.peek())) name += sc.next();
        return name;
      }
      if (name === "" && "*#@?-$!".includes(ch)) {
        sc.next();
        return ch;
      }
      if (!isNameChar(ch)) return name;
      name += sc.next();
    }
  }

  private dollar(sc: Scanner, env: Map<string, string>): string {
    sc.next(); // $
    if (sc.peek() !== "{") {
      const name = this.name(sc);
      if (name === "") return "$";
      return env.get(name) ?? "";
    }
    sc.next(); // {
    const p = sc.peek();
    if (p === undefined) throw invalidParameter("syntax error: missing '}'");
    if (p === "{" || p === "}" || p === ":") throw invalidParameter("syntax error: bad substitution");
    const name = this.name(sc);
    const ch = sc.next();
    const value = env.get(name);
    const set = value !== undefined;
    switch (ch) {
      case "}":
        return value ?? "";
      case "-":
      case "+":
      case "?": {
        const word = this.processStopOn(sc, env, "}");
        if (ch === "-") return set ? value! : word;
        if (ch === "+") return set ? word : "";
        if (!set) throw invalidParameter(`${name}: ${word || "is not allowed to be unset"}`);
        return value!;
      }
      case ":": {
        const modifier = sc.next();
        const word = this.processStopOn(sc, env, "}");
        switch (modifier) {
          case "+":
            return value ? word : "";
          case "-":
            return value ? value : word;
          case "?":
            if (!set) throw invalidParameter(`${name}: ${word || "is not allowed to be unset"}`);
            if (value === "") throw invalidParameter(`${name}: ${word || "is not allowed to be empty"}`);
            return value!;
          default:
            throw invalidParameter(`unsupported modifier (${modifier ?? ""}) in substitution`);
        }
      }
      default:
        throw invalidParameter(`missing ':' in substitution`);
    }
  }
}
