import { promises as fsp } from "node:fs";
import { createGunzip, gunzip } from "node:zlib";
import { promisify } from "node:util";
import { parseRFC3339Ns } from "../lib/index.js";

// The files of a rotating log as the monitor leaves them: `<log>` (current), then `<log>.1` …
// `<log>.N-1`, newest first, each either plain or gzip-compressed (`<log>.i.gz`, json-file's and
// local's compress). The monitor compresses `<log>.i` into `<log>.i.gz` in the background and only
// then removes `<log>.i`, so a reader that looks for `<log>.i` first and `<log>.i.gz` second finds
// one of them. Files are told apart by identity (inode and birth time): a .gz carries its source's
// in its header, so a reader already holding that source (it was `<log>` when it looked) skips it.

const gunzipAsync = promisify(gunzip);

/** The most rotated files looked for (dockerd takes any max-file; beyond this is not sensible). */
export const MAX_ROTATED = 1000;

/** An open file of the log. */
export interface LogFile {
  fh: fsp.FileHandle;
  /** This file's identity: `<ino>:<birth ns>`. */
  key: string;
  ino: number;
  gz: boolean;
  /** For a .gz: its source file's identity and the time of its last record, from its header. */
  srcKey?: string;
  lastTimeNs?: bigint;
}

export async function identity(fh: fsp.FileHandle): Promise<{ key: string; ino: number; size: number }> {
  const st = await fh.stat({ bigint: true });
  return { key: `${st.ino}:${st.birthtimeNs}`, ino: Number(st.ino), size: Number(st.size) };
}

/** Read a .gz's header (the monitor's, or dockerd's: JSON in the extra field). */
async function gzMeta(fh: fsp.FileHandle): Promise<{ srcKey?: string; lastTimeNs?: bigint }> {
  const head = Buffer.alloc(1024);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  // ID1 ID2 CM FLG MTIME(4) XFL OS, then XLEN and the extra field when FLG.FEXTRA.
  if (bytesRead < 12 || head[0] !== 0x1f || head[1] !== 0x8b || !(head[3]! & 4)) return {};
  const xlen = head.readUInt16LE(10);
  if (12 + xlen > bytesRead) return {};
  try {
    const meta = JSON.parse(head.toString("utf8", 12, 12 + xlen)) as { lastTime?: string; ino?: number; birth?: string };
    return {
      srcKey: typeof meta.ino === "number" && typeof meta.birth === "string" ? `${meta.ino}:${meta.birth}` : undefined,
      lastTimeNs: typeof meta.lastTime === "string" ? parseRFC3339Ns(meta.lastTime) : undefined,
    };
  } catch {
    return {};
  }
}

/** Open one file of the log; undefined when it is not there. */
async function openName(name: string): Promise<LogFile | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(name, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const id = await identity(fh);
    const gz = name.endsWith(".gz");
    return { fh, key: id.key, ino: id.ino, gz, ...(gz ? await gzMeta(fh) : {}) };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

const slotNames = (path: string, i: number) => (i === 0 ? [path] : [`${path}.${i}`, `${path}.${i}.gz`]);

/** Open slot i (0: the current log): the plain file, else its .gz; undefined when neither is there. */
export async function openSlot(path: string, i: number): Promise<LogFile | undefined> {
  for (const name of slotNames(path, i)) {
    const f = await openName(name);
    if (f) return f;
  }
  return undefined;
}

/**
 * The log and its rotated files, open, oldest first. Opened newest first: a rotation between two
 * opens then shows a file twice (skipped by identity, its own or, for a .gz, its source's) rather
 * than hiding one, and an open fd keeps its file's content whatever is renamed or removed after.
 * A missing slot ends the list only when the next one is missing too: a rotation moves the files
 * one at a time, so one slot may be empty for a moment.
 */
export async function openLogFiles(path: string): Promise<LogFile[]> {
  const out: LogFile[] = [];
  const seen = new Set<string>();
  try {
    let missing = 0;
    for (let i = 0; i <= MAX_ROTATED && missing < 2; i++) {
      const f = await openSlot(path, i);
      if (!f) {
        if (i > 0) missing++;
        continue;
      }
      missing = 0;
      if (seen.has(f.key) || (f.srcKey !== undefined && seen.has(f.srcKey))) {
        await f.fh.close();
        continue;
      }
      seen.add(f.key);
      if (f.srcKey !== undefined) seen.add(f.srcKey);
      out.push(f);
    }
  } catch (err) {
    for (const f of out) await f.fh.close();
    throw err;
  }
  return out.reverse();
}

/** A .gz's content, whole (files are at most about max-size). */
export async function readGz(fh: fsp.FileHandle): Promise<Buffer> {
  const data = await fh.readFile();
  return gunzipAsync(data);
}

/** A .gz's content in chunks as it is inflated, so a reader starts before the whole file is. */
export async function* gzChunks(fh: fsp.FileHandle): AsyncGenerator<Buffer> {
  const stream = fh.createReadStream({ start: 0, autoClose: false }).pipe(createGunzip());
  for await (const chunk of stream) yield chunk as Buffer;
}

/**
 * The file that came after the one with identity `key`: it is found in slot j (plain, a .gz of
 * it, or that .gz itself), and its successor is slot j-1 (`<log>` for j = 1). Undefined when it
 * is not found any more (then reading goes on with the current log).
 */
export async function successorOf(path: string, key: string): Promise<LogFile | undefined> {
  let missing = 0;
  for (let j = 1; j <= MAX_ROTATED && missing < 2; j++) {
    let found = false;
    let mine = false;
    for (const name of slotNames(path, j)) {
      const f = await openName(name);
      if (!f) continue;
      found = true;
      await f.fh.close();
      if (f.key === key || f.srcKey === key) mine = true;
    }
    if (mine) return openSlot(path, j - 1);
    missing = found ? 0 : missing + 1;
  }
  return undefined;
}
