// The build context: the request body (a tar, possibly compressed, or a bare Dockerfile)
// unpacked into a private directory. Every entry stays inside it (names are cleaned, parents
// resolved without following symlinks out); each regular file's sha256 is computed on the
// way in, so COPY's cache key costs nothing more. .dockerignore is applied after unpacking.

import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { decompressStream, tarStream } from "../archive/index.js";
import { invalidParameter } from "../errdefs/index.js";
import { cleanRelative, secureJoin } from "../lib/index.js";
import { IgnoreMatcher, readIgnore } from "../lib/index.js";

export interface BuildContext {
  root: string;
  /** relative path → "sha256:<hex>" of the content, for regular files. */
  digests: Map<string, string>;
  ignore: IgnoreMatcher;
  dispose(): Promise<void>;
}

const isTarHeader = (b: Buffer) => b.length >= 263 && b.toString("latin1", 257, 262) === "ustar";

/** Unpack the context under `tmpRoot`. A body that is not a tar is taken as the Dockerfile. */
export async function receiveContext(body: Readable, tmpRoot: string, dockerfileName: string): Promise<BuildContext> {
  await fsp.mkdir(tmpRoot, { recursive: true, mode: 0o700 });
  const root = path.join(tmpRoot, `ctx-${randomBytes(8).toString("hex")}`);
  await fsp.mkdir(root, { mode: 0o755 });
  const digests = new Map<string, string>();
  const ctx: BuildContext = {
    root,
    digests,
    ignore: new IgnoreMatcher([]),
    dispose: () => fsp.rm(root, { recursive: true, force: true }),
  };
  try {
    const plain = await decompressStream(body);
    const first = await peek(plain, 512);
    if (first.head.length === 0) {
      // An empty body: no context at all (the Dockerfile must come from elsewhere).
    } else if (!isTarHeader(first.head) && !isZeroBlock(first.head)) {
      // A bare Dockerfile.
      const chunks: Buffer[] = [first.head];
      for await (const c of first.stream) chunks.push(c as Buffer);
      const name = cleanRelative(dockerfileName) || "Dockerfile";
      await fsp.mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await fsp.writeFile(path.join(root, name), Buffer.concat(chunks), { mode: 0o644 });
    } else {
      await untar(first.stream, root, digests, first.head);
    }
  } catch (err) {
    await ctx.dispose();
    if ((err as { kind?: string }).kind) throw err;
    throw invalidParameter(`failed to read the build context: ${(err as Error).message}`);
  }
  return ctx;
}

function isZeroBlock(b: Buffer): boolean {
  return b.length >= 512 && b.subarray(0, 512).every((x) => x === 0);
}

/** Read at least n bytes (or to the end), give back a stream that replays them. */
async function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const parts: Buffer[] = [];
  let size = 0;
  const it = stream[Symbol.asyncIterator]();
  let done = false;
  while (size < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value as Buffer);
    size += (r.value as Buffer).length;
  }
  const head = Buffer.concat(parts);
  async function* replay(): AsyncGenerator<Buffer> {
    yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  }
  return { head, stream: Readable.from(replay(), { objectMode: false }) };
}

