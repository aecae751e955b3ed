import { invalidParameter } from "../errdefs/index.js";
import { decodePax } from "./pax.js";

// Reading a tar stream, entry by entry: ustar, PAX ('x' records: path, linkpath, size, ids,
// names, mtime, xattrs), GNU ('L'/'K' long names, base-256 numbers) and old v7 headers, as
// Go's archive/tar reads them (which wrote, and in moby reads, the layers we see).
//
// Why not tar-stream: pierd reads a tar on every `docker load` and import, and its per-header
// work is what makes V8 optimise functions with TurboFan during a load (its checksum is a
// 512-step byte loop, its field decoding goes through small JS helpers per byte). The first
// TurboFan compile pages in the compiler's code (~4 MiB of RSS here, kept for the life of the
// daemon). This reader does per header what the format needs and little else: the header is
// copied into one aligned block, summed four bytes at a time, and its fields are found with
// the typed array's own (native) indexOf. It is pull-based (an async generator over the
// source's chunks), so backpressure is the consumer's pace and body chunks are views of the
// source's buffers, never copies.
//
// The reader only parses: names come back as written ("../x", "/etc/passwd"); confining
// them to a root is the consumer's job (archive/apply.ts, image/archive-reader.ts).

export type TarEntryType =
  | "file"
  | "link"
  | "symlink"
  | "character-device"
  | "block-device"
  | "directory"
  | "fifo"
  | "contiguous-file"
  | "unknown";

export interface TarHeader {
  name: string;
  type: TarEntryType;
  /** The raw typeflag character ("0", "5", "S", …), for messages about unknown types. */
  typeflag: string;
  /** Target of a link or symlink; "" when none. */
  linkname: string;
  /** Bytes of content that follow the header (0 for directories, links, devices, FIFOs). */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** The entry's PAX records (xattr values as latin1 "binary strings", see pax.ts), if any. */
  pax: Record<string, string> | null;
}

/** One entry: its header, and its content as an async iterable of chunks (read it or not). */
export interface TarEntry extends AsyncIterable<Buffer> {
  readonly header: TarHeader;
}

const BLOCK = 512;
/** Bigger PAX or GNU long-name records are refused, like Go's archive/tar (maxSpecialFileSize). */
const MAX_SPECIAL = 1 << 20;

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
  "7": "contiguous-file",
};
/** Types whose size field says nothing about what follows: no content is read for them (Go's isHeaderOnlyType). */
const HEADER_ONLY = new Set<TarEntryType>(["link", "symlink", "character-device", "block-device", "directory", "fifo"]);

// The header being parsed is copied into this block: its own ArrayBuffer, so the 32-bit view
// is aligned whatever the source chunk's offset. Parsing a header is synchronous from copy to
// result, so one block serves every reader in the process.
const block = new Uint8Array(BLOCK);
const words = new Int32Array(block.buffer);
const blockBuf = Buffer.from(block.buffer, 0, BLOCK);

/**
 * The header checksum as tar defines it: the sum of the 512 bytes as unsigned values, with the
 * checksum field (148..155) counted as spaces. Four bytes per step: of each 32-bit word, the
 * even bytes are added into `even` as two 16-bit lanes and the odd ones into `odd`. Over 64
 * words a lane stays below 2^30 (64·255·65537), a small integer for V8, so no step allocates;
 * hence two halves. This runs once per entry of every layer: its bytecode per step is what
 * decides whether V8 ever compiles it with TurboFan (see the top of the file).
 */
function unsignedSum(w: Int32Array, b: Uint8Array): number {
  const lanes = 0xff00ff; // in a register: as a literal, each use is a 10-byte instruction
  let sum = 0;
  for (let half = 0; half < 128; half += 64) {
    let even = 0;
    let odd = 0;
    for (let i = half; i < half + 64; i++) {
      const x = w[i]!;
      even += x & lanes;
      odd += (x >>> 8) & lanes;
    }
    sum += (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16);
  }
  return sum - b[148]! - b[149]! - b[150]! - b[151]! - b[152]! - b[153]! - b[154]! - b[155]! + 8 * 0x20;
}

/** The same sum with bytes taken as signed, which some old tars wrote (Go accepts both). */
function signedSum(): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += (block[i]! << 24) >> 24;
  return sum + 8 * 0x20;
}

function headerError(what: string): Error {
  return invalidParameter(`invalid tar header: ${what}`);
}

