import * as fs from "node:fs";
import type { Stats } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import type tar from "tar-stream";
import { lgetxattr, llistxattr } from "../sys/index.js";
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from "./apply.js";
import { XATTR_PREFIX, patchTarStreamPax, xattrToPax, tarStream } from "./pax.js";

type Header = Partial<tar.Header> & { name: string };

export interface TarOptions {
  /** Emit a "./" entry carrying the root directory's own mode, owner and mtime. Default false. */
  includeRoot?: boolean;
}

/**
 * A tar of the tree at `dir`, deterministic: names sorted, parents before children, mtimes in
 * whole seconds (like Docker), hardlinked inodes as one file plus link entries, xattrs as
 * SCHILY.xattr PAX records. Sockets are skipped, as tar cannot hold them.
 */
export function tarDirectory(dir: string, opts: TarOptions = {}): Readable {
  return packTree(path.resolve(dir), { includeRoot: opts.includeRoot ?? false, overlay: false });
}

/**
 * The layer tar of an overlay upper dir (Docker's overlay2 diff): a whiteout (char device 0/0)
 * becomes an empty `.wh.NAME` file and an opaque directory gets a `DIR/.wh..wh..opq` entry
 * right after its own.
 */
export function diffOverlay(upperDir: string): Readable {
  return packTree(path.resolve(upperDir), { includeRoot: false, overlay: true });
}

interface PackOptions {
  includeRoot: boolean;
  overlay: boolean;
}

function packTree(root: string, opts: PackOptions): Readable {
  patchTarStreamPax();
  const pack = tarStream().pack();
  const inodes = new Map<string, string>(); // "dev:ino" → first name, for hardlinks

  async function add(rel: string): Promise<void> {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    if (st.isSocket()) return;
    const isRootDir = rel === "";
    const name = isRootDir ? "./" : st.isDirectory() ? `${rel}/` : rel;
    if (opts.overlay && st.isCharacterDevice() && st.rdev === 0) {
      const dir = path.posix.dirname(rel);
      await entry({ ...owner(st), name: path.posix.join(dir, WHITEOUT_PREFIX + path.posix.basename(rel)), type: "file", mode: 0o600, size: 0 });
      return;
    }
    if (!isRootDir || opts.includeRoot) await entry(headerFor(abs, name, st), st.isFile() ? abs : undefined);
    if (!st.isDirectory()) return;
    if (opts.overlay && !isRootDir && lgetxattr(abs, OVERLAY_OPAQUE_XATTR)?.toString() === "y") {
      await entry({ ...owner(st), name: `${rel}/${WHITEOUT_OPAQUE}`, type: "file", mode: 0o100000 | (st.mode & 0o777), size: 0 });
    }
    const names = fs.readdirSync(abs).sort();
    for (const child of names) await add(rel === "" ? child : `${rel}/${child}`);
  }

  function headerFor(abs: string, name: string, st: Stats): Header {
    // The full st_mode, type bits included: tar-stream masks it to 0o7777 but replaces a falsy
    // mode (a 0000 file such as /etc/shadow on some distributions) with 0644.
    const hdr: Header = { ...owner(st), name, mode: st.mode };
    const key = `${st.dev}:${st.ino}`;
    if (!st.isDirectory() && st.nlink > 1) {
      const first = inodes.get(key);
      if (first !== undefined) return { ...hdr, type: "link", linkname: first, size: 0 };
      inodes.set(key, name);
    }
    if (st.isFile()) Object.assign(hdr, { type: "file", size: st.size });
    else if (st.isDirectory()) hdr.type = "directory";
    else if (st.isSymbolicLink()) Object.assign(hdr, { type: "symlink", linkname: fs.readlinkSync(abs) });
    else if (st.isFIFO()) hdr.type = "fifo";
    else {
      hdr.type = st.isBlockDevice() ? "block-device" : "character-device";
      // glibc's gnu_dev_major/minor for the low 32 bits, which is all a tar header can hold.
      hdr.devmajor = (st.rdev >>> 8) & 0xfff;
      hdr.devminor = (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00);
    }
    const pax: Record<string, string> = {};
    for (const attr of llistxattr(abs)) {
      if (attr.startsWith("trusted.overlay.")) continue; // overlay's bookkeeping, not content
      const value = lgetxattr(abs, attr);
      if (value !== undefined) pax[XATTR_PREFIX + attr] = xattrToPax(value);
    }
    if (Object.keys(pax).length > 0) hdr.pax = pax;
    return hdr;
  }

  // Entries are queued without waiting for each (tar-stream writes them in order), but the
  // walk pauses while more than BACKLOG_HIGH bytes are queued that the reader has not taken:
  // memory stays bounded however slow the reader is. A failed entry fails the whole tar.
  let backlog = 0;
  let closed = false;
  let wake: (() => void) | undefined;

  async function entry(hdr: Header, file?: string): Promise<void> {
    if (closed) throw new Error("tar stream closed");
    const sink = pack.entry(hdr, (err) => err && pack.destroy(err));
    backlog += 512 + (hdr.size ?? 0);
    if (hdr.type === "file") {
      if (file && hdr.size) await copyInto(sink, file, hdr.size);
      sink.end(null); // void entries (dirs, links, …) finish by themselves
    }
    if (backlog > BACKLOG_HIGH && !closed) await new Promise<void>((resolve) => (wake = resolve));
  }

  /** Hands the reader 64 KiB chunks (tar-stream pushes every 512-byte header on its own). */
  async function* coalesce(): AsyncGenerator<Buffer> {
    let parts: Buffer[] = [];
    let size = 0;
    const taken = (n: number) => {
      backlog -= n;
      if (wake && backlog < BACKLOG_LOW) {
        wake();
        wake = undefined;
      }
    };
    try {
      for await (const chunk of pack) {
        parts.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= 65536) {
          yield parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
          taken(size);
          parts = [];
          size = 0;
        }
      }
      if (size > 0) yield Buffer.concat(parts, size);
    } finally {
      closed = true; // the reader is gone (or done): stop walking
      wake?.();
    }
  }

  (async () => {
    await add("");
    pack.finalize();
  })().catch((err) => pack.destroy(err));

  return Readable.from(coalesce(), { objectMode: false });
}

const BACKLOG_HIGH = 4 << 20;
const BACKLOG_LOW = 1 << 20;

/**
 * Exactly `size` bytes of `file` into the entry: a file that grows meanwhile must not corrupt
 * the tar; one that shrinks fails the entry ("Size mismatch"). Synchronous reads of 64 KiB, as
 * in apply.ts (most files are small; async reads cost a thread-pool round trip each), waiting
 * whenever the consumer of the tar applies backpressure.
 */
async function copyInto(sink: ReturnType<tar.Pack["entry"]>, file: string, size: number): Promise<void> {
  const fd = fs.openSync(file, "r");
  try {
    for (let left = size; left > 0; ) {
      const chunk = Buffer.allocUnsafe(Math.min(left, 65536));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      left -= n;
      if (!sink.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            sink.off("drain", done);
            sink.off("close", done);
            resolve();
          };
          sink.on("drain", done);
          sink.on("close", done);
        });
        if (sink.destroyed) throw new Error("tar stream closed");
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function owner(st: Stats) {
  // mtime in whole seconds (Docker truncates too); tar-stream writes whole seconds anyway.
  return { uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
}
