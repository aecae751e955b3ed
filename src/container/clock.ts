import { rfc3339Nano } from "../lib/index.js";

// Docker records times with nanoseconds (Go's time.Now()). Date.now() has milliseconds only, so
// the wall clock is read once and advanced with the monotonic high-resolution clock: times are
// then ordered exactly as events happened, which `ps` sorting and before/since filters rely on.
const BASE_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Nanoseconds since the Unix epoch, strictly increasing within this process. */
export function nowNs(): bigint {
  return BASE_NS + process.hrtime.bigint();
}

/** RFC 3339 with up to nine fraction digits (trailing zeros trimmed), as Go's RFC3339Nano. */
export function rfc3339FromNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return rfc3339Nano(ms, Number(ns % 1_000_000n));
}

/** The current time in Docker's RFC3339Nano form. */
export function nowRFC3339(): string {
  return rfc3339FromNs(nowNs());
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
