import { createRequire } from "node:module";
import * as path from "node:path";

// tar-stream decodes every PAX record value as UTF-8 and encodes it back the same way. That is
// lossy for xattr values, which are bytes: `security.capability` (file capabilities, e.g. ping's
// cap_net_raw in Debian images) would come out corrupted. Go's archive/tar, which wrote the
// layers we read, keeps them byte-exact. So we replace tar-stream's two PAX codec functions with
// byte-exact ones, in which `SCHILY.xattr.*` values are "binary strings" (latin1: one char per
// byte); every other record stays UTF-8 as before. Readers turn a value into bytes with
// Buffer.from(v, "latin1"), writers do the reverse with buf.toString("latin1").
//
// Pier's own tar reader (tar-reader.ts) calls decodePax directly. For the tar-stream users
// left (the writers, the builder's context and `docker cp`), extract.js and pack.js call these
// through the shared `headers` module object,
// so replacing its exports is enough; the module is not in the package's "exports" map, hence
// the resolved path. Other tar-stream users in the process only gain from the change.

export const XATTR_PREFIX = "SCHILY.xattr.";

export function xattrToPax(value: Buffer): string {
  return value.toString("latin1");
}

export function paxToXattr(value: string): Buffer {
  return Buffer.from(value, "latin1");
}

export function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  while (buf.length > 0) {
    const sp = buf.indexOf(0x20);
    if (sp <= 0) break;
    const len = parseInt(buf.subarray(0, sp).toString("latin1"), 10);
    if (!len || len > buf.length || len <= sp + 1) break;
    const record = buf.subarray(sp + 1, len - 1); // "key=value" without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq === -1) break;
    const key = record.subarray(0, eq).toString("utf8");
    const value = record.subarray(eq + 1);
    result[key] = key.startsWith(XATTR_PREFIX) ? value.toString("latin1") : value.toString("utf8");
    buf = buf.subarray(len);
  }
  return result;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), value, Buffer.from("\n")]);
  // The length prefix counts itself: add its digits, one more if that rolls over a power of ten.
  let digits = String(body.length).length;
  if (String(body.length + digits).length > digits) digits++;
  return Buffer.concat([Buffer.from(String(body.length + digits)), body]);
}

function encodePax(opts: { name?: string; linkname?: string; pax?: Record<string, string> | null }): Buffer {
  const records: Buffer[] = [];
  if (opts.name) records.push(paxRecord("path", Buffer.from(opts.name, "utf8")));
  if (opts.linkname) records.push(paxRecord("linkpath", Buffer.from(opts.linkname, "utf8")));
  for (const [key, value] of Object.entries(opts.pax ?? {})) {
    if (key === "path" || key === "linkpath") continue; // taken from name/linkname above
    records.push(paxRecord(key, key.startsWith(XATTR_PREFIX) ? paxToXattr(value) : Buffer.from(String(value), "utf8")));
  }
  return Buffer.concat(records);
}

let loaded: typeof import("tar-stream") | undefined;

/**
 * tar-stream, loaded on first use with the PAX patch applied. Loading it costs ~6 MiB of
 * RSS, which an idle pierd (a benchmark target) should not pay before it handles a tar.
 */
export function tarStream(): typeof import("tar-stream") {
  if (!loaded) {
    loaded = createRequire(import.meta.url)("tar-stream") as typeof import("tar-stream");
    patchTarStreamPax();
  }
  return loaded;
}

let patched = false;
export function patchTarStreamPax(): void {
  if (patched) return;
  const require = createRequire(import.meta.url);
  const headers = require(path.join(path.dirname(require.resolve("tar-stream")), "headers.js")) as {
    decodePax: typeof decodePax;
    encodePax: typeof encodePax;
  };
  headers.decodePax = decodePax;
  headers.encodePax = encodePax;
  patched = true;
}
