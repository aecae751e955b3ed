// COPY and ADD: finding the sources (never outside the context), their cache hash, and
// copying them into a mounted root filesystem with Docker's classic-builder semantics.

import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { applyLayer, decompressStream, detectCompression } from "../archive/index.js";
import { invalidParameter } from "../errdefs/index.js";
import { secureJoin } from "../lib/index.js";
import { parseGroup, parsePasswd } from "../runtime/index.js";
import { cleanPath } from "../lib/index.js";

export interface CopySource {
  /** The name as matched (its basename names the copy of a file). */
  name: string;
  /** Resolved absolute path to read. */
  abs: string;
  isDir: boolean;
}

const MAX_LINKS = 255;

function outside(orig: string, why = ""): Error {
  return invalidParameter(`Forbidden path outside the build context: ${orig}${why ? ` (${why})` : ""}`);
}

/**
 * Resolve a relative path inside the context root, following symlinks, refusing any that
 * leads out of it (absolute targets, or relative ones climbing above the root).
 */
export function resolveInContext(root: string, rel: string, orig: string): string {
  let remaining = rel.split("/").filter((c) => c !== "" && c !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (remaining.length > 0) {
    const comp = remaining.shift()!;
    if (comp === "..") {
      if (resolved.length === 0) throw outside(orig);
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, comp);
    const st = fs.lstatSync(candidate, { throwIfNoEntry: false });
    if (!st || !st.isSymbolicLink()) {
      resolved.push(comp);
      continue;
    }
    if (++links > MAX_LINKS) throw invalidParameter(`too many levels of symbolic links: ${orig}`);
    const target = fs.readlinkSync(candidate);
    if (target.startsWith("/")) throw outside(orig, `${[...resolved, comp].join("/")} is a symlink to ${target}`);
    const joined = cleanPath([...resolved, target].join("/"));
    if (joined === ".." || joined.startsWith("../")) throw outside(orig, `${[...resolved, comp].join("/")} is a symlink to ${target}`);
    resolved.length = 0;
    remaining = [...joined.split("/").filter((c) => c !== "" && c !== "."), ...remaining];
  }
  return path.join(root, ...resolved);
}

export function hasWildcards(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === "*" || c === "?" || c === "[") return true;
  }
  return false;
}

