import { randomBytes } from "node:crypto";

/** A 64-hex-digit random ID, as Docker gives containers, volumes and execs. */
export function newID(): string {
  for (;;) {
    const id = randomBytes(32).toString("hex");
    // Docker avoids IDs that are all digits in their short form: they read as numbers.
    if (!/^\d{12}$/.test(id.slice(0, 12))) return id;
  }
}

export const shortID = (id: string) => stripDigestPrefix(id).slice(0, 12);

export function stripDigestPrefix(id: string): string {
  return id.startsWith("sha256:") ? id.slice(7) : id;
}
