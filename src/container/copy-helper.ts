// The copy helper: a short-lived child of pierd that does every file operation which reads or
// writes *inside* a container's filesystem (docker cp both ways, path stat, export, the layer
// tar of commit). It is Docker's chrootarchive design, in Node:
//
//   pierd ──spawns──▶ unshare --mount --propagation private -- node copy-helper.js SPEC
//
//   1. Everything this process will ever run is loaded first: its modules, tar-stream and the
//      native addon. Then module and addon loading is switched off. Nothing of the container
//      is ever executed or loaded as code (the CVE-2019-14271 class: docker-tar once loaded
//      the container's libnss through a user-name lookup). This helper looks up no user names
//      through libc, resolves no host names, and spawns nothing.
//   2. In its own mount namespace (made by the host's `unshare`, so every thread of this
//      process has it from the start), it clones the container's volume and bind sources with
//      open_tree(2), chroots into the container's root, and attaches each clone with
//      move_mount(2) onto the destination opened *inside* the chroot. The view is then the
//      container's: rootfs plus volumes and binds, as Docker's cp sees it.
//   3. Every path of the request is then resolved by the kernel inside that root: `..` stops
//      at "/", absolute symlinks point into the container, and a component the container swaps
//      for a symlink while the copy runs can only lead to another place in the container (the
//      CVE-2018-15664 class). Nothing here ever holds a descriptor of the host's tree once the
//      chroot is done.
//
// Protocol: argv[2] is the JSON spec; fd 3 carries JSON lines back ({"stat":…}, {"error":…},
// {"done":true}); stdin/stdout carry tars. Only synchronous fs calls are used (no thread pool).

import * as fs from "node:fs";
import * as path from "node:path";
import { Module } from "node:module";
import { pathToFileURL } from "node:url";
import { chroot, lgetxattr, lsetxattr, mknod, moveMount, mountSetReadonly, openTree, preloadNative } from "../sys/index.js";
import { diffOverlay, tarDirectory, tarStream } from "../archive/index.js";
import type tar from "tar-stream";

type Hdr = Partial<tar.Header> & { name: string; pax?: Record<string, string> | null };
type EntryStream = NodeJS.ReadableStream & { header: tar.Header & { pax?: Record<string, string> | null } };

export interface HelperMount {
  source: string;
  destination: string;
  readonly: boolean;
}

export interface HelperSpec {
  op: "stat" | "get" | "put" | "export" | "layer";
  /** Directory to chroot into (a container's merged rootfs, or its overlay upper dir). */
  root: string;
  /** Attached inside the root in this order (parents before children). */
  mounts?: HelperMount[];
  /** The mount namespace pierd runs in: the helper refuses to mount anything in it. */
  parentMountNs: string;
  path?: string;
  noOverwriteDirNonDir?: boolean;
  copyUIDGID?: boolean;
  user?: string;
  readonlyRootfs?: boolean;
  /** For "layer": entry names (relative, e.g. "etc/hosts", "proc/") left out of the tar. */
  exclude?: string[];
}

export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** An error for the parent: errno code (if any) and the HTTP-facing kind. */
interface HelperError {
  code?: string;
  kind: "NotFound" | "InvalidParameter" | "Conflict" | "System";
  message: string;
}

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

// Go's os.FileMode bits (Docker sends FileMode, not st_mode, in X-Docker-Container-Path-Stat).
const ModeDir = 2 ** 31;
const ModeSymlink = 2 ** 27;
const ModeDevice = 2 ** 26;
const ModeNamedPipe = 2 ** 25;
const ModeSocket = 2 ** 24;
const ModeSetuid = 2 ** 23;
const ModeSetgid = 2 ** 22;
const ModeCharDevice = 2 ** 21;
const ModeSticky = 2 ** 20;

/** st_mode → Go's os.FileMode, as os.Lstat reports it. */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & 0o170000) {
    case 0o060000: m += ModeDevice; break;
    case 0o020000: m += ModeDevice + ModeCharDevice; break;
    case 0o040000: m += ModeDir; break;
    case 0o010000: m += ModeNamedPipe; break;
    case 0o120000: m += ModeSymlink; break;
    case 0o140000: m += ModeSocket; break;
  }
  if (stMode & 0o4000) m += ModeSetuid;
  if (stMode & 0o2000) m += ModeSetgid;
  if (stMode & 0o1000) m += ModeSticky;
  return m;
}

