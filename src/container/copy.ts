// Files of a container: docker cp (stat, archive out, extract in), export, diff, and the layer
// tar of commit. Reading or writing inside a container is done by the copy helper
// (copy-helper.ts: its own mount namespace, chrooted into the container's root with the
// container's volumes attached), never by pierd itself, so no path from a client or from the
// container can lead outside the container. Listing changes only reads names and metadata of
// the overlay upper dir, through descriptors opened with O_NOFOLLOW one component at a time.

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Readable, type Writable } from "node:stream";
import { invalidParameter, notFound, PierError, systemError } from "../errdefs/index.js";
import { compareStrings } from "../lib/index.js";
import { spawnStreaming, type SpawnedProcess } from "../sys/index.js";
import type { ContainerService } from "./service.js";
import type { ContainerRecord } from "./record.js";
import type { HelperMount, HelperSpec, PathStat } from "./copy-helper.js";

export type { PathStat } from "./copy-helper.js";

export interface FilesystemChange {
  Path: string;
  /** 0 modified, 1 added, 2 deleted */
  Kind: 0 | 1 | 2;
}

// From the container module or from the daemon bundle (dist/src/daemon/pierd.bundle.js): both
// sit one level below dist/src.
const HELPER = fileURLToPath(new URL("../container/copy-helper.js", import.meta.url));
const HELPER_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", TZ: "UTC", LC_ALL: "C" };

let ownMountNs: string | undefined;
function parentMountNs(): string {
  ownMountNs ??= fs.readlinkSync("/proc/self/ns/mnt");
  return ownMountNs;
}

interface HelperMessage {
  ready?: boolean;
  stat?: PathStat;
  done?: boolean;
  error?: { code?: string; kind: string; message: string };
}

/** A running copy helper: its control messages in order, its exit. */
class Helper {
  readonly child: SpawnedProcess;
  private readonly queue: HelperMessage[] = [];
  private waiting: ((m: HelperMessage) => void) | undefined;
  private stderr = "";
  readonly exited: Promise<number>;

  constructor(spec: HelperSpec, io: { stdin: boolean; stdout: boolean }) {
    // The host's unshare gives the whole helper process (every thread) a private mount
    // namespace from its first instruction; node and the helper script are the host's.
    this.child = spawnStreaming("unshare", ["--mount", "--propagation", "private", "--", process.execPath, "--no-warnings", HELPER, JSON.stringify(spec)], {
      stdio: [io.stdin ? "pipe" : "ignore", io.stdout ? "pipe" : "ignore", "pipe", "pipe"],
      env: HELPER_ENV,
    });
    // The tar on stdout is read only after the helper's first answer: paused (not merely
    // unread), so that an exit seen before the reader comes does not drain and drop it
    // (spawnProcess, like Node, flushes unread output when a child exits).
    this.child.stdout?.pause();
    let buf = "";
    const control = this.child.stdio[3] as Readable;
    control.setEncoding("utf8");
    control.on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.push(JSON.parse(line) as HelperMessage);
      }
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      if (this.stderr.length < 8192) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => {
        this.stderr += err.message;
        resolve(-1);
      });
      this.child.on("close", (code) => {
        this.push({ error: { kind: "System", message: `copy helper exited (${code}) without an answer${this.stderr ? `: ${this.stderr.trim()}` : ""}` } });
        resolve(code ?? -1);
      });
    });
  }

  private push(m: HelperMessage): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(m);
    } else this.queue.push(m);
  }

  /** The next control message (an exit without one becomes an error message). */
  next(): Promise<HelperMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Bind and volume mounts of a container as the helper attaches them: parents first. */
function helperMounts(c: ContainerRecord): HelperMount[] {
  return c.Mounts.filter((m) => (m.Type === "bind" || m.Type === "volume") && m.Source)
    .map((m) => ({ source: m.Source, destination: m.Destination, readonly: !m.RW }))
    .sort((a, b) => depth(a.destination) - depth(b.destination) || compareStrings(a.destination, b.destination));
}

const depth = (p: string) => p.split("/").filter(Boolean).length;

export class ContainerFiles {
  constructor(private readonly containers: ContainerService) {}

  /** HEAD /containers/{id}/archive. */
  async stat(ref: string, p: string): Promise<PathStat> {
    const { c, rootfs, release } = await this.containers.acquireRootfs(ref, { volumes: true });
    try {
      const h = new Helper({ op: "stat", root: rootfs, mounts: helperMounts(c), parentMountNs: parentMountNs(), path: p }, { stdin: false, stdout: false });
      const m = await firstAnswer(h);
      if (m.error) throw fileError(m.error, p, ref);
      await h.exited;
      return m.stat!;
    } finally {
      await release();
    }
  }

