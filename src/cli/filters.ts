// -f/--filter key=value flags and --since/--until values, as the docker CLI sends them.

import { CliError } from "./cli-context.js";
import { parseDurationNs } from "./units.js";

export type FilterArgs = Record<string, Record<string, boolean>>;

/** opts.FilterOpt: "key=value" entries → {"key": {"value": true}}. */
export function parseFilters(values: readonly string[] | undefined, initial: FilterArgs = {}): FilterArgs {
  const out: FilterArgs = { ...initial };
  for (const v of values ?? []) {
    const eq = v.indexOf("=");
    if (eq < 0) throw new CliError(`invalid argument "${v}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const key = v.slice(0, eq).trim().toLowerCase();
    const value = v.slice(eq + 1).trim();
    (out[key] ??= {})[value] = true;
  }
  return out;
}

/** The `filters` query parameter, or undefined when there are none. */
export function filtersQuery(filters: FilterArgs): string | undefined {
  return Object.keys(filters).length ? JSON.stringify(filters) : undefined;
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/**
 * timetypes.GetTimestamp: a Go duration ("10m") counts back from now; RFC 3339 dates and
 * date-times become "seconds.nanoseconds"; a Unix timestamp passes through.
 */
export function getTimestamp(value: string, nowMs = Date.now()): string {
  if (value !== "0") {
    try {
      const ns = parseDurationNs(value);
      return String(Math.floor((nowMs - ns / 1e6) / 1000));
    } catch {
      // not a duration
    }
  }
  if (value.includes("-") || value.includes("T")) {
    const hasZone = /[zZ+]/.test(value) || (value.match(/-/g) ?? []).length === 3;
    let text = value;
    if (!value.includes("T")) text = `${value}T00:00:00`;
    const ms = Date.parse(hasZone ? text : text);
    if (Number.isNaN(ms)) throw new CliError(`parsing time ${JSON.stringify(value)}: cannot parse ${JSON.stringify(value)}`);
    const frac = /\.(\d+)/.exec(value)?.[1] ?? "";
    const nanos = Number(frac.padEnd(9, "0").slice(0, 9) || "0");
    return `${Math.floor(ms / 1000)}.${pad(nanos, 9)}`;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  throw new CliError(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
}
