import { invalidParameter } from "../errdefs/index.js";
import { parseTimestamp } from "../lib/index.js";

/** Go's path.Match: `*` and `?` never match "/", `[...]` classes, `\\` escapes. */
export function goPathMatch(pattern: string, name: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      i++;
      if (i >= pattern.length) throw invalidParameter("syntax error in pattern");
      re += escapeRe(pattern[i]!);
    } else if (c === "[") {
      let j = i + 1;
      let cls = "";
      if (pattern[j] === "^") {
        cls += "^";
        j++;
      }
      let first = true;
      for (;;) {
        if (j >= pattern.length) throw invalidParameter("syntax error in pattern");
        const d = pattern[j]!;
        if (d === "]" && !first) break;
        first = false;
        if (d === "\\") {
          j++;
          if (j >= pattern.length) throw invalidParameter("syntax error in pattern");
          cls += escapeRe(pattern[j]!);
        } else if (d === "-") cls += "-";
        else cls += escapeRe(d);
        j++;
      }
      if (cls === "" || cls === "^") throw invalidParameter("syntax error in pattern");
      // A class never matches "/" in Go's path.Match.
      re += cls.startsWith("^") ? `[${cls}/]` : `(?![/])[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  return new RegExp(re + "$", "s").test(name);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Seconds since the epoch of an RFC 3339 time (any fraction length); undefined if none. */
export function unixSeconds(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(t);
  if (!m) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  }
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** Milliseconds (with sub-ms precision lost) of an RFC 3339 time. */
export function timeMs(t: string | undefined): number | undefined {
  const s = unixSeconds(t);
  if (s === undefined) return undefined;
  const frac = /\.(\d+)/.exec(t!.slice(19, 40))?.[1] ?? "";
  return s * 1000 + Number((frac + "000").slice(0, 3));
}

/** Docker's filter boolean: true/1, false/0 (case-insensitive). */
export function filterBool(name: string, values: string[]): boolean | undefined {
  if (values.length === 0) return undefined;
  let result: boolean | undefined;
  for (const v of values) {
    const l = v.toLowerCase();
    if (l === "true" || l === "1") result = true;
    else if (l === "false" || l === "0") result = false;
    else throw invalidParameter(`invalid filter '${name}=${v}'`);
  }
  return result;
}

/** `label` filters: "key" or "key=value"; all must match. */
export function matchKVList(values: string[] | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!values || values.length === 0) return true;
  const l = labels ?? {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq < 0) {
      if (!(v in l)) return false;
    } else if (l[v.slice(0, eq)] !== v.slice(eq + 1)) return false;
  }
  return true;
}

/** `until` filter as milliseconds since the epoch. */
export function parseUntil(values: string[] | undefined, nowMs = Date.now()): number | undefined {
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw invalidParameter("more than one until filter specified");
  const t = parseTimestamp(values[0]!, nowMs);
  if (t === undefined) throw invalidParameter(`invalid filter 'until=${values[0]}'`);
  return t;
}

export function validateFilters(filters: Record<string, string[]> | undefined, accepted: string[]): Record<string, string[]> {
  const f = filters ?? {};
  for (const k of Object.keys(f)) {
    if (!accepted.includes(k)) throw invalidParameter(`invalid filter '${k}'`);
  }
  return f;
}

/** True when API version a < b ("1.44" < "1.45"). */
export function versionLess(a: string, b: string): boolean {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** go-units HumanSize: 4 significant digits, decimal units. */
export function humanSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** The `progress` string of Docker's JSON progress messages. */
export function progressString(current: number, total: number): string {
  let bar = "";
  if (total > 0) {
    const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
    bar = `[${"=".repeat(pct)}>${" ".repeat(Math.max(0, 50 - pct))}] `;
  }
  const cur = humanSize(current).padStart(8);
  return total > 0 ? `${bar}${cur}/${humanSize(total)}` : cur;
}