async function untar(input: Readable, root: string, digests: Map<string, string>, _head: Buffer): Promise<void> {
  const extract = tarStream().extract();
  // The docker CLI's tar (when it adds a Dockerfile from outside the context) ends without
  // the last entry's padding and the end-of-archive blocks: zeros complete it.
  async function* padded(): AsyncGenerator<Buffer> {
    let total = 0;
    for await (const c of input) {
      total += (c as Buffer).length;
      yield c as Buffer;
    }
    yield Buffer.alloc(((512 - (total % 512)) % 512) + 1024);
  }
  const piping = pipeline(Readable.from(padded(), { objectMode: false }), extract);
  piping.catch(() => {});
  const dirTimes: [string, Date][] = [];
  let sawSymlink = false;
  const target = async (rel: string): Promise<string> => {
    // Until a symlink exists in the tree, parents are plain directories made here.
    const parent = path.posix.dirname(rel);
    const dir = parent === "." ? root : sawSymlink ? await secureJoin(root, parent) : path.join(root, parent);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    return path.join(dir, path.posix.basename(rel));
  };
  for await (const entry of extract) {
    const h = entry.header;
    const rel = cleanRelative(h.name);
    if (rel === "" || rel.split("/").includes("..")) {
      entry.resume();
      continue;
    }
    const dest = await target(rel);
    const mode = (h.mode ?? 0o644) & 0o7777;
    try {
      switch (h.type) {
        case "directory": {
          const st = fs.lstatSync(dest, { throwIfNoEntry: false });
          if (st && !st.isDirectory()) fs.rmSync(dest, { recursive: true, force: true });
          if (!st || !st.isDirectory()) fs.mkdirSync(dest, { mode });
          fs.chmodSync(dest, mode);
          if (h.mtime) dirTimes.push([dest, h.mtime]);
          entry.resume();
          break;
        }
        case "file":
        case "contiguous-file": {
          fs.rmSync(dest, { force: true, recursive: true });
          const hash = createHash("sha256");
          const fd = fs.openSync(dest, "w", mode);
          try {
            for await (const chunk of entry) {
              hash.update(chunk as Buffer);
              fs.writeSync(fd, chunk as Buffer);
            }
            fs.fchmodSync(fd, mode);
            if (h.mtime) fs.futimesSync(fd, h.mtime, h.mtime);
          } finally {
            fs.closeSync(fd);
          }
          digests.set(rel, `sha256:${hash.digest("hex")}`);
          break;
        }
        case "symlink": {
          fs.rmSync(dest, { force: true, recursive: true });
          fs.symlinkSync(h.linkname ?? "", dest);
          sawSymlink = true;
          entry.resume();
          break;
        }
        case "link": {
          const src = cleanRelative(h.linkname ?? "");
          fs.rmSync(dest, { force: true, recursive: true });
          const from = await secureJoin(root, src);
          fs.linkSync(from, dest);
          const d = digests.get(src);
          if (d) digests.set(rel, d);
          entry.resume();
          break;
        }
        default:
          // Devices, FIFOs: nothing COPY could use.
          entry.resume();
      }
    } catch (err) {
      entry.resume();
      throw err;
    }
  }
  await piping;
  for (const [d, t] of dirTimes.reverse()) {
    try {
      fs.utimesSync(d, t, t);
    } catch {
      /* gone */
    }
  }
}

/** Read and apply .dockerignore; the Dockerfile and .dockerignore are removed if they match. */
export async function applyDockerignore(ctx: BuildContext, dockerfile: string): Promise<void> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(ctx.root, ".dockerignore"), "utf8");
  } catch {
    return;
  }
  const m = new IgnoreMatcher(readIgnore(text));
  ctx.ignore = m;
  if (m.empty) return;
  const walk = (rel: string) => {
    const abs = rel === "" ? ctx.root : path.join(ctx.root, rel);
    for (const name of fs.readdirSync(abs)) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (r === ".dockerignore" || r === cleanRelative(dockerfile)) continue;
      const st = fs.lstatSync(path.join(ctx.root, r));
      if (m.matches(r)) {
        // A directory with a possible exception under it: descend instead.
        if (st.isDirectory() && m.hasExceptions()) {
          walk(r);
          if (fs.readdirSync(path.join(ctx.root, r)).length === 0) fs.rmdirSync(path.join(ctx.root, r));
          continue;
        }
        fs.rmSync(path.join(ctx.root, r), { recursive: true, force: true });
        ctx.digests.delete(r);
        continue;
      }
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
}

/** After the Dockerfile was read: drop it and .dockerignore when .dockerignore excludes them. */
export async function removeIgnoredSpecials(ctx: BuildContext, dockerfile: string): Promise<void> {
  for (const f of [".dockerignore", cleanRelative(dockerfile)]) {
    if (f && ctx.ignore.matches(f)) await fsp.rm(path.join(ctx.root, f), { force: true });
  }
}