// ------------------------------------------------------------------ Go path semantics

/** Go's filepath.Clean. */
export function goClean(p: string): string {
  if (p === "") return ".";
  let n = path.posix.normalize(p);
  if (n.length > 1 && n.endsWith("/")) n = n.slice(0, -1);
  return n;
}

/** Go's filepath.Base. */
export function goBase(p: string): string {
  if (p === "") return ".";
  const s = p.replace(/\/+$/, "");
  if (s === "") return "/";
  return s.slice(s.lastIndexOf("/") + 1);
}

/** Docker's archive.PreserveTrailingDotOrSeparator. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  const specifiesCurrentDir = (p: string) => goBase(p) === ".";
  if (!specifiesCurrentDir(cleaned) && specifiesCurrentDir(original)) {
    if (!cleaned.endsWith("/")) cleaned += "/";
    cleaned += ".";
  }
  if (!cleaned.endsWith("/") && original.endsWith("/")) cleaned += "/";
  return cleaned;
}

/** The absolute form Docker gives a client's path (filepath.Join("/", p), trailing "/" or "/." kept). */
export function containerAbsPath(p: string): string {
  return preserveTrailingDotOrSeparator(goClean(`/${p}`), p);
}

/**
 * symlink.FollowSymlinkInScope(p, "/") inside the chroot: every symlink on the way is
 * followed, as far as the path exists; missing components are appended as they are.
 */
