// Go's fmt verbs as the classic builder uses them in history comments (`CMD %q`,
// `HEALTHCHECK %q`) and Go durations.

import { invalidParameter } from "../errdefs/index.js";

/** strconv.Quote */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (cp === 7) out += "\\a";
    else if (cp === 8) out += "\\b";
    else if (cp === 12) out += "\\f";
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp === 11) out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/** %q of a []string: ["a" "b"] */
export function goQuoteSlice(v: readonly string[] | null | undefined): string {
  return `[${(v ?? []).map(goQuote).join(" ")}]`;
}

/** %q of an int: a quoted rune literal. */
export function goQuoteRune(n: number): string {
  if (n === 39) return "'\\''";
  if (n === 92) return "'\\\\'";
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v" };
  if (named[n]) return `'${named[n]}'`;
  if (n < 0x20 || n === 0x7f) return `'\\x${n.toString(16).padStart(2, "0")}'`;
  if (n > 0x10ffff || n < 0) return "'\\ufffd'";
  return `'${String.fromCodePoint(n)}'`;
}

// time.Duration.String lives in lib (the health checks print durations too).
export { goDuration } from "../lib/index.js";

/** time.ParseDuration → nanoseconds. */
export function parseGoDuration(s: string): number {
  const orig = s;
  if (s === "0") return 0;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "") throw invalidParameter(`time: invalid duration ${goQuote(orig)}`);
  const units: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) throw invalidParameter(`time: invalid duration ${goQuote(orig)}`);
    total += Number(m[1]) * units[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return Math.round(neg ? -total : total);
}
