import { promises as fsp, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

/**
 * Write a file so that a reader (or a crash) never sees it half-written:
 * temp file in the same directory, fsync, rename, then fsync the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644, opts: { durable?: boolean } = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  const tmp = tempSibling(file);
  const fh = await fsp.open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await syncDir(dir);
}

/**
 * Files that are made again from records at every container start (bundle config, hosts,
 * resolv.conf): still never seen half-written, but not worth two fsyncs on the start path.
 * Written synchronously: for a few KiB into the page cache, the four thread-pool round trips
 * of the async calls (open, write, close, rename) cost more than the writes themselves, and
 * they sit on the start path of every container and exec.
 */
export async function writeFileReplace(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  writeFileReplaceSync(file, data, mode);
}

/** writeFileReplace for code that must finish its writes within the current tick. */
export function writeFileReplaceSync(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempSibling(file);
  writeFileSync(tmp, data, { mode });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * A fresh temporary name next to `file` (a file path, no trailing "/"): ".NAME.<random>.tmp"
 * in the same directory. Sliced, not path.join'ed: records and bundle files are written many
 * times per container start, and join normalises the whole path each time (see pathutil.ts).
 */
export function tempSibling(file: string): string {
  const i = file.lastIndexOf("/");
  return `${file.slice(0, i + 1)}.${file.slice(i + 1)}.${randomBytes(6).toString("hex")}.tmp`;
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await fsp.open(dir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export async function readJSONIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
