/** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints UTC times. */
export function rfc3339Nano(ms: number, extraNanos = 0): string {
  // ms may carry a fraction (file mtimes do); the fraction becomes nanoseconds.
  const whole = Math.floor(ms);
  const base = new Date(whole).toISOString().slice(0, 19);
  const nanos = (whole % 1000) * 1_000_000 + Math.round((ms - whole) * 1_000_000) + extraNanos;
  if (nanos === 0) return `${base}Z`;
  const frac = String(nanos).padStart(9, "0").replace(/0+$/, "");
  return `${base}.${frac}Z`;
}

/** Go's zero time, which Docker prints for times that never happened. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

// Docker records times with nanoseconds (Go's time.Now()). Date.now() has milliseconds only, so
// the wall clock is read once and advanced with the monotonic high-resolution clock: times are
// then ordered exactly as events happened, which `ps` sorting, before/since filters and event
// windows rely on.
const BASE_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Nanoseconds since the Unix epoch, strictly increasing within this process. */
export function nowNs(): bigint {
  return BASE_NS + process.hrtime.bigint();
}

/** Parse an RFC 3339 time with any number of fraction digits to nanoseconds (0n if unreadable). */
export function parseRFC3339Ns(s: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) {
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? 0n : BigInt(ms) * 1_000_000n;
  }
  const secMs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secMs)) return 0n;
  const frac = (m[2] ?? "").slice(0, 9).padEnd(9, "0");
  return BigInt(secMs) * 1_000_000n + BigInt(frac);
}

/**
 * A Docker timestamp argument to nanoseconds, exactly: unix seconds with a fraction of up to
 * nine digits (what the CLI sends), RFC 3339 with nanoseconds, or what parseTimestamp reads.
 */
export function parseTimestampNs(value: string, nowMs = Date.now()): bigint | undefined {
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(value);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? "").padEnd(9, "0"));
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)) return parseRFC3339Ns(value);
  const ms = parseTimestamp(value, nowMs);
  return ms === undefined ? undefined : BigInt(Math.round(ms * 1000)) * 1000n;
}

/** Parse a Docker-style timestamp argument: unix seconds with fraction, RFC 3339, or a duration ago. */
export function parseTimestamp(value: string, nowMs = Date.now()): number | undefined {
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const dur = parseGoDuration(value);
  if (dur !== undefined) return nowMs - dur;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go duration strings such as "1h30m", "10s", "1.5s" → milliseconds. */
export function parseGoDuration(value: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === value.length && matched > 0 ? total : undefined;
}

/** Docker's "Up 3 seconds" / "2 hours ago" wording (go-units HumanDuration). */
export function humanDuration(ms: number): string {
  // go-units truncates seconds and minutes, and rounds hours.
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(ms / 60_000);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3_600_000);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(Math.floor(ms / 3_600_000) / 24 / 365)} years`;
}

/** time.Duration.String for nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return "0s";
  const neg = ns < 0;
  let u = Math.abs(ns);
  let s: string;
  if (u < 1e9) {
    if (u < 1e3) s = `${u}ns`;
    else if (u < 1e6) s = `${trimFrac(u / 1e3)}µs`;
    else s = `${trimFrac(u / 1e6)}ms`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const sec = trimFrac(u / 1e9);
    s = h > 0 ? `${h}h${m}m${sec}s` : m > 0 ? `${m}m${sec}s` : `${sec}s`;
  }
  return neg ? `-${s}` : s;
}

function trimFrac(x: number): string {
  return String(Number(x.toFixed(9)));
}