  /** GET /containers/{id}/archive: the stat, then the tar (which releases everything when it ends). */
  async archive(ref: string, p: string): Promise<{ stat: PathStat; tar: Readable }> {
    const { c, rootfs, release } = await this.containers.acquireRootfs(ref, { volumes: true });
    let h: Helper | undefined;
    try {
      h = new Helper({ op: "get", root: rootfs, mounts: helperMounts(c), parentMountNs: parentMountNs(), path: p }, { stdin: false, stdout: true });
      const m = await firstAnswer(h);
      if (m.error) throw fileError(m.error, p, ref);
      const tar = h.child.stdout!;
      const helper = h;
      void helper.exited.finally(() => void release());
      tar.once("close", () => helper.kill());
      this.containers.emit(c, "archive-path");
      return { stat: m.stat!, tar };
    } catch (err) {
      h?.kill();
      await release();
      throw err;
    }
  }

  /** PUT /containers/{id}/archive: unpack a (decompressed) tar into a directory of the container. */
  async extract(ref: string, p: string, input: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const { c, rootfs, release } = await this.containers.acquireRootfs(ref, { volumes: true });
    try {
      const h = new Helper(
        {
          op: "put",
          root: rootfs,
          mounts: helperMounts(c),
          parentMountNs: parentMountNs(),
          path: p,
          noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
          copyUIDGID: opts.copyUIDGID,
          user: c.Config.User ?? "",
          readonlyRootfs: !!c.HostConfig.ReadonlyRootfs,
        },
        { stdin: true, stdout: false },
      );
      const sink = h.child.stdin as Writable;
      sink.on("error", () => {}); // the helper may refuse (and exit) before reading everything
      input.on("error", () => h.kill());
      input.pipe(sink);
      const ready = await h.next();
      const m = ready.error ? ready : await h.next();
      if (m.error) {
        input.unpipe(sink);
        input.resume();
        h.kill();
        throw fileError(m.error, p, ref);
      }
      await h.exited;
      this.containers.emit(c, "extract-to-dir");
    } finally {
      await release();
    }
  }

  /** GET /containers/{id}/export: the container's root filesystem (without volumes) as a tar. */
  async export(ref: string): Promise<Readable> {
    const { c, rootfs, release } = await this.containers.acquireRootfs(ref);
    let h: Helper | undefined;
    try {
      h = new Helper({ op: "export", root: rootfs, parentMountNs: parentMountNs() }, { stdin: false, stdout: true });
      const m = await h.next();
      if (m.error) throw systemError(m.error.message);
      const helper = h;
      void helper.exited.finally(() => void release());
      helper.child.stdout!.once("close", () => helper.kill());
      this.containers.emit(c, "export");
      return helper.child.stdout!;
    } catch (err) {
      h?.kill();
      await release();
      throw err;
    }
  }

  /**
   * The container's changes as a layer tar (for commit), made in a chroot of its overlay upper
   * dir. The mount points runc makes for /etc/hosts, /etc/hostname, /etc/resolv.conf (and
   * /proc, /sys, /dev when the image lacks them) are left out, as Docker's init layer keeps
   * them out of a container's diff.
   */
  async layerTar(ref: string): Promise<Readable> {
    const c = this.containers.get(ref);
    const { upper } = this.containers.layerDirs(c.Id);
    // Never started: no upper dir yet, so no changes (an empty tar is two zero blocks).
    if (!fs.existsSync(upper)) return Readable.from([Buffer.alloc(1024)]);
    const h = new Helper({ op: "layer", root: upper, parentMountNs: parentMountNs(), exclude: initArtifacts(upper) }, { stdin: false, stdout: true });
    const m = await h.next();
    if (m.error) {
      h.kill();
      throw systemError(m.error.message);
    }
    h.child.stdout!.once("close", () => h.kill());
    // An error after the start (the helper failing mid-tar) must fail the stream, not end it.
    void h.exited.then(async (code) => {
      if (code !== 0) h.child.stdout!.destroy(systemError(`layer tar failed: exit ${code}`));
    });
    return h.child.stdout!;
  }

  /** GET /containers/{id}/changes (moby's overlay changes walk). */
  changes(ref: string): FilesystemChange[] {
    const c = this.containers.get(ref);
    const { upper, lowers } = this.containers.layerDirs(c.Id);
    return overlayChanges(upper, lowers);
  }
}

async function firstAnswer(h: Helper): Promise<HelperMessage> {
  const m = await h.next();
  if (m.error || m.stat) return m;
  return h.next(); // after "ready"
}

function fileError(e: NonNullable<HelperMessage["error"]>, p: string, ref: string): PierError {
  if (e.code === "ENOENT" || e.kind === "NotFound") return notFound(`Could not find the file ${p} in container ${ref}`);
  if (e.kind === "InvalidParameter") return invalidParameter(e.message);
  if (e.kind === "Conflict") return new PierError("Conflict", e.message);
  return systemError(e.message);
}

// ------------------------------------------------------------------ changes

const O_DIRECTORY = fs.constants.O_DIRECTORY;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW;

/** Paths runc creates in a container's rootfs as mount points; Docker's init layer holds them. */
const INIT_FILES = new Set(["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv", "/etc/mtab"]);
const INIT_DIRS = new Set(["/proc", "/sys", "/dev"]);

