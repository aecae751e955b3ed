// The overlay snapshotter (docker overlay2 / containerd overlayfs style).
//
//   <root>/layers/<chain hex>/diff         the layer's files, whiteouts in overlay's own form
//   <root>/layers/<chain hex>/layer.json   { chainID, parent, diffID, size, shortID }
//   <root>/l/<shortID> -> ../layers/<chain hex>/diff
//   <root>/containers/<id>/{upper,work,merged}, container.json { chainID }
//   <root>/tmp/                            applies and removals in progress; emptied at init
//   <root>/empty/                          the lower dir of a container on "scratch"
//   <root>/init/                           Docker's init layer, the top lower dir of every container
//
// The short links exist because overlay's mount options must fit in one page (4096 bytes):
// lowerdirs are given as "l/<26 chars>" relative to <root> (mounted with sys.mountAt), so an
// image of ~130 layers still mounts, whatever the length of <root>.
//
// When overlay cannot be mounted (mount fails with EINVAL/ENODEV: old kernel, or a data root
// on a filesystem overlay refuses as upper), a copying snapshotter (apply every layer with
// whiteouts "delete" into a per-container copy) is the fallback to add; not done yet.

import * as fs from "node:fs";
import { promises as fsp, mkdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { conflict, invalidParameter, isENOENT, notFound } from "../errdefs/index.js";
import { readJSONIfExists, syncDir, writeFileAtomic, writeFileReplace } from "../lib/index.js";
import { MNT_DETACH, mountAt, umount2 } from "../sys/index.js";
import { applyLayer, diffOverlay } from "../archive/index.js";

/** Beside <root>/init once it is complete. */
const INIT_LAYER_DONE = "init.done";

interface LayerMeta {
  chainID: string;
  parent?: string;
  diffID: string;
  size: number;
  shortID: string;
}

interface ContainerMeta {
  chainID?: string;
}

export interface ApplyLayerResult {
  diffID: string;
  chainID: string;
  size: number;
}

/** A layer unpacked in the snapshotter's staging area, not yet part of any chain. */
export interface StagedLayer {
  dir: string;
  diffID: string;
  size: number;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// Overlay's option string must fit in a page including its terminating NUL.
const MAX_MOUNT_DATA = 4095;

export class Snapshotter {
  readonly root: string;
  private readonly layers = new Map<string, LayerMeta>();
  /** GraphDriver.Data of each container, by ID (containerGraphData). */
  private readonly graphData = new Map<string, Record<string, string>>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /**
   * What dockerd puts in every container's "-init" layer (daemon/initlayer), whatever the image
   * holds at those paths: mount points (/proc, /sys, /dev/pts, /dev/shm, /dev/console and the
   * /etc files pierd binds), /.dockerenv (tools test it to know they run in a container) and
   * /etc/mtab -> /proc/mounts. The same for all containers, so one read-only dir serves them as
   * the top lower dir; made in tmp/ and renamed, so a crash never leaves half of it.
   */
  private async makeInitLayer(): Promise<void> {
    const dir = path.join(this.root, "init");
    const done = path.join(this.root, INIT_LAYER_DONE);
    if (fs.existsSync(done) && fs.existsSync(path.join(dir, ".dockerenv"))) return;
    const tmp = path.join(this.tmpDir(), `init-${randomBytes(4).toString("hex")}`);
    for (const d of ["dev/pts", "dev/shm", "proc", "sys", "etc"]) await fsp.mkdir(path.join(tmp, d), { recursive: true, mode: 0o755 });
    for (const f of [".dockerenv", "etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console"]) await fsp.writeFile(path.join(tmp, f), "", { mode: 0o755 });
    await fsp.symlink("/proc/mounts", path.join(tmp, "etc/mtab"));
    await fsp.chmod(tmp, 0o755);
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(tmp, dir);
    // The marker lives outside the layer's tree: a file inside would show in every container.
    await fsp.writeFile(done, "");
  }

  /** OCI ChainID: the layer's diffID at the bottom, sha256("<parent chain> <diffID>") above it. */
  static chainID(parent: string | undefined, diffID: string): string {
    if (!parent) return diffID;
    return `sha256:${createHash("sha256").update(`${parent} ${diffID}`).digest("hex")}`;
  }

  async init(): Promise<void> {
    for (const d of ["layers", "l", "containers", "tmp", "empty"]) await fsp.mkdir(path.join(this.root, d), { recursive: true, mode: 0o700 });
    // Half-done applies and removals of a crashed daemon.
    for (const name of await fsp.readdir(this.tmpDir())) await fsp.rm(path.join(this.tmpDir(), name), { recursive: true, force: true });
    await this.makeInitLayer();
    this.layers.clear();
    for (const hex of await fsp.readdir(path.join(this.root, "layers"))) {
      const dir = path.join(this.root, "layers", hex);
      const meta = await readJSONIfExists<LayerMeta>(path.join(dir, "layer.json")).catch(() => undefined);
      // A layer dir only appears by rename, after its metadata was written; anything else is junk.
      if (!meta || meta.chainID !== `sha256:${hex}`) {
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      this.layers.set(meta.chainID, meta);
    }
    // Layers whose parent is gone cannot be mounted: drop them, children first.
    for (let changed = true; changed; ) {
      changed = false;
      for (const meta of this.layers.values()) {
        if (meta.parent && !this.layers.has(meta.parent)) {
          await this.deleteLayerDir(meta);
          changed = true;
        }
      }
    }
    // Short links: recreate missing ones (crash between rename and symlink), drop dangling ones.
    const wanted = new Map([...this.layers.values()].map((m) => [m.shortID, m]));
    for (const short of await fsp.readdir(path.join(this.root, "l"))) {
      if (!wanted.has(short)) await fsp.rm(path.join(this.root, "l", short), { force: true });
    }
    for (const meta of wanted.values()) await this.ensureLink(meta);
  }

  hasLayer(chainID: string): boolean {
    return this.layers.has(chainID);
  }

  /**
   * Unpack a layer tar on top of `parentChainID`. The diffID is only known once the stream has
   * been read, so the layer is unpacked into tmp/ and renamed into place: a crash never leaves
   * a half layer under its chainID. If the caller knows the diffID (the image config lists
   * them) it can pass it: an existing layer is then not unpacked again, and a stream whose
   * content does not match is refused.
   */
  async applyLayer(parentChainID: string | undefined, tar: Readable, opts: { diffID?: string } = {}): Promise<ApplyLayerResult> {
    if (parentChainID !== undefined && !this.layers.has(parentChainID)) {
      tar.destroy();
      throw notFound(`parent layer ${parentChainID} not found`);
    }
    if (opts.diffID) {
      const existing = this.layers.get(Snapshotter.chainID(parentChainID, opts.diffID));
      if (existing) {
        tar.resume(); // drain & discard: the producer (a download) may want to finish
        return { diffID: existing.diffID, chainID: existing.chainID, size: existing.size };
      }
    }
    const staged = await this.stageLayer(tar);
    if (opts.diffID && opts.diffID !== staged.diffID) {
      await this.discardStaged(staged);
      throw invalidParameter(`layer content has diffID ${staged.diffID}, expected ${opts.diffID}`);
    }
    return this.commitStaged(parentChainID, staged);
  }

  /**
   * Unpack a layer tar into a staging directory, computing its diff ID on the way. The
   * diff directory of a layer does not depend on its parent, so a layer can be unpacked
   * before its place in a chain is known (image load unpacks while the archive streams).
   */
  async stageLayer(tar: Readable): Promise<StagedLayer> {
    const tmp = await fsp.mkdtemp(path.join(this.tmpDir(), "apply-"));
    try {
      await fsp.mkdir(path.join(tmp, "diff"), { mode: 0o755 });
      const { diffID, size } = await applyLayer(tar, path.join(tmp, "diff"), { whiteouts: "overlay", emptyDest: true });
      return { dir: tmp, diffID, size };
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Throw a staged layer away. */
  async discardStaged(staged: StagedLayer): Promise<void> {
    await fsp.rm(staged.dir, { recursive: true, force: true });
  }

  /** Make a staged layer the layer on top of `parentChainID` (it is gone from staging after). */
  async commitStaged(parentChainID: string | undefined, staged: StagedLayer): Promise<ApplyLayerResult> {
    const { diffID, size, dir: tmp } = staged;
    try {
      if (parentChainID !== undefined && !this.layers.has(parentChainID)) throw notFound(`parent layer ${parentChainID} not found`);
      const chainID = Snapshotter.chainID(parentChainID, diffID);
      const existing = this.layers.get(chainID);
      if (existing) return { diffID, chainID, size: existing.size };
      const meta: LayerMeta = { chainID, parent: parentChainID, diffID, size, shortID: shortID() };
      await writeFileAtomic(path.join(tmp, "layer.json"), JSON.stringify(meta));
      try {
        await fsp.rename(tmp, this.layerDir(chainID));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another apply of the same layer won the race (a layer dir only appears complete,
        // by rename): theirs is as good as ours.
        if (code === "ENOTEMPTY" || code === "EEXIST") return { diffID, chainID, size };
        throw err;
      }
      await syncDir(path.join(this.root, "layers"));
      await this.ensureLink(meta);
      this.layers.set(chainID, meta);
      return { diffID, chainID, size };
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  async removeLayer(chainID: string): Promise<void> {
    const meta = this.meta(chainID);
    for (const other of this.layers.values()) {
      if (other.parent === chainID) throw conflict(`layer ${chainID} is the parent of layer ${other.chainID}`);
    }
    for (const id of await fsp.readdir(path.join(this.root, "containers"))) {
      const c = await readJSONIfExists<ContainerMeta>(this.containerFile(id, "container.json")).catch(() => undefined);
      if (c?.chainID && this.chainIncludes(c.chainID, chainID)) {
        throw conflict(`layer ${chainID} is in use by container ${id}`);
      }
    }
    this.layers.delete(chainID);
    await this.deleteLayerDir(meta);
  }

  layerSize(chainID: string): number {
    return this.meta(chainID).size;
  }

  layerDiffID(chainID: string): string {
    return this.meta(chainID).diffID;
  }

  layerParent(chainID: string): string | undefined {
    return this.meta(chainID).parent;
  }

  /** The diff dirs of the layer and its ancestors, top-most first (overlay's lowerdir order). */
  lowerDirs(chainID: string): string[] {
    return this.ancestry(chainID).map((id) => path.join(this.layerDir(id), "diff"));
  }

  /** Mounts the container's overlay (once) and returns the merged dir. */
  async mountContainer(containerID: string, chainID: string | undefined): Promise<string> {
    checkContainerID(containerID);
    if (chainID !== undefined) this.meta(chainID);
    const dir = this.containerFile(containerID);
    const merged = path.join(dir, "merged");
    const metaFile = path.join(dir, "container.json");
    const prev = await readJSONIfExists<ContainerMeta>(metaFile);
    if (prev && prev.chainID !== chainID) {
      throw conflict(`container ${containerID} already has a filesystem on ${prev.chainID ?? "scratch"}`);
    }
    if (!prev) {
      for (const sub of ["upper", "work", "merged"]) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o755 });
      // Not fsynced: if a power loss takes it, the next mount finds no meta and writes it again
      // over the same (kept) upper dir. One fsync less on every first start.
      await writeFileReplace(metaFile, JSON.stringify({ chainID } satisfies ContainerMeta));
    } else if (isMounted(merged)) {
      return merged;
    }

    const lowers = ["init", ...(chainID === undefined ? ["empty"] : this.ancestry(chainID).map((id) => `l/${this.meta(id).shortID}`))];
    const rel = path.relative(this.root, dir);
    // index/redirect_dir/metacopy off: the upper dir must stay a plain diff that diffOverlay can
    // read (a renamed lower dir then copies up, as with Docker's overlay2 naive diff checks).
    const data = `lowerdir=${lowers.join(":")},upperdir=${rel}/upper,workdir=${rel}/work,index=off,redirect_dir=off,metacopy=off`;
    if (data.length > MAX_MOUNT_DATA) throw invalidParameter(`too many layers to mount (${lowers.length})`);
    mountAt(this.root, "overlay", merged, "overlay", 0, data);
    return merged;
  }

  /** No error when not mounted; a busy mount is detached (lazy unmount). */
  async unmountContainer(containerID: string): Promise<void> {
    checkContainerID(containerID);
    const merged = path.join(this.containerFile(containerID), "merged");
    while (isMounted(merged)) {
      try {
        umount2(merged, 0);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EBUSY") umount2(merged, MNT_DETACH);
        else if (code !== "EINVAL" && code !== "ENOENT") throw err;
        else break;
      }
    }
  }

  async removeContainer(containerID: string): Promise<void> {
    this.graphData.delete(containerID);
    await this.unmountContainer(containerID);
    const dir = this.containerFile(containerID);
    // Rename first so a crash mid-delete leaves junk in tmp/ (cleaned at init), not a half container.
    const trash = path.join(this.tmpDir(), `rm-${containerID}-${randomBytes(4).toString("hex")}`);
    try {
      await fsp.rename(dir, trash);
    } catch (err) {
      if (isENOENT(err)) return;
      throw err;
    }
    await fsp.rm(trash, { recursive: true, force: true });
  }

  containerUpperDir(containerID: string): string {
    checkContainerID(containerID);
    return path.join(this.containerFile(containerID), "upper");
  }

  /**
   * What inspect shows as GraphDriver.Data, in overlay2's words: the lower dirs top-most first
   * (the container's init layer, then the image's), the merged, upper and work dirs.
   */
  containerGraphData(containerID: string, chainID: string | undefined): Record<string, string> {
    // Fixed for the container's life (its image's chain cannot change): built once, as inspect
    // asks for it on every request.
    const known = this.graphData.get(containerID);
    if (known) return known;
    const data = this.buildGraphData(containerID, chainID);
    this.graphData.set(containerID, data);
    return data;
  }

  private buildGraphData(containerID: string, chainID: string | undefined): Record<string, string> {
    const dir = this.containerFile(containerID);
    let lowers = [path.join(this.root, "empty")];
    try {
      if (chainID !== undefined) lowers = this.lowerDirs(chainID);
    } catch {
      // The image's layers are gone (a forced image removal): the container's own dirs remain.
    }
    return {
      LowerDir: [path.join(this.root, "init"), ...lowers].join(":"),
      MergedDir: path.join(dir, "merged"),
      UpperDir: path.join(dir, "upper"),
      WorkDir: path.join(dir, "work"),
    };
  }

  /**
   * Bytes the container wrote (its SizeRw): every non-directory entry of its upper dir, each
   * inode once, as moby's overlay2 DiffSize counts. 0 before its first start made the dir.
   */
  containerRwSize(containerID: string): number {
    try {
      return treeBytes(this.containerUpperDir(containerID), () => true);
    } catch (err) {
      if (isENOENT(err)) return 0;
      throw err;
    }
  }

  /**
   * Take an unmounted container's upper dir as a staged layer, moved rather than unpacked
   * again from its own diff tar: an upper dir (mounted with index, redirect_dir and metacopy
   * off) is in the very format of a layer's diff dir, whiteouts and opaque markers included.
   * The container is left with an empty upper dir; `diffID` is that of diffContainer's tar.
   */
  async stageContainerUpper(containerID: string, diffID: string): Promise<StagedLayer> {
    const merged = path.join(this.containerFile(containerID), "merged");
    if (isMounted(merged)) throw conflict(`container ${containerID} is still mounted`);
    const upper = this.containerUpperDir(containerID);
    const tmp = await fsp.mkdtemp(path.join(this.tmpDir(), "apply-"));
    const diff = path.join(tmp, "diff");
    try {
      await fsp.rename(upper, diff);
      await fsp.mkdir(upper, { mode: 0o755 });
      // A layer's root carries no attributes of its own (apply never sets them).
      await fsp.chmod(diff, 0o755);
      await fsp.lchown(diff, 0, 0);
      return { dir: tmp, diffID, size: layerDirBytes(diff) };
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** The container's changes as a layer tar (whiteouts as `.wh.` entries). */
  diffContainer(containerID: string): Readable {
    return diffOverlay(this.containerUpperDir(containerID));
  }

  // ---- internals ----

  private meta(chainID: string): LayerMeta {
    const meta = this.layers.get(chainID);
    if (!meta) throw notFound(`layer ${chainID} not found`);
    return meta;
  }

  /** chainID, its parent, …, the bottom layer. */
  private ancestry(chainID: string): string[] {
    const out: string[] = [];
    for (let id: string | undefined = chainID; id !== undefined; id = this.layers.get(id)?.parent) {
      if (!this.layers.has(id)) throw notFound(`layer ${id} not found`);
      out.push(id);
    }
    return out;
  }

  private chainIncludes(top: string, chainID: string): boolean {
    for (let id: string | undefined = top; id !== undefined; id = this.layers.get(id)?.parent) if (id === chainID) return true;
    return false;
  }

  private layerDir(chainID: string): string {
    if (!DIGEST.test(chainID)) throw invalidParameter(`invalid chain ID ${JSON.stringify(chainID)}`);
    return path.join(this.root, "layers", chainID.slice("sha256:".length));
  }

  private containerFile(containerID: string, ...rest: string[]): string {
    return path.join(this.root, "containers", containerID, ...rest);
  }

  private tmpDir(): string {
    return path.join(this.root, "tmp");
  }

  private async ensureLink(meta: LayerMeta): Promise<void> {
    const link = path.join(this.root, "l", meta.shortID);
    const target = path.join("..", "layers", meta.chainID.slice("sha256:".length), "diff");
    try {
      await fsp.symlink(target, link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if ((await fsp.readlink(link)) !== target) {
        await fsp.rm(link, { force: true });
        await fsp.symlink(target, link);
      }
    }
  }

  private async deleteLayerDir(meta: LayerMeta): Promise<void> {
    this.layers.delete(meta.chainID);
    const trash = path.join(this.tmpDir(), `rm-${randomBytes(8).toString("hex")}`);
    try {
      await fsp.rename(this.layerDir(meta.chainID), trash);
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
    await fsp.rm(path.join(this.root, "l", meta.shortID), { force: true });
    await fsp.rm(trash, { recursive: true, force: true });
  }
}

function checkContainerID(id: string): void {
  if (!CONTAINER_ID.test(id)) throw invalidParameter(`invalid container ID ${JSON.stringify(id)}`);
}

/** 26 base32 characters, like Docker's overlay2 link names: short, and unguessable enough. */
function shortID(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = randomBytes(26);
  return Array.from(bytes, (b) => alphabet[b & 31]).join("");
}

/**
 * Whether something is mounted on `dir`: a mount gives it another device than its parent's
 * (an overlay has an anonymous one). Two stats instead of parsing /proc/self/mountinfo, which
 * grows with every running container.
 */
function isMounted(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(path.dirname(dir)).dev;
  } catch (err) {
    if (isENOENT(err)) return false;
    throw err;
  }
}

/**
 * Bytes of regular-file content under `dir`, each inode once (what an apply of its tar
 * counts). Sockets, which a layer tar leaves out, are removed on the way.
 */
function layerDirBytes(dir: string): number {
  return treeBytes(dir, (e, p) => {
    if (e.isSocket()) fs.rmSync(p);
    return e.isFile();
  });
}

/** The sizes of the entries under `dir` that `count` takes (directories are walked, never counted), each inode once. */
function treeBytes(dir: string, count: (e: fs.Dirent, p: string) => boolean): number {
  let total = 0;
  const seen = new Set<string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (count(e, p)) {
        const st = fs.lstatSync(p);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += st.size;
      }
    }
  };
  walk(dir);
  return total;
}
