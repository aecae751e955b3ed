// A small, deterministic tar writer (ustar, with PAX records when a name or size does not
// fit). Used for docker-archive output (save) and for images made offline (busybox): the
// same input always gives the same bytes, which keeps image IDs stable.

export interface TarEntry {
  name: string;
  type: "file" | "directory" | "symlink" | "link";
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds since the epoch. */
  mtime?: number;
  size?: number;
  linkname?: string;
}

export type TarBody = Uint8Array | (() => AsyncIterable<Uint8Array>);

const TYPEFLAG: Record<TarEntry["type"], string> = { file: "0", link: "1", symlink: "2", directory: "5" };
const MAX_OCTAL_SIZE = 0o77777777777;

function writeString(buf: Buffer, off: number, len: number, s: string): boolean {
  const b = Buffer.from(s, "utf8");
  if (b.length > len) return false;
  b.copy(buf, off);
  return true;
}

function writeOctal(buf: Buffer, off: number, len: number, n: number): void {
  const s = Math.trunc(n).toString(8).padStart(len - 1, "0");
  buf.write(s + "\0", off, len, "ascii");
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  // The length prefix counts its own digits.
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, "utf8");
}

function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: "", name };
  // Split at a "/" so that prefix ≤ 155 bytes and name ≤ 100 bytes.
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== "/") continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== "") return { prefix, name: rest };
  }
  return undefined;
}

function rawHeader(e: TarEntry, typeflag: string, name: string, prefix: string, linkname: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, (e.mode ?? (e.type === "directory" ? 0o755 : 0o644)) & 0o7777);
  writeOctal(h, 108, 8, e.uid ?? 0);
  writeOctal(h, 116, 8, e.gid ?? 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, Math.max(0, Math.floor(e.mtime ?? 0)));
  h.write(typeflag, 156, 1, "ascii");
  writeString(h, 157, 100, linkname);
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  writeString(h, 265, 32, e.uname ?? "");
  writeString(h, 297, 32, e.gname ?? "");
  writeOctal(h, 329, 8, 0);
  writeOctal(h, 337, 8, 0);
  writeString(h, 345, 155, prefix);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

/** The header block(s) for one entry: a PAX extended header first when needed. */
export function tarHeader(e: TarEntry): Buffer {
  let name = e.name;
  if (e.type === "directory" && !name.endsWith("/")) name += "/";
  const size = e.type === "file" ? (e.size ?? 0) : 0;
  const linkname = e.linkname ?? "";
  const pax: Buffer[] = [];
  let split = splitUstarName(name);
  if (!split) {
    pax.push(paxRecord("path", name));
    split = { prefix: "", name: name.slice(0, 99) };
  }
  let ustarLink = linkname;
  if (Buffer.byteLength(linkname) > 100) {
    pax.push(paxRecord("linkpath", linkname));
    ustarLink = linkname.slice(0, 99);
  }
  let ustarSize = size;
  if (size > MAX_OCTAL_SIZE) {
    pax.push(paxRecord("size", String(size)));
    ustarSize = 0;
  }
  const header = rawHeader(e, TYPEFLAG[e.type], split.name, split.prefix, ustarLink, ustarSize);
  if (pax.length === 0) return header;
  const body = Buffer.concat(pax);
  const paxName = `PaxHeaders.0/${split.name}`.slice(0, 99);
  const paxHeader = rawHeader({ name: paxName, type: "file", mtime: e.mtime, mode: 0o644 }, "x", paxName, "", "", body.length);
  return Buffer.concat([paxHeader, body, tarPadding(body.length), header]);
}

export function tarPadding(size: number): Buffer {
  const rem = size % 512;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(512 - rem);
}

export const TAR_END = Buffer.alloc(1024);

/**
 * Serialize entries into tar bytes. A file body is either bytes or a function returning a
 * stream that must deliver exactly `size` bytes (checked: a short or long body is an error,
 * never a corrupt archive).
 */
export async function* tarStream(
  entries: AsyncIterable<{ entry: TarEntry; body?: TarBody }> | Iterable<{ entry: TarEntry; body?: TarBody }>,
): AsyncGenerator<Buffer> {
  for await (const { entry, body } of entries) {
    if (entry.type === "file" && body instanceof Uint8Array && entry.size === undefined) entry.size = body.length;
    const size = entry.type === "file" ? (entry.size ?? 0) : 0;
    yield tarHeader(entry);
    if (entry.type !== "file") continue;
    let written = 0;
    if (body instanceof Uint8Array) {
      if (body.length !== size) throw new Error(`tar entry ${entry.name}: body is ${body.length} bytes, header says ${size}`);
      if (size > 0) yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      written = size;
    } else if (body) {
      for await (const chunk of body()) {
        written += chunk.length;
        if (written > size) throw new Error(`tar entry ${entry.name}: body longer than ${size} bytes`);
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    }
    if (written !== size) throw new Error(`tar entry ${entry.name}: body is ${written} bytes, header says ${size}`);
    const pad = tarPadding(size);
    if (pad.length) yield pad;
  }
  yield TAR_END;
}