/** Which of those the upper dir holds as bare mount points (empty file, empty dir). */
function initArtifacts(upper: string): string[] {
  const out: string[] = [];
  for (const p of [...INIT_FILES, ...INIT_DIRS]) {
    const st = lstatInside(upper, p);
    if (!st) continue;
    if (INIT_FILES.has(p) && st.isFile() && st.size === 0) out.push(p.slice(1));
    if (INIT_DIRS.has(p) && st.isDirectory() && dirEmptyInside(upper, p)) out.push(`${p.slice(1)}/`);
  }
  return out;
}

/** lstat of upper+p without following any symlink on the way (components opened O_NOFOLLOW). */
function lstatInside(upper: string, p: string): fs.Stats | undefined {
  const comps = p.split("/").filter(Boolean);
  let fd: number;
  try {
    fd = fs.openSync(upper, fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    for (const comp of comps.slice(0, -1)) {
      const next = fs.openSync(`/proc/self/fd/${fd}/${comp}`, fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      fs.closeSync(fd);
      fd = next;
    }
    return fs.lstatSync(`/proc/self/fd/${fd}/${comps[comps.length - 1]}`);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function dirEmptyInside(upper: string, p: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(upper, fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    for (const comp of p.split("/").filter(Boolean)) {
      const next = fs.openSync(`/proc/self/fd/${fd}/${comp}`, fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      fs.closeSync(fd);
      fd = next;
    }
    return fs.readdirSync(`/proc/self/fd/${fd}`).length === 0;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * moby's archive.OverlayChanges: walk the upper dir in lexical order; a whiteout is a delete,
 * a path that exists in a lower layer is a modification (a directory only if its size, mode or
 * mtime differ), anything else an addition; the parent of an addition or deletion is reported
 * modified once. Directories are opened one component at a time with O_NOFOLLOW, so a running
 * container that swaps a directory for a symlink cannot make pierd list a host directory.
 */
export function overlayChanges(upper: string, lowers: string[]): FilesystemChange[] {
  const changes: FilesystemChange[] = [];
  const changedDirs = new Set<string>();
  const lowerStat = (p: string): fs.Stats | undefined => {
    for (const l of lowers) {
      const st = lstatInside(l, p);
      if (st) return st;
    }
    return undefined;
  };
  const visit = (dirFd: number, dir: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(`/proc/self/fd/${dirFd}`).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(`/proc/self/fd/${dirFd}/${name}`);
      } catch {
        continue;
      }
      let kind: 0 | 1 | 2 | undefined;
      let record = true;
      if (st.isCharacterDevice() && st.rdev === 0) kind = 2;
      else {
        kind = 1;
        const lst = lowerStat(p);
        if (lst) {
          kind = 0;
          if (lst.isDirectory() && st.isDirectory()) {
            const sameTime = lst.mtimeMs === st.mtimeMs || (Math.floor(lst.mtimeMs / 1000) === Math.floor(st.mtimeMs / 1000) && (lst.mtimeMs % 1000 === 0 || st.mtimeMs % 1000 === 0));
            if (lst.size === st.size && lst.mode === st.mode && sameTime) record = false;
          }
        }
      }
      // runc's mount points (Docker keeps them in its init layer): not changes of the container.
      if (INIT_FILES.has(p) && st.isFile() && st.size === 0) record = false;
      if (INIT_DIRS.has(p) && st.isDirectory() && kind === 1) record = false;
      if (record) {
        if (st.isDirectory()) changedDirs.add(p);
        if (kind === 1 || kind === 2) {
          const parent = path.posix.dirname(p);
          if (!changedDirs.has(parent) && parent !== "/") {
            changes.push({ Path: parent, Kind: 0 });
            changedDirs.add(parent);
          }
        }
        changes.push({ Path: p, Kind: kind });
      }
      if (st.isDirectory()) {
        let fd: number;
        try {
          fd = fs.openSync(`/proc/self/fd/${dirFd}/${name}`, fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        } catch {
          continue;
        }
        try {
          visit(fd, p);
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  };
  let root: number;
  try {
    root = fs.openSync(upper, fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return []; // never started: no changes yet
    throw err;
  }
  try {
    visit(root, "/");
  } finally {
    fs.closeSync(root);
  }
  // A directory whose only "change" is the mount points above (its mtime moved when runc made
  // them) is not reported either, unless something else in it changed.
  return changes.filter((ch) => !(ch.Kind === 0 && onlyInitBelow(ch.Path, changes, upper, lowers)));
}

function onlyInitBelow(dir: string, changes: FilesystemChange[], upper: string, lowers: string[]): boolean {
  const prefix = dir === "/" ? "/" : `${dir}/`;
  if (changes.some((c) => c.Path.startsWith(prefix))) return false;
  const hasInit = [...INIT_FILES, ...INIT_DIRS].some((p) => p.startsWith(prefix) && path.posix.dirname(p) === dir && lstatInside(upper, p));
  if (!hasInit) return false;
  const up = lstatInside(upper, dir);
  const low = lowers.map((l) => lstatInside(l, dir)).find(Boolean);
  return !!up && !!low && up.isDirectory() && low.isDirectory() && up.mode === low.mode && up.uid === low.uid && up.gid === low.gid;
}
