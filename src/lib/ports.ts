/**
 * Docker's nat.ParsePortRange: "80" or "8000-8010". Each caller words its own error (they
 * differ by command in Docker), so this says only why a value is not a range.
 */
export type PortRange = { start: number; end: number } | { error: "syntax" | "out of range" | "order" };

export function parsePortRange(s: string): PortRange {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return { error: "syntax" };
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start > 65535 || end > 65535) return { error: "out of range" };
  if (end < start) return { error: "order" };
  return { start, end };
}
