// Docker's formatter.Context: "table" formats print a header row (the template run against the
// header names with pass-through functions) and go through the tabwriter; other formats print
// one template result per line. "json" means {{json .}}.

import { tabwrite } from "./tabwriter.js";
import { GO_TYPE, JSON_ESCAPE_HTML, Template, TemplateError, headerFuncs, type ExecuteOptions } from "./template.js";

export const TABLE_PREFIX = "table";

export const isTableFormat = (format: string) => format.startsWith(TABLE_PREFIX);

/** What every formatter's header map offers besides field names: .Label "x" → "x"'s last part. */
export function headerContext(names: Record<string, string>): Record<string, unknown> {
  return {
    ...names,
    Label: (name: unknown) => {
      const parts = String(name).split(".");
      return parts[parts.length - 1]!.replace(/[-_]/g, " ");
    },
  };
}

/** Docker's preFormat: drop the "table" prefix, trim spaces, expand literal \t and \n. */
export function preFormat(format: string): string {
  let f = isTableFormat(format) ? format.slice(TABLE_PREFIX.length) : format;
  f = f.replace(/^ +| +$/g, "");
  return f.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
}

/** Render rows with a format; `header` gives the column names for table formats. */
export function renderFormat(
  format: string,
  rows: readonly unknown[],
  header: Record<string, string>,
  options: ExecuteOptions = {},
): string {
  const f = format === "json" ? "{{json .}}" : format;
  let tmpl: Template;
  try {
    tmpl = new Template(preFormat(f));
  } catch (err) {
    throw new TemplateError(`template parsing error: ${(err as Error).message}`);
  }
  let body = "";
  try {
    for (const row of rows) body += tmpl.execute(row, options) + "\n";
  } catch (err) {
    // formatter.Context.contextFormat wraps a failed run with these words too.
    if (err instanceof TemplateError) throw new TemplateError(`template parsing error: ${err.message}`);
    throw err;
  }
  if (!isTableFormat(f)) return body;
  const head = tmpl.execute(headerContext(header), {}, headerFuncs()) + "\n";
  return tabwrite(head + body);
}

/** Docker's formatter.Ellipsis: cut to maxWidth characters, the last one "…". */
export function ellipsis(s: string, maxWidth: number): string {
  if (maxWidth <= 0) return "";
  const rs = [...s];
  if (maxWidth === 1) return rs[0] ?? "";
  if (rs.length <= maxWidth) return s;
  return rs.slice(0, maxWidth - 1).join("") + "…";
}

/** stringid.TruncateID as the CLI uses it: drop "algo:" and keep 12 characters. */
export function truncateID(id: string): string {
  const i = id.indexOf(":");
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** Go's time.Time.String() for a local time: "2024-01-02 15:04:05 +0000 UTC". */
export function goTimeString(ms: number, nanos?: string): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const offMin = -d.getTimezoneOffset();
  const sign = offMin >= 0 ? "+" : "-";
  const off = `${sign}${pad(Math.trunc(Math.abs(offMin) / 60))}${pad(Math.abs(offMin) % 60)}`;
  const digits = nanos !== undefined ? nanos.padEnd(9, "0").slice(0, 9) : pad(((ms % 1000) + 1000) % 1000, 3);
  const trimmed = digits.replace(/0+$/, "");
  const frac = trimmed ? `.${trimmed}` : "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${frac} ${off} ${zoneAbbreviation(d, offMin)}`;
}

function zoneAbbreviation(d: Date, offMin: number): string {
  const tz = process.env["TZ"];
  if (offMin === 0 && (!tz || /^(UTC|Etc\/UTC|UTC0|:?\/etc\/localtime)?$/.test(tz) || tz === "UTC")) return "UTC";
  try {
    const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(d).find((p) => p.type === "timeZoneName");
    if (part && !/^GMT[+-]/.test(part.value)) return part.value;
  } catch {
    // fall through
  }
  const sign = offMin >= 0 ? "+" : "-";
  const h = Math.trunc(Math.abs(offMin) / 60);
  const m = Math.abs(offMin) % 60;
  return `${sign}${String(h).padStart(2, "0")}${m ? String(m).padStart(2, "0") : ""}`;
}

/** Go's RFC3339Nano with fixed 9 digits in local time ("2006-01-02T15:04:05.000000000Z07:00"). */
export function rfc3339NanoFixed(ms: number, nanosWithinMs = 0): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const offMin = -d.getTimezoneOffset();
  const frac = pad(((ms % 1000) + 1000) % 1000, 3) + pad(nanosWithinMs, 6);
  const zone = offMin === 0 ? "Z" : `${offMin > 0 ? "+" : "-"}${pad(Math.trunc(Math.abs(offMin) / 60))}:${pad(Math.abs(offMin) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${frac}${zone}`;
}

/** Sorted "k=v" pairs joined by commas, as the formatters show labels. */
export function joinLabels(labels: Record<string, string> | null | undefined): string {
  if (!labels) return "";
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

/**
 * A formatter context: string fields the templates read, methods such as Label, a Go type name
 * for error messages, and Docker's JSON form (the fields, HTML-escaped like Go's json.Marshal).
 */
export function makeContext(
  typeName: string,
  fields: Record<string, unknown>,
  methods: Record<string, (...args: unknown[]) => unknown> = {},
): Record<string, unknown> {
  const ctx: Record<string, unknown> = { ...fields };
  const hidden = (key: PropertyKey, value: unknown) => Object.defineProperty(ctx, key, { value, enumerable: false });
  for (const [k, fn] of Object.entries(methods)) hidden(k, fn);
  hidden(GO_TYPE, typeName);
  hidden(JSON_ESCAPE_HTML, true);
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(fields).sort()) sorted[k] = fields[k];
  hidden("toJSON", () => sorted);
  return ctx;
}

/** Go's Time.String() for an RFC 3339 timestamp string, keeping its nanoseconds. */
export function goTimeStringFromRFC3339(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const frac = /T[^.]*\.(\d+)/.exec(value)?.[1] ?? "";
  return goTimeString(ms, frac);
}

/**
 * Run a custom format once against a sample row, as ps and stats do to learn what it uses
 * (ps's words: "failed to parse template", "failed to execute template"; stats parses with
 * the formatter's "template parsing error").
 */
export function checkFormat(format: string, sample: unknown, parseWords = "failed to parse template"): void {
  if (format === "json" || format === "") return;
  let tmpl: Template;
  try {
    tmpl = new Template(preFormat(format));
  } catch (err) {
    throw new TemplateError(`${parseWords}: ${(err as Error).message}`);
  }
  try {
    tmpl.execute(sample);
  } catch (err) {
    throw new TemplateError(`failed to execute template: ${(err as Error).message}`);
  }
}