/** A NUL-terminated string field (UTF-8, as Go takes names: bytes as they are). */
function str(off: number, len: number): string {
  let end = block.indexOf(0, off);
  if (end < 0 || end > off + len) end = off + len;
  return end === off ? "" : blockBuf.toString("utf8", off, end);
}

/**
 * A numeric field: octal digits, optionally padded with spaces or NULs on either side (as
 * every tar writes them), or GNU base-256 (first byte with the high bit set; two's complement
 * when the next bit is set too), which Go and GNU tar use for sizes ≥ 8 GiB and large ids.
 */
function num(off: number, len: number, field: string): number {
  const end = off + len;
  if (block[off]! & 0x80) {
    const neg = (block[off]! & 0x40) !== 0;
    const inv = neg ? 0xff : 0;
    let x = (block[off]! ^ inv) & 0x7f;
    for (let i = off + 1; i < end; i++) {
      x = x * 256 + (block[i]! ^ inv);
      if (x > Number.MAX_SAFE_INTEGER) throw headerError(`${field} is too large`);
    }
    return neg ? -x - 1 : x;
  }
  let i = off;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  let x = 0;
  for (; i < end; i++) {
    const d = block[i]! - 0x30;
    if (d < 0 || d > 7) break;
    x = x * 8 + d;
  }
  for (; i < end; i++) if (block[i] !== 0x20 && block[i] !== 0) throw headerError(`${field} is not an octal number`);
  return x;
}

function isZeroBlock(): boolean {
  for (let i = 0; i < BLOCK / 4; i++) if (words[i] !== 0) return false;
  return true;
}

type Format = "ustar" | "gnu" | "v7";

/** The header's format, by its magic, as Go tells them apart: anything else is an old v7 header. */
function format(): Format {
  if (block[257] !== 0x75 || block[258] !== 0x73 || block[259] !== 0x74 || block[260] !== 0x61 || block[261] !== 0x72) return "v7";
  if (block[262] === 0) return "ustar"; // "ustar\0" (version "00")
  // "ustar " + " \0": GNU, whose prefix area holds other fields (atime, ctime, sparse maps).
  if (block[262] === 0x20 && block[263] === 0x20 && block[264] === 0) return "gnu";
  return "v7";
}

/** Parse the header in `block`, whose checksum was already verified. */
function parseHeader(): TarHeader {
  const fmt = format();
  const flag = String.fromCharCode(block[156]!);
  let name = str(0, 100);
  if (fmt === "ustar" && block[345] !== 0) name = `${str(345, 155)}/${name}`;
  let type: TarEntryType = TYPES[flag] ?? "unknown";
  // Before typeflags, a trailing slash was how a directory was told apart (Go does the same).
  if (flag === "\0" && name.endsWith("/")) type = "directory";
  return {
    name,
    type,
    typeflag: flag,
    linkname: str(157, 100),
    size: num(124, 12, "size"),
    mode: num(100, 8, "mode"),
    uid: num(108, 8, "uid"),
    gid: num(116, 8, "gid"),
    mtime: new Date(num(136, 12, "mtime") * 1000),
    uname: fmt === "v7" ? "" : str(265, 32),
    gname: fmt === "v7" ? "" : str(297, 32),
    devmajor: fmt === "v7" ? 0 : num(329, 8, "devmajor"),
    devminor: fmt === "v7" ? 0 : num(337, 8, "devminor"),
    pax: null,
  };
}

