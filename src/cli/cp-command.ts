// `pier cp`: the docker CLI's copy between a container and the local filesystem, with its
// archive rules (moby pkg/archive copy.go: CopyInfoSourcePath, PrepareArchiveCopy, CopyTo,
// RebaseArchiveEntries), so "dir" vs "dir/." vs a missing destination behave as with docker.
//
// Extraction on this side never follows a symlink out of the destination: every entry's
// parent is resolved with secureJoin as if the destination directory were "/".

import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { ApiError } from "../client/index.js";
import { secureJoin } from "../lib/index.js";
import { CliContext, StatusError, describeError } from "./cli-context.js";
import { humanSize } from "./units.js";

type TarStream = typeof import("tar-stream");
let tarModule: TarStream | undefined;
const tarStream = (): TarStream => (tarModule ??= createRequire(import.meta.url)("tar-stream") as TarStream);

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName?: string;
}

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_IRREGULAR = 2 ** 19;

// ------------------------------------------------------------------ Go path helpers

function goClean(p: string): string {
  if (p === "") return ".";
  let n = path.posix.normalize(p);
  if (n.length > 1 && n.endsWith("/")) n = n.slice(0, -1);
  return n;
}

function goBase(p: string): string {
  if (p === "") return ".";
  const s = p.replace(/\/+$/, "");
  if (s === "") return "/";
  return s.slice(s.lastIndexOf("/") + 1);
}

const specifiesCurrentDir = (p: string) => goBase(p) === ".";
const hasTrailingSep = (p: string) => p.endsWith("/");
const assertsDirectory = (p: string) => hasTrailingSep(p) || specifiesCurrentDir(p);

/** archive.SplitPathDirEntry. */
function splitPathDirEntry(p: string): [string, string] {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += "/.";
  return [path.posix.dirname(cleaned), goBase(cleaned)];
}

/** archive.PreserveTrailingDotOrSeparator. */
function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  if (!specifiesCurrentDir(cleaned) && specifiesCurrentDir(original)) {
    if (!hasTrailingSep(cleaned)) cleaned += "/";
    cleaned += ".";
  }
  if (!hasTrailingSep(cleaned) && hasTrailingSep(original)) cleaned += "/";
  return cleaned;
}

/** cp.go resolveLocalPath: absolute, keeping a trailing "/" or "/.". */
function resolveLocalPath(p: string): string {
  return preserveTrailingDotOrSeparator(path.resolve(p), p);
}

/** archive.GetRebaseName. */
function getRebaseName(p: string, resolved: string): [string, string | undefined] {
  if (specifiesCurrentDir(p) && !specifiesCurrentDir(resolved)) resolved += "/.";
  if (hasTrailingSep(p) && !hasTrailingSep(resolved)) resolved += "/";
  return [resolved, goBase(p) !== goBase(resolved) ? goBase(p) : undefined];
}

/** strings.Replace(name, oldBase, newBase, 1) for the entries of oldBase (RebaseArchiveEntries). */
function rebaser(oldBase: string, newBase: string): (name: string) => string {
  return (name) => {
    if (oldBase === "/") return path.posix.join(newBase, name);
    if (name === oldBase || name.startsWith(`${oldBase}/`)) return newBase + name.slice(oldBase.length);
    return name;
  };
}

// ------------------------------------------------------------------ local side

/** archive.CopyInfoSourcePath (ResolveHostSourcePath + Lstat). */
function copyInfoSourcePath(p: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebaseName: string | undefined;
  if (followLink) {
    [resolved, rebaseName] = getRebaseName(p, fs.realpathSync(p));
  } else {
    const i = p.lastIndexOf("/");
    const dir = i >= 0 ? p.slice(0, i + 1) : "";
    const base = p.slice(i + 1);
    const resolvedDir = fs.realpathSync(dir === "" ? "." : dir);
    resolved = `${resolvedDir === "/" ? "" : resolvedDir}/${base}`;
    if (hasTrailingSep(p) && goBase(p) !== goBase(resolved)) rebaseName = goBase(p);
  }
  const st = fs.lstatSync(resolved);
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** archive.CopyInfoDestinationPath: symlinks of the destination itself are followed. */
function copyInfoDestinationPath(p: string): CopyInfo {
  const original = p;
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new Error(`too many symlinks in ${original}`);
    let target = fs.readlinkSync(p);
    if (!path.isAbsolute(target)) target = path.join(splitPathDirEntry(p)[0], target);
    p = target;
    try {
      st = fs.lstatSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      st = undefined;
    }
  }
  if (!st) {
    const parent = splitPathDirEntry(p)[0];
    const pst = fs.statSync(parent);
    if (!pst.isDirectory()) throw new Error("not a directory");
    return { path: p, exists: false, isDir: false };
  }
  return { path: p, exists: true, isDir: st.isDirectory() };
}