function followInScope(p: string): string {
  let remaining = p.split("/").filter((c) => c !== "" && c !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (remaining.length > 0) {
    const comp = remaining.shift()!;
    if (comp === "..") {
      resolved.pop();
      continue;
    }
    const candidate = `/${[...resolved, comp].join("/")}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      resolved.push(comp);
      continue;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(comp);
      continue;
    }
    if (++links > 255) throw errnoError("ELOOP", `too many links in ${p}`);
    const target = fs.readlinkSync(candidate);
    if (target.startsWith("/")) resolved.length = 0;
    remaining = [...target.split("/").filter((c) => c !== "" && c !== "."), ...remaining];
  }
  return `/${resolved.join("/")}`;
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

// ------------------------------------------------------------------ operations

function statPath(p: string): PathStat {
  const st = fs.lstatSync(p, { bigint: true });
  let linkTarget = "";
  if ((Number(st.mode) & 0o170000) === 0o120000) linkTarget = followInScope(p);
  return {
    name: goBase(p),
    size: Number(st.size),
    mode: goFileMode(Number(st.mode)),
    mtime: rfc3339FromNs(st.mtimeNs),
    linkTarget,
  };
}

function rfc3339FromNs(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  if (frac === 0n) return `${base}Z`;
  return `${base}.${String(frac).padStart(9, "0").replace(/0+$/, "")}Z`;
}

/** Docker's containerArchivePath: the resource at absPath as a tar rebased on its own name. */
async function tarResource(absPath: string, stat: PathStat, out: NodeJS.WritableStream): Promise<void> {
  let sourceDir = absPath;
  let sourceBase = ".";
  if ((stat.mode & ModeDir) === 0) {
    const i = absPath.lastIndexOf("/");
    sourceDir = absPath.slice(0, i + 1);
    sourceBase = absPath.slice(i + 1);
  }
  const rebase = goBase(absPath);
  const pack = tarStream().pack();
  const done = pipeOut(pack as unknown as NodeJS.ReadableStream, out);
  const inodes = new Map<string, string>();
  const walkRoot = sourceBase === "." ? sourceDir : sourceDir + sourceBase;
  const srcClean = goClean(sourceDir);

  const nameFor = (filePath: string): string => {
    let rel = path.posix.relative(srcClean, goClean(filePath)) || ".";
    if (sourceBase === "." && rel !== ".") rel = `./${rel}`;
    const replacement = rebase === "/" ? "" : rebase;
    rel = rel.replace(sourceBase, replacement); // strings.Replace(rel, include, rebase, 1)
    return rel.replace(/^\/+/, "") || ".";
  };

  const visit = async (filePath: string): Promise<void> => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(filePath);
    } catch {
      return; // vanished: skipped, as Go's Walk callback in moby does
    }
    if (st.isSocket()) return;
    await addEntry(pack, filePath, nameFor(filePath), st, inodes);
    // lstat follows the walk root only when its name says so (a trailing "/" or "/.").
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = fs.readdirSync(filePath).sort();
      } catch {
        return;
      }
      for (const n of names) await visit(path.posix.join(filePath, n));
    }
  };
  await visit(walkRoot);
  pack.finalize();
  await done;
}

/**
 * Pipe a tar to our stdout and resolve when all of it was handed over. Writes to a pipe are
 * synchronous in Node on Linux, so "end" of the source means written; stdout itself never
 * emits "finish" (pipe() does not end process.stdout).
 */
function pipeOut(src: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    src.once("end", resolve);
    src.once("error", reject);
    out.once("error", reject);
    src.pipe(out);
  });
}

/** One tar entry the way moby's tarAppender writes it. */
async function addEntry(pack: tar.Pack, filePath: string, name: string, st: fs.Stats, inodes: Map<string, string>): Promise<void> {
  if (st.isDirectory() && !name.endsWith("/")) name += "/";
  const hdr: Hdr = {
    name,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
    size: 0,
  };
  if (!st.isDirectory() && st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = inodes.get(key);
    if (first !== undefined) {
      await writeEntry(pack, { ...hdr, type: "link", linkname: first });
      return;
    }
    inodes.set(key, name);
  }
  const cap = (() => {
    try {
      return lgetxattr(filePath, "security.capability");
    } catch {
      return undefined;
    }
  })();
  if (cap) hdr.pax = { "SCHILY.xattr.security.capability": cap.toString("latin1") };
  if (st.isFile()) {
    hdr.type = "file";
    hdr.size = st.size;
    let fd: number;
    try {
      fd = fs.openSync(filePath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch {
      return; // unreadable or swapped for a symlink meanwhile: skipped
    }
    try {
      await writeEntry(pack, hdr, fd, st.size);
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  if (st.isDirectory()) hdr.type = "directory";
  else if (st.isSymbolicLink()) {
    hdr.type = "symlink";
    hdr.linkname = fs.readlinkSync(filePath);
  } else if (st.isFIFO()) hdr.type = "fifo";
  else {
    hdr.type = st.isBlockDevice() ? "block-device" : "character-device";
    hdr.devmajor = (st.rdev >>> 8) & 0xfff;
    hdr.devminor = (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00);
  }
  await writeEntry(pack, hdr);
}

/** Exactly `size` bytes from fd (zero-padded if the file shrank meanwhile), with backpressure. */
async function writeEntry(pack: tar.Pack, hdr: Hdr, fd?: number, size = 0): Promise<void> {
  const sink = pack.entry(hdr);
  if (fd !== undefined) {
    let left = size;
    while (left > 0) {
      const chunk = Buffer.alloc(Math.min(left, 65536));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      const part = n === 0 ? chunk : chunk.subarray(0, n); // n === 0: shrank; pad with zeros
      left -= part.length;
      if (!sink.write(part)) await new Promise<void>((r) => sink.once("drain", () => r()));
    }
  }
  sink.end(null);
  // No backlog builds up: stdout is a pipe, and Node writes to pipes synchronously on Linux,
  // so what tar-stream produces is handed on (or blocks) at once.
}

/** The upper dir's layer tar (whiteouts as .wh. files), without the excluded entries. */
async function layerTar(exclude: Set<string>): Promise<void> {
  const src = diffOverlay("/");
  if (exclude.size === 0) return pipeOut(src, process.stdout);
  const extract = tarStream().extract();
  const pack = tarStream().pack();
  const done = pipeOut(pack as unknown as NodeJS.ReadableStream, process.stdout);
  src.on("error", (err) => extract.destroy(err));
  src.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const e of extract) {
    const entry = e as unknown as EntryStream;
    const hdr = entry.header;
    if (exclude.has(hdr.name.replace(/\/+$/, ""))) {
      await drain(entry);
      continue;
    }
    if (hdr.type === "file" || hdr.type === "contiguous-file") {
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry(hdr, (err) => (err ? reject(err) : resolve()));
        entry.pipe(sink as unknown as NodeJS.WritableStream);
      });
    } else {
      pack.entry(hdr);
      await drain(entry);
    }
  }
  pack.finalize();
  await done;
}

// ------------------------------------------------------------------ extraction (PUT)

interface UnpackOptions {
  noOverwriteDirNonDir: boolean;
  chown?: { uid: number; gid: number };
}

class BreakoutError extends Error {}

/** moby's archive.Untar (Unpack + createTarFile), run inside the chroot. */
async function untar(input: NodeJS.ReadableStream, dest: string, o: UnpackOptions): Promise<void> {
  const extract = tarStream().extract();
  input.pipe(extract as unknown as NodeJS.WritableStream);
  const dirs: { p: string; mtime: Date }[] = [];
  for await (const e of extract) {
    const entry = e as unknown as EntryStream;
    const hdr = entry.header;
    try {
      if ((hdr.type as string) === "pax-global-header") continue;
      const name = goClean(hdr.name);
      // createImpliedDirectories
      const parentPath = path.posix.join(dest, path.posix.dirname(name));
      if (!exists(parentPath)) mkdirAllChown(parentPath, o.chown ?? { uid: 0, gid: 0 });
      const p = path.posix.join(dest, name);
      const rel = path.posix.relative(dest, p);
      if (rel === ".." || rel.startsWith("../")) throw new BreakoutError(`${JSON.stringify(hdr.name)} is outside of ${JSON.stringify(dest)}`);
      const isDirHdr = hdr.type === "directory";
      let fi: fs.Stats | undefined;
      try {
        fi = fs.lstatSync(p);
      } catch {
        fi = undefined;
      }
      if (fi) {
        if (o.noOverwriteDirNonDir && fi.isDirectory() && !isDirHdr) throw new Error(`cannot overwrite directory ${JSON.stringify(p)} with non-directory ${JSON.stringify(dest)}`);
        if (o.noOverwriteDirNonDir && !fi.isDirectory() && isDirHdr) throw new Error(`cannot overwrite non-directory ${JSON.stringify(p)} with directory ${JSON.stringify(dest)}`);
        if (fi.isDirectory() && name === ".") {
          await drain(entry);
          continue;
        }
        if (!(fi.isDirectory() && isDirHdr)) fs.rmSync(p, { recursive: true, force: true });
      }
      await createTarFile(p, dest, hdr, entry, o);
      if (isDirHdr) dirs.push({ p, mtime: hdr.mtime ?? new Date(0) });
    } finally {
      await drain(entry);
    }
  }
  for (const d of dirs) fs.utimesSync(d.p, d.mtime, d.mtime);
}

function drain(entry: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    const e = entry as NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean };
    if (e.readableEnded || e.destroyed) return resolve();
    e.on("end", resolve);
    e.on("close", resolve);
    e.resume();
  });
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function mkdirAllChown(p: string, owner: { uid: number; gid: number }): void {
  const missing: string[] = [];
  for (let cur = p; cur !== "/" && !exists(cur); cur = path.posix.dirname(cur)) missing.unshift(cur);
  for (const d of missing) {
    try {
      fs.mkdirSync(d, { mode: 0o755 });
    } catch (err) {
      // The container made it meanwhile (it may be racing the copy on purpose); whatever is
      // there now is resolved inside the chroot like everything else.
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw err;
    }
    fs.lchownSync(d, owner.uid, owner.gid);
  }
}

async function createTarFile(p: string, extractDir: string, hdr: Hdr, body: NodeJS.ReadableStream, o: UnpackOptions): Promise<void> {
  const mode = (hdr.mode ?? 0o644) & 0o7777;
  // moby's breakout checks are plain prefix tests on the joined path; the chroot is the real fence.
  const prefixOK = (t: string) => t.startsWith(extractDir);
  switch (hdr.type) {
    case "directory": {
      let isDir = false;
      try {
        isDir = fs.lstatSync(p).isDirectory();
      } catch {
        /* missing */
      }
      if (!isDir) {
        try {
          fs.mkdirSync(p, { mode: mode & 0o777 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
      }
      break;
    }
    case "file":
    case "contiguous-file": {
      const fd = fs.openSync(p, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, mode & 0o777);
      try {
        for await (const chunk of body) fs.writeSync(fd, chunk as Buffer);
      } finally {
        fs.closeSync(fd);
      }
      break;
    }
    case "block-device":
    case "character-device":
      mknod(p, mode & 0o777, hdr.type === "block-device" ? "b" : "c", hdr.devmajor ?? 0, hdr.devminor ?? 0);
      break;
    case "fifo":
      mknod(p, mode & 0o777, "p");
      break;
    case "link": {
      const target = path.posix.join(extractDir, hdr.linkname ?? "");
      if (!prefixOK(target)) throw new BreakoutError(`invalid hardlink ${JSON.stringify(target)} -> ${JSON.stringify(hdr.linkname)}`);
      fs.linkSync(target, p);
      break;
    }
    case "symlink": {
      const target = path.posix.join(path.posix.dirname(p), hdr.linkname ?? "");
      if (!prefixOK(target)) throw new BreakoutError(`invalid symlink ${JSON.stringify(p)} -> ${JSON.stringify(hdr.linkname)}`);
      fs.symlinkSync(hdr.linkname ?? "", p);
      break;
    }
    default:
      throw new Error(`unhandled tar header type ${hdr.type}`);
  }
  const owner = o.chown ?? { uid: hdr.uid ?? 0, gid: hdr.gid ?? 0 };
  fs.lchownSync(p, owner.uid, owner.gid);
  for (const [key, value] of Object.entries(hdr.pax ?? {})) {
    if (!key.startsWith("SCHILY.xattr.")) continue;
    try {
      lsetxattr(p, key.slice("SCHILY.xattr.".length), Buffer.from(value, "latin1"));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOTSUP" && code !== "EPERM") throw err;
    }
  }
  const mtime = hdr.mtime ?? new Date(0);
  if (hdr.type === "symlink") {
    fs.lutimesSync(p, mtime, mtime);
    return;
  }
  // chmod after chown (chown clears set-id bits); a hardlink to a symlink keeps its mode.
  if (hdr.type === "link" && fs.lstatSync(p).isSymbolicLink()) return;
  fs.chmodSync(p, mode);
  fs.utimesSync(p, mtime, mtime);
}

/** "user[:group]" from the container's own /etc/passwd and /etc/group (read as data). */
function lookupUser(spec: string): { uid: number; gid: number } {
  const [userPart, groupPart] = spec.split(":", 2) as [string, string | undefined];
  const passwd = readDb("/etc/passwd");
  let uid: number;
  let gid: number;
  const byName = passwd.find((f) => f[0] === userPart);
  if (byName) {
    uid = Number(byName[2]);
    gid = Number(byName[3]);
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const byUid = passwd.find((f) => Number(f[2]) === uid);
    gid = byUid ? Number(byUid[3]) : 0;
  } else {
    throw Object.assign(new Error(`unable to find user ${userPart}: no matching entries in passwd file`), { kind: "System" });
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = readDb("/etc/group").find((f) => f[0] === groupPart);
      if (!g) throw Object.assign(new Error(`unable to find group ${groupPart}: no matching entries in group file`), { kind: "System" });
      gid = Number(g[2]);
    }
  }
  return { uid, gid };
}

function readDb(file: string): string[][] {
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

// ------------------------------------------------------------------ main

function send(msg: unknown): void {
  fs.writeSync(3, JSON.stringify(msg) + "\n");
}

function fail(err: unknown): never {
  const e = err as NodeJS.ErrnoException & { kind?: HelperError["kind"] };
  const out: HelperError = {
    code: e.code,
    kind: e.kind ?? (err instanceof BreakoutError ? "InvalidParameter" : e.code === "ENOENT" ? "NotFound" : "System"),
    message: e.message ?? String(err),
  };
  try {
    send({ error: out });
  } catch {
    /* parent gone */
  }
  process.exit(1);
}

function mountNamespace(): string {
  return fs.readlinkSync("/proc/self/ns/mnt");
}

/** Steps 1 and 2: load everything, enter the container's view, lock code loading. */
function enterRoot(spec: HelperSpec): void {
  tarStream();
  preloadNative();
  if (mountNamespace() === spec.parentMountNs) throw new Error("copy helper is not in its own mount namespace; refusing to mount");
  // Clone each source while the host's tree is still visible; attach after the chroot.
  const trees = (spec.mounts ?? []).map((m) => {
    const isDir = fs.statSync(m.source).isDirectory();
    const fd = openTree(m.source, true);
    if (m.readonly) mountSetReadonly(fd);
    return { ...m, fd, isDir };
  });
  process.chdir("/");
  chroot(spec.root);
  process.chdir("/");
  for (const t of trees) {
    // Inside the chroot: the destination's symlinks resolve in the container's view.
    const dest = t.destination;
    try {
      if (t.isDir) fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
      else if (!exists(dest)) {
        fs.mkdirSync(path.posix.dirname(dest), { recursive: true, mode: 0o755 });
        fs.closeSync(fs.openSync(dest, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o755));
      }
    } catch {
      /* exists as something else: the open below decides */
    }
    const target = fs.openSync(dest, O_PATH | O_CLOEXEC);
    try {
      moveMount(t.fd, target);
    } finally {
      fs.closeSync(target);
      fs.closeSync(t.fd);
    }
  }
  const refuse = () => {
    throw new Error("loading code is disabled inside a container's root");
  };
  (Module as unknown as { _load: unknown })._load = refuse;
  process.dlopen = refuse as typeof process.dlopen;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as HelperSpec;
  try {
    enterRoot(spec);
    send({ ready: true });
  } catch (err) {
    fail(err);
  }
  try {
    switch (spec.op) {
      case "stat": {
        send({ stat: statPath(spec.path ?? "/") });
        break;
      }
      case "get": {
        const abs = containerAbsPath(spec.path ?? "/");
        const stat = statPath(abs);
        send({ stat });
        await tarResource(abs, stat, process.stdout);
        break;
      }
      case "put": {
        const original = spec.path ?? "/";
        const abs = preserveTrailingDotOrSeparator(followInScope(path.posix.join("/", original)), original);
        const st = fs.lstatSync(abs);
        if (!st.isDirectory()) throw Object.assign(new Error("extraction point is not a directory"), { kind: "InvalidParameter" });
        let toVolume = false;
        const byDepth = [...(spec.mounts ?? [])].sort((a, b) => b.destination.length - a.destination.length);
        for (const m of byDepth) {
          const rel = path.posix.relative(m.destination, goClean(abs));
          if (rel !== ".." && !rel.startsWith("../")) {
            if (m.readonly) throw Object.assign(new Error("mounted volume is marked read-only"), { kind: "InvalidParameter" });
            toVolume = true;
            break;
          }
        }
        if (!toVolume && spec.readonlyRootfs) throw Object.assign(new Error("container rootfs is marked read-only"), { kind: "InvalidParameter" });
        const chown = spec.copyUIDGID && spec.user ? lookupUser(spec.user) : undefined;
        await untar(process.stdin, goClean(abs), { noOverwriteDirNonDir: !!spec.noOverwriteDirNonDir, chown });
        break;
      }
      case "export":
        await pipeOut(tarDirectory("/"), process.stdout);
        break;
      case "layer":
        await layerTar(new Set((spec.exclude ?? []).map((n) => n.replace(/\/+$/, ""))));
        break;
      default:
        throw new Error(`unknown operation ${String(spec.op)}`);
    }
    send({ done: true });
  } catch (err) {
    fail(err);
  }
  process.exit(0);
}

// Only when run as the helper process (importing this module for its helpers does nothing).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  void main();
}