function paxInt(value: string, key: string): number {
  if (!/^-?[0-9]+$/.test(value)) throw headerError(`PAX record ${key}=${JSON.stringify(value)} is not an integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw headerError(`PAX record ${key} is too large`);
  return n;
}

/** PAX records override the header's fields (as Go's mergePAX); xattrs stay in `pax`. */
function mergePax(h: TarHeader, pax: Record<string, string>): void {
  for (const [key, value] of Object.entries(pax)) {
    switch (key) {
      case "path":
        h.name = value;
        break;
      case "linkpath":
        h.linkname = value;
        break;
      case "size": {
        const n = paxInt(value, key);
        if (n < 0) throw headerError("negative size");
        h.size = n;
        break;
      }
      case "uid":
        h.uid = paxInt(value, key);
        break;
      case "gid":
        h.gid = paxInt(value, key);
        break;
      case "uname":
        h.uname = value;
        break;
      case "gname":
        h.gname = value;
        break;
      case "mtime": {
        if (!/^-?[0-9]+(\.[0-9]*)?$/.test(value)) throw headerError(`PAX record mtime=${JSON.stringify(value)} is not a time`);
        h.mtime = new Date(Math.floor(Number(value) * 1000));
        break;
      }
    }
  }
  h.pax = pax;
}

/**
 * The chunks of a source, read by exact byte counts. `chunk`/`pos` is the unread part of the
 * current chunk; `next` pulls another when it is used up.
 */
class Source {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  /** Whether unread bytes are available, pulling a chunk when needed; false at the end. */
  async more(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      const c = r.value;
      this.chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      this.pos = 0;
    }
    return true;
  }

  /**
   * The next 512 bytes into `block`. False at a clean end (no byte left); a partial block is
   * a truncated stream.
   */
  async readBlock(): Promise<boolean> {
    if (!(await this.more())) return false;
    if (this.chunk.length - this.pos >= BLOCK) {
      block.set(new Uint8Array(this.chunk.buffer, this.chunk.byteOffset + this.pos, BLOCK));
      this.pos += BLOCK;
      return true;
    }
    let have = 0;
    while (have < BLOCK) {
      if (!(await this.more())) throw truncated();
      const n = Math.min(BLOCK - have, this.chunk.length - this.pos);
      block.set(new Uint8Array(this.chunk.buffer, this.chunk.byteOffset + this.pos, n), have);
      this.pos += n;
      have += n;
    }
    return true;
  }

  /** Up to `max` (> 0) bytes, a view of the current chunk; throws at the end of the stream. */
  async take(max: number): Promise<Buffer> {
    if (!(await this.more())) throw truncated();
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.take(n)).length;
  }

  /** Exactly `n` bytes, copied (PAX and GNU long-name records). */
  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let left = n; left > 0; ) {
      const c = await this.take(left);
      parts.push(c);
      left -= c.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Read what is left, discarding it (so a hash of the stream covers it all). */
  async drain(): Promise<void> {
    while (await this.more()) this.pos = this.chunk.length;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function truncated(): Error {
  return invalidParameter("invalid tar stream: unexpected end of data (truncated archive?)");
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/**
 * The entries of a tar stream, in order. An entry's content not read by the time the next
 * entry is asked for is skipped. After the end-of-archive marker the rest of the source is
 * read and discarded (layer digests cover the zero blocks after the marker). Malformed input
 * (bad checksum, truncation, bad numbers) throws InvalidParameter.
 */
export async function* readTar(input: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry, void, undefined> {
  const src = new Source(input[Symbol.asyncIterator]());
  try {
    let pax: Record<string, string> | null = null;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      if (!(await src.readBlock())) {
        if (pax || longName !== undefined || longLink !== undefined) throw truncated();
        return; // the end of the data at an entry boundary, without a marker: as Go, the end
      }
      if (isZeroBlock()) {
        // End of archive: two zero blocks (one, then the end of the data, is accepted too).
        if ((await src.readBlock()) && !isZeroBlock()) throw headerError("a zero block followed by data");
        await src.drain();
        return;
      }
      const stored = num(148, 8, "checksum");
      if (stored !== unsignedSum(words, block) && stored !== signedSum()) {
        throw headerError("checksum mismatch (corrupt archive, or not a tar archive?)");
      }
      const h = parseHeader();
      if (h.size < 0) throw headerError("negative size");
      const flag = h.typeflag;
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (h.size > MAX_SPECIAL) throw headerError(`a ${flag} record of ${h.size} bytes is too large`);
        const data = await src.read(h.size);
        await src.skip(padding(h.size));
        if (flag === "x") pax = decodePax(data);
        else if (flag === "L" || flag === "K") {
          const nul = data.indexOf(0);
          const s = data.toString("utf8", 0, nul < 0 ? data.length : nul);
          if (flag === "L") longName = s;
          else longLink = s;
        }
        // "g" (global PAX records) is skipped, as moby's applier ignores it.
        continue;
      }
      if (pax) mergePax(h, pax);
      // GNU long names win over PAX ones, as in Go.
      if (longName !== undefined) h.name = longName;
      if (longLink !== undefined) h.linkname = longLink;
      pax = null;
      longName = longLink = undefined;

      const size = HEADER_ONLY.has(h.type) ? 0 : h.size;
      let left = size;
      let current = true;
      const entry: TarEntry = {
        header: h,
        async *[Symbol.asyncIterator]() {
          if (!current) throw new Error("tar entry content read after the next entry was asked for");
          while (left > 0) {
            const c = await src.take(left);
            left -= c.length;
            yield c;
          }
        },
      };
      yield entry;
      current = false;
      await src.skip(left + padding(size));
    }
  } finally {
    await src.close();
  }
}