/** archive.PrepareArchiveCopy: where to extract, and how entry names change. */
function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dir: string; rename: (n: string) => string } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  const [, srcBaseRaw] = splitPathDirEntry(src.path);
  const srcBase = src.rebaseName || srcBaseRaw;
  if (dst.exists && dst.isDir) return { dir: dst.path, rename: (n) => n };
  if (dst.exists && src.isDir) throw new Error("cannot copy directory");
  if (dst.exists) return { dir: dstDir, rename: rebaser(srcBase, dstBase) };
  if (src.isDir) return { dir: dstDir, rename: rebaser(srcBase, dstBase) };
  if (assertsDirectory(dst.path)) throw new Error("no such directory");
  return { dir: dstDir, rename: rebaser(srcBase, dstBase) };
}

/** archive.TarResourceRebase of a local path, names renamed by `rename`, as a stream. */
function tarLocal(src: CopyInfo, rename: (n: string) => string, onFileBytes: (n: number) => void = () => {}): Readable {
  const [sourceDir, sourceBase] = splitPathDirEntry(src.path);
  const rebase = src.rebaseName ? rebaser(sourceBase, src.rebaseName) : (n: string) => n;
  const pack = tarStream().pack();
  const inodes = new Map<string, string>();
  const visit = async (abs: string, rel: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return;
    }
    if (st.isSocket()) return;
    let name = rename(rebase(sourceBase === "." && rel !== "." ? `./${rel}` : rel));
    if (st.isDirectory() && !name.endsWith("/")) name += "/";
    const hdr: Record<string, unknown> = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
    const key = `${st.dev}:${st.ino}`;
    if (!st.isDirectory() && st.nlink > 1 && inodes.has(key)) {
      pack.entry({ ...hdr, name, type: "link", linkname: inodes.get(key)! });
    } else {
      if (!st.isDirectory() && st.nlink > 1) inodes.set(key, name);
      if (st.isFile()) {
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ ...hdr, name, type: "file", size: st.size }, (err) => (err ? reject(err) : resolve()));
          onFileBytes(st.size);
          if (st.size === 0) sink.end(null);
          else fs.createReadStream(abs, { start: 0, end: st.size - 1 }).on("error", reject).pipe(sink as unknown as NodeJS.WritableStream);
        });
      } else if (st.isSymbolicLink()) pack.entry({ ...hdr, name, type: "symlink", linkname: fs.readlinkSync(abs) });
      else if (st.isDirectory()) pack.entry({ ...hdr, name, type: "directory" });
      else if (st.isFIFO()) pack.entry({ ...hdr, name, type: "fifo" });
      else pack.entry({ ...hdr, name, type: st.isBlockDevice() ? "block-device" : "character-device", devmajor: (st.rdev >>> 8) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00) });
    }
    if (st.isDirectory()) {
      for (const child of fs.readdirSync(abs).sort()) await visit(path.join(abs, child), rel === "." ? child : `${rel}/${child}`);
    }
  };
  const root = sourceBase === "." ? sourceDir : path.join(sourceDir, sourceBase);
  void visit(root, sourceBase).then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  // tar-stream's streams are streamx ones; the HTTP client wants a Node stream.
  return Readable.from(pack as unknown as AsyncIterable<Buffer>);
}

