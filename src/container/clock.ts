import { nowNs, parseRFC3339Ns, rfc3339Nano } from "../lib/index.js";

// Docker records times with nanoseconds (Go's time.Now()): lib's nowNs() reads the wall clock
// once and advances it with the monotonic clock, so times are ordered exactly as events happened.
export { nowNs, parseRFC3339Ns };

/** RFC 3339 with up to nine fraction digits (trailing zeros trimmed), as Go's RFC3339Nano. */
export function rfc3339FromNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return rfc3339Nano(ms, Number(ns % 1_000_000n));
}

/** The current time in Docker's RFC3339Nano form. */
export function nowRFC3339(): string {
  return rfc3339FromNs(nowNs());
}