/** Go's filepath.Match for one path component. */
export function matchComponent(pattern: string, name: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      i++;
      re += (pattern[i] ?? "\\").replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) throw invalidParameter(`syntax error in pattern ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^")) cls = "^" + cls.slice(1).replace(/\\/g, "\\\\");
      else cls = cls.replace(/\\/g, "\\\\");
      re += `[${cls}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(re + "$", "s").test(name);
}

/**
 * The sources of one COPY/ADD, in order. `inContext`: the build context (symlinks may not
 * leave it); otherwise a stage's or image's root filesystem (symlinks resolved inside it).
 */
export async function resolveSources(root: string, srcs: string[], inContext: boolean): Promise<CopySource[]> {
  const out: CopySource[] = [];
  for (const orig of srcs) {
    let rel = cleanPath(orig.startsWith("/") && !inContext ? orig.slice(1) || "." : orig);
    if (inContext) {
      if (rel === ".." || rel.startsWith("../")) throw outside(orig);
      if (rel.startsWith("/")) rel = cleanPath(rel.slice(1) || ".");
    }
    if (rel.startsWith("/")) rel = rel.slice(1) || ".";
    const names = hasWildcards(rel) ? await expandWildcards(root, rel) : [rel];
    if (names.length === 0) continue;
    for (const name of names) {
      const abs = inContext ? resolveInContext(root, name === "." ? "" : name, orig) : await secureJoin(root, name);
      const st = await fsp.stat(abs).catch(() => undefined);
      if (!st) {
        if (inContext) throw invalidParameter(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${name}: file does not exist`);
        throw invalidParameter(`COPY failed: stat ${name}: file does not exist`);
      }
      out.push({ name, abs, isDir: st.isDirectory() });
    }
  }
  if (out.length === 0) throw invalidParameter("COPY failed: no source files were specified");
  return out;
}

async function expandWildcards(root: string, pattern: string): Promise<string[]> {
  const comps = pattern.split("/");
  let cur: string[] = [""];
  for (const comp of comps) {
    const next: string[] = [];
    for (const base of cur) {
      const dir = base === "" ? root : path.join(root, base);
      let entries: string[];
      try {
        const st = fs.lstatSync(dir);
        if (!st.isDirectory()) continue;
        entries = fs.readdirSync(dir).sort();
      } catch {
        continue;
      }
      if (!hasWildcards(comp)) {
        const lit = comp.replace(/\\(.)/g, "$1");
        if (entries.includes(lit)) next.push(base === "" ? lit : `${base}/${lit}`);
        continue;
      }
      for (const e of entries) if (matchComponent(comp, e)) next.push(base === "" ? e : `${base}/${e}`);
    }
    cur = next;
  }
  return cur.sort();
}

/**
 * A content hash of the sources for the cache: names, types, modes, sizes, link targets and
 * file contents (mtimes excluded, as in Docker). Context files' digests come precomputed.
 */
export function hashSources(sources: CopySource[], digests: Map<string, string> | undefined, contextRoot: string | undefined, extra: string): string {
  const per: string[] = [];
  for (const s of sources) {
    const h = createHash("sha256");
    const visit = (abs: string, rel: string, follow: boolean) => {
      const st = follow ? fs.statSync(abs) : fs.lstatSync(abs);
      h.update(`${rel}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(`l${fs.readlinkSync(abs)}\0`);
      else if (st.isDirectory()) {
        h.update("d\0");
        for (const n of fs.readdirSync(abs).sort()) visit(path.join(abs, n), rel === "" ? n : `${rel}/${n}`, false);
      } else if (st.isFile()) {
        h.update(`f${st.size}\0`);
        let d: string | undefined;
        if (digests && contextRoot && abs.startsWith(contextRoot + "/")) d = digests.get(abs.slice(contextRoot.length + 1));
        h.update(d ?? fileDigest(abs));
      } else h.update(`o${st.rdev}\0`);
    };
    visit(s.abs, "", true);
    per.push(h.digest("hex"));
  }
  const kind = sources.length > 1 ? "multi" : sources[0]!.isDir ? "dir" : "file";
  const hex = per.length === 1 && extra === "" ? per[0]! : createHash("sha256").update(per.join(",") + extra).digest("hex");
  return `${kind}:${hex}`;
}

function fileDigest(file: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

export interface Identity {
  uid: number;
  gid: number;
}

/** Classic builder's --chown: "user[:group]", names from the image's /etc/passwd and /etc/group; a lone user is also the group. */
export async function parseChown(rootfs: string, chown: string): Promise<Identity> {
  const parts = chown.split(":");
  if (parts.length > 2) throw invalidParameter(`invalid chown string format: ${chown}`);
  const userStr = parts[0]!;
  const groupStr = parts.length === 1 ? parts[0]! : parts[1]!;
  const read = async (f: string) => {
    try {
      return await fsp.readFile(await secureJoin(rootfs, f), "utf8");
    } catch {
      return undefined;
    }
  };
  let uid: number;
  if (/^\d+$/.test(userStr)) uid = Number(userStr);
  else {
    const text = await read("/etc/passwd");
    if (text === undefined) throw invalidParameter(`can't find uid for user ${userStr}: no such file: /etc/passwd`);
    const u = parsePasswd(text).find((e) => e.name === userStr);
    if (!u) throw invalidParameter(`can't find uid for user ${userStr}: no such user: ${userStr}`);
    uid = u.uid;
  }
  let gid: number;
  if (/^\d+$/.test(groupStr)) gid = Number(groupStr);
  else {
    const text = await read("/etc/group");
    if (text === undefined) throw invalidParameter(`can't find gid for group ${groupStr}: no such file: /etc/group`);
    const g = parseGroup(text).find((e) => e.name === groupStr);
    if (!g) throw invalidParameter(`can't find gid for group ${groupStr}: no such group: ${groupStr}`);
    gid = g.gid;
  }
  return { uid, gid };
}

export function parseChmod(s: string): number {
  if (!/^[0-7]{1,4}$/.test(s)) throw invalidParameter(`invalid chmod parameter: ${s}: only octal modes are supported`);
  return parseInt(s, 8);
}

export interface CopyOptions {
  identity: Identity;
  chmod?: number;
  /** ADD: local tar archives are extracted. */
  decompress: boolean;
}

/** mkdir -p inside the rootfs; directories made here get mode 0755 and the identity. */
async function mkdirAllScoped(rootfs: string, dirInRoot: string, id: Identity): Promise<string> {
  const comps = cleanPath(dirInRoot).split("/").filter((c) => c !== "" && c !== ".");
  let cur = "/";
  for (const c of comps) {
    cur = path.posix.join(cur, c);
    const abs = await secureJoin(rootfs, cur);
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (st?.isDirectory()) continue;
    if (st) throw invalidParameter(`cannot create directory ${cur}: a file is in the way`);
    fs.mkdirSync(abs, { mode: 0o755 });
    fs.chmodSync(abs, 0o755);
    fs.lchownSync(abs, id.uid, id.gid);
  }
  return secureJoin(rootfs, dirInRoot);
}

async function isArchive(file: string): Promise<boolean> {
  const fd = fs.openSync(file, "r");
  let head: Buffer;
  try {
    head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, 512, 0);
    head = head.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
  if (head.length === 0) return false;
  const comp = detectCompression(head);
  if (comp === "none") return head.length >= 263 && head.toString("latin1", 257, 262) === "ustar";
  // Compressed: peek at the decompressed start.
  try {
    const stream = await decompressStream(fs.createReadStream(file));
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of stream) {
      chunks.push(c as Buffer);
      size += (c as Buffer).length;
      if (size >= 512) break;
    }
    stream.destroy();
    const b = Buffer.concat(chunks);
    return b.length >= 263 && b.toString("latin1", 257, 262) === "ustar";
  } catch {
    return false;
  }
}

/**
 * Copy the sources to `dest` (absolute, in the rootfs; a trailing "/" means a directory).
 * A directory source's contents go into dest; a file goes to dest, or into it when dest is a
 * directory (existing, or named with a trailing slash).
 */
export async function copyInto(rootfs: string, sources: CopySource[], dest: string, opts: CopyOptions): Promise<void> {
  const destEndsInSlash = dest.endsWith("/");
  for (const s of sources) {
    if (s.isDir) {
      const existed = fs.existsSync(await secureJoin(rootfs, dest));
      const target = await mkdirAllScoped(rootfs, dest, opts.identity);
      const st = fs.statSync(s.abs);
      if (!existed) {
        fs.chmodSync(target, opts.chmod ?? st.mode & 0o7777);
        fs.lchownSync(target, opts.identity.uid, opts.identity.gid);
        fs.utimesSync(target, st.atime, st.mtime);
      }
      await copyTree(s.abs, target, opts);
      continue;
    }
    if (opts.decompress && (await isArchive(s.abs))) {
      const target = await mkdirAllScoped(rootfs, dest, { uid: 0, gid: 0 });
      await applyLayer(fs.createReadStream(s.abs) as unknown as Readable, target, { whiteouts: "delete" });
      continue;
    }
    const destAbs = await secureJoin(rootfs, dest);
    const existsAsDir = fs.statSync(destAbs, { throwIfNoEntry: false })?.isDirectory() ?? false;
    let targetInRoot = dest;
    if (destEndsInSlash || existsAsDir) targetInRoot = path.posix.join(dest, path.posix.basename(s.name));
    const parent = await mkdirAllScoped(rootfs, path.posix.dirname(targetInRoot), opts.identity);
    const target = path.join(parent, path.posix.basename(targetInRoot));
    copyFile(s.abs, target, opts, true);
  }
}

function copyFile(src: string, dst: string, opts: CopyOptions, follow: boolean): void {
  const st = follow ? fs.statSync(src) : fs.lstatSync(src);
  const cur = fs.lstatSync(dst, { throwIfNoEntry: false });
  if (cur && (cur.isDirectory() ? !st.isDirectory() : true)) fs.rmSync(dst, { recursive: true, force: true });
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dst);
    fs.lchownSync(dst, opts.identity.uid, opts.identity.gid);
    return;
  }
  if (st.isFile()) {
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, opts.chmod ?? st.mode & 0o7777);
  } else if (st.isFIFO()) {
    return; // not copied
  } else return;
  fs.lchownSync(dst, opts.identity.uid, opts.identity.gid);
  fs.utimesSync(dst, st.atime, st.mtime);
}

async function copyTree(srcDir: string, dstDir: string, opts: CopyOptions): Promise<void> {
  const dirTimes: [string, fs.Stats][] = [];
  const walk = (s: string, d: string) => {
    for (const name of fs.readdirSync(s).sort()) {
      const sp = path.join(s, name);
      const dp = path.join(d, name);
      const st = fs.lstatSync(sp);
      if (st.isDirectory()) {
        const cur = fs.lstatSync(dp, { throwIfNoEntry: false });
        if (cur && !cur.isDirectory()) fs.rmSync(dp, { force: true });
        if (!cur || !cur.isDirectory()) fs.mkdirSync(dp);
        fs.chmodSync(dp, opts.chmod ?? st.mode & 0o7777);
        fs.lchownSync(dp, opts.identity.uid, opts.identity.gid);
        walk(sp, dp);
        dirTimes.push([dp, st]);
      } else copyFile(sp, dp, opts, false);
    }
  };
  walk(srcDir, dstDir);
  for (const [d, st] of dirTimes) fs.utimesSync(d, st.atime, st.mtime);
}