/** archive.Untar with NoLchown and NoOverwriteDirNonDir, confined to `dest`. */
async function untarLocal(input: Readable, dest: string, rename: (n: string) => string): Promise<number> {
  const extract = tarStream().extract();
  input.pipe(extract as unknown as NodeJS.WritableStream);
  const dirs: [string, Date][] = [];
  let copied = 0;
  for await (const e of extract) {
    const entry = e as unknown as Readable & { header: { name: string; type: string; mode: number; mtime: Date; linkname: string; size: number } };
    const hdr = entry.header;
    const name = goClean(rename(hdr.name));
    if (name === ".." || name.startsWith("../")) throw new Error(`${JSON.stringify(hdr.name)} is outside of ${JSON.stringify(dest)}`);
    const rel = name === "." ? "" : name.replace(/^\/+/, ""); // filepath.Join(dest, name)
    // Parents are resolved inside dest: a symlink from the archive cannot lead out of it.
    const parent = await secureJoin(dest, path.posix.dirname(rel));
    fs.mkdirSync(parent, { recursive: true });
    const target = rel === "" ? dest : path.join(parent, path.posix.basename(rel));
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(target);
    } catch {
      existing = undefined;
    }
    const isDir = hdr.type === "directory";
    if (existing && existing.isDirectory() && rel === "") {
      entry.resume(); // "." onto an existing directory: left as it is
      continue;
    }
    if (existing) {
      if (existing.isDirectory() && !isDir) throw new Error(`cannot overwrite directory ${JSON.stringify(target)} with non-directory ${JSON.stringify(dest)}`);
      if (!existing.isDirectory() && isDir) throw new Error(`cannot overwrite non-directory ${JSON.stringify(target)} with directory ${JSON.stringify(dest)}`);
      if (!isDir) fs.rmSync(target, { force: true });
    }
    const mode = hdr.mode & 0o7777;
    switch (hdr.type) {
      case "directory":
        if (!existing) fs.mkdirSync(target, { mode: mode & 0o777 });
        dirs.push([target, hdr.mtime]);
        break;
      case "file":
      case "contiguous-file": {
        const fd = fs.openSync(target, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, mode & 0o777);
        try {
          for await (const chunk of entry) {
            fs.writeSync(fd, chunk as Buffer);
            copied += (chunk as Buffer).length;
          }
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case "symlink":
        fs.symlinkSync(hdr.linkname, target);
        break;
      case "link": {
        const linkTarget = await secureJoin(dest, rename(hdr.linkname));
        fs.linkSync(linkTarget, target);
        break;
      }
      default:
        // Devices and fifos need privileges the CLI does not use: skipped.
        entry.resume();
        continue;
    }
    entry.resume();
    if (hdr.type !== "symlink") {
      if (hdr.type !== "link") fs.chmodSync(target, mode);
      fs.utimesSync(target, hdr.mtime, hdr.mtime);
    } else fs.lutimesSync(target, hdr.mtime, hdr.mtime);
  }
  for (const [d, t] of dirs) fs.utimesSync(d, t, t);
  return copied;
}

// ------------------------------------------------------------------ the command

/** cp.go splitCpArg: "container:path", or a local path. */
function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith("/")) return ["", arg];
  const i = arg.indexOf(":");
  if (i < 0 || arg.startsWith(".")) return ["", arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

interface CpOptions {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

export function registerCp(parent: Command, cli: CliContext): Command {
  return parent
    .command("cp")
    .description("Copy files/folders between a container and the local filesystem")
    .usage("[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n        pier cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH")
    .argument("<source>")
    .argument("<destination>")
    .option("-a, --archive", "Archive mode (copy all uid/gid information)")
    .option("-L, --follow-link", "Always follow symbol link in SRC_PATH")
    .option("-q, --quiet", "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
    .action(async (source: string, destination: string, opts: CpOptions) => {
      if (source === "") throw new StatusError(1, "source can not be empty");
      if (destination === "") throw new StatusError(1, "destination can not be empty");
      const [srcContainer, srcPath] = splitCpArg(source);
      const [dstContainer, dstPath] = splitCpArg(destination);
      const quiet = !!opts.quiet || !(cli.streams.stderr as { isTTY?: boolean }).isTTY;
      try {
        if (srcContainer && dstContainer) throw new StatusError(1, "copying between containers is not supported");
        if (!srcContainer && !dstContainer) throw new StatusError(1, "must specify at least one container source");
        if (srcContainer) await copyFromContainer(cli, srcContainer, srcPath, dstPath, !!opts.followLink, quiet);
        else await copyToContainer(cli, srcPath, dstContainer, dstPath, !!opts.followLink, !!opts.archive, quiet);
      } catch (err) {
        if (err instanceof StatusError) throw err;
        throw new StatusError(1, describeError(err));
      }
    });
}

async function statPath(cli: CliContext, container: string, p: string): Promise<PathStat> {
  const res = await cli.client.request("HEAD", `/containers/${encodeURIComponent(container)}/archive`, { query: { path: p } });
  res.body.resume();
  const header = res.headers["x-docker-container-path-stat"];
  if (typeof header !== "string") throw new Error("unable to get resource stat from response");
  return JSON.parse(Buffer.from(header, "base64").toString("utf8")) as PathStat;
}

async function copyFromContainer(cli: CliContext, container: string, srcPath: string, dstPath: string, followLink: boolean, quiet: boolean): Promise<void> {
  if (dstPath !== "-") {
    dstPath = resolveLocalPath(dstPath);
    const dir = path.dirname(goClean(dstPath));
    if (!fs.existsSync(dir)) throw new Error(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
  }
  let rebaseName: string | undefined;
  if (followLink) {
    const st = await statPath(cli, container, srcPath).catch(() => undefined);
    if (st && st.mode & MODE_SYMLINK) {
      let target = st.linkTarget;
      if (!target.startsWith("/")) target = path.posix.join(splitPathDirEntry(srcPath)[0], target);
      [target, rebaseName] = getRebaseName(srcPath, target);
      srcPath = target;
    }
  }
  const res = await cli.client.request("GET", `/containers/${encodeURIComponent(container)}/archive`, { query: { path: srcPath } });
  const header = res.headers["x-docker-container-path-stat"];
  const stat = typeof header === "string" ? (JSON.parse(Buffer.from(header, "base64").toString("utf8")) as PathStat) : undefined;
  if (dstPath === "-") {
    await new Promise<void>((resolve, reject) => {
      res.body.on("error", reject);
      res.body.on("end", resolve);
      res.body.pipe(cli.streams.stdout, { end: false });
    });
    return;
  }
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir: !!stat && (stat.mode & MODE_DIR) !== 0, rebaseName };
  const first = rebaseName ? rebaser(goBase(srcPath), rebaseName) : (n: string) => n;
  const dstInfo = copyInfoDestinationPath(dstPath);
  const prep = prepareArchiveCopy(srcInfo, dstInfo);
  const copied = await untarLocal(res.body, prep.dir, (n) => prep.rename(first(n)));
  if (!quiet) cli.err(`Successfully copied ${humanSize(copied)} to ${dstPath}\n`);
}

async function copyToContainer(cli: CliContext, srcPath: string, container: string, dstPath: string, followLink: boolean, copyUIDGID: boolean, quiet: boolean): Promise<void> {
  if (srcPath !== "-") srcPath = resolveLocalPath(srcPath);
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let st: PathStat | undefined;
  let statErr: unknown;
  try {
    st = await statPath(cli, container, dstPath);
  } catch (err) {
    statErr = err;
  }
  if (st && st.mode & MODE_SYMLINK) {
    let target = st.linkTarget;
    if (!target.startsWith("/")) target = path.posix.join(splitPathDirEntry(dstPath)[0], target);
    dstInfo.path = target;
    st = undefined;
    try {
      st = await statPath(cli, container, target);
    } catch (err) {
      statErr = err;
    }
  }
  if (st && st.mode & (MODE_DEVICE | MODE_IRREGULAR)) {
    throw new Error(`destination "${container}:${dstPath}" must be a directory or a regular file: got ${st.mode & MODE_DEVICE ? "a device" : "an irregular file"}`);
  }
  if (statErr instanceof ApiError && statErr.status !== 404) throw statErr;
  if (st) {
    dstInfo.exists = true;
    dstInfo.isDir = (st.mode & MODE_DIR) !== 0;
  }
  let content: Readable;
  let resolvedDst: string;
  let size = 0;
  if (srcPath === "-") {
    if (!dstInfo.isDir) throw new Error(`destination "${container}:${dstPath}" must be a directory`);
    content = cli.streams.stdin as unknown as Readable;
    resolvedDst = dstInfo.path;
  } else {
    const srcInfo = copyInfoSourcePath(srcPath, followLink);
    const prep = prepareArchiveCopy(srcInfo, dstInfo);
    content = tarLocal(srcInfo, prep.rename, (n) => (size += n));
    resolvedDst = prep.dir;
  }
  const res = await cli.client.request("PUT", `/containers/${encodeURIComponent(container)}/archive`, {
    query: { path: resolvedDst, noOverwriteDirNonDir: "true", copyUIDGID: copyUIDGID ? "true" : undefined },
    rawBody: content,
  });
  res.body.resume();
  if (!quiet) cli.err(`Successfully copied ${humanSize(size)} to ${container}:${dstPath}\n`);
}
