import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { Readable, Transform } from "node:stream";
import { createGunzip, decompressStream, detectCompression } from "../archive/index.js";
import { ContentStore, digestOf, isDigest } from "../content/index.js";
import { conflict, invalidParameter, isKind, notFound, notImplemented, systemError } from "../errdefs/index.js";
import type { EventBus } from "../events/index.js";
import { compareStrings, readJSONIfExists, rfc3339Nano, shortID, silentLogger, writeFileAtomic, type Logger, ZERO_TIME } from "../lib/index.js";
import { RecordStore } from "../metadata/index.js";
import {
  MediaTypes,
  familiarName,
  familiarString,
  hostArchitecture,
  parseNormalizedNamed,
  parseReference,
  type ContainerConfigDefaults,
  type Descriptor,
  type ImageConfig,
  type Index,
  type Manifest,
  type Reference,
} from "../oci/index.js";
import { Snapshotter, type StagedLayer } from "../snapshot/index.js";
import { archivePath, readArchiveBytes, readArchiveJSON, readImageArchive, type ArchiveIndex } from "./archive-reader.js";
import { imageArchive, type ArchiveImage } from "./archive-writer.js";
import { applyChanges } from "./changes.js";
import type {
  ApiImageConfig,
  HistoryResponseItem,
  ImageDeleteResponseItem,
  ImageInspect,
  ImageRecord,
  ImagesPruneReport,
  ImageSummary,
  ImageUser,
  LayerRecord,
  UsedBy,
} from "./types.js";
import {
  filterBool,
  goPathMatch,
  matchKVList,
  parseUntil,
  progressString,
  timeMs,
  unixSeconds,
  validateFilters,
  versionLess,
} from "./util.js";

export interface ImageServiceOptions {
  /** <data-root>/image */
  root: string;
  content: ContentStore;
  snapshots: Snapshotter;
  events: EventBus;
  logger?: Logger;
}

export interface ListOptions {
  all?: boolean;
  filters?: Record<string, string[]>;
  /** Accepted for the API's sake: RepoDigests are always filled. */
  digests?: boolean;
  sharedSize?: boolean;
  /** Number of containers per image; Containers is -1 without it. */
  containerCount?: (imageID: string) => number;
  /** API version of the request: VirtualSize is added below 1.44. */
  apiVersion?: string;
}

export interface BlobRef {
  digest: string;
  mediaType?: string;
  size?: number;
}

export interface CreateImageOptions {
  /** One blob per diff ID (in the content store); layers already in the snapshotter may omit it. */
  layers?: BlobRef[];
  parent?: string;
  /** Tags to set (familiar or full references). */
  tags?: string[];
  repoDigests?: string[];
  manifests?: string[];
  /** Layers already unpacked (by blob digest) while an archive streamed in; used ones are removed. */
  staged?: Map<string, StagedLayer>;
  /** Called while a layer is being applied. */
  onLayerProgress?: (diffID: string, current: number, total: number, done: boolean) => void;
}

export type ProgressLine = Record<string, unknown>;

const API_LATEST = "1.45";

interface ParsedImage {
  config: Buffer;
  layers: BlobRef[];
  repoTags: Reference[];
}
const LOAD_PROGRESS_INTERVAL_MS = 200;

interface ParsedRef {
  ref: Reference;
  familiar: string;
  name: string;
  canonical: boolean;
}

function parsedRef(s: string): ParsedRef {
  const ref = parseReference(s);
  return { ref, familiar: familiarString(ref), name: familiarName(ref), canonical: ref.digest !== undefined };
}

const hexOf = (id: string) => (id.startsWith("sha256:") ? id.slice(7) : id);
const toID = (s: string) => (s.startsWith("sha256:") ? s : `sha256:${s}`);

function normalizeUser(u: string | ImageUser): ImageUser {
  return typeof u === "string" ? { id: u, running: false } : u;
}

/** Docker's container.Config shape, as image inspect prints it. */
export function apiConfig(c: ContainerConfigDefaults | undefined | null): ApiImageConfig {
  const src = (c ?? {}) as Record<string, unknown>;
  const out: ApiImageConfig = {
    Hostname: (src.Hostname as string) ?? "",
    Domainname: (src.Domainname as string) ?? "",
    User: (src.User as string) ?? "",
    AttachStdin: (src.AttachStdin as boolean) ?? false,
    AttachStdout: (src.AttachStdout as boolean) ?? false,
    AttachStderr: (src.AttachStderr as boolean) ?? false,
    ...(src.ExposedPorts ? { ExposedPorts: src.ExposedPorts as Record<string, object> } : {}),
    Tty: (src.Tty as boolean) ?? false,
    OpenStdin: (src.OpenStdin as boolean) ?? false,
    StdinOnce: (src.StdinOnce as boolean) ?? false,
    Env: (src.Env as string[] | null) ?? null,
    Cmd: (src.Cmd as string[] | null) ?? null,
    ...(src.Healthcheck ? { Healthcheck: src.Healthcheck as ApiImageConfig["Healthcheck"] } : {}),
    ...(src.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: (src.Image as string) ?? "",
    Volumes: (src.Volumes as Record<string, object> | null) ?? null,
    WorkingDir: (src.WorkingDir as string) ?? "",
    Entrypoint: (src.Entrypoint as string[] | null) ?? null,
    OnBuild: (src.OnBuild as string[] | null) ?? null,
    Labels: (src.Labels as Record<string, string> | null) ?? null,
  };
  for (const [k, v] of Object.entries(src)) {
    if (!(k in out) && v !== undefined && k !== "ExposedPorts" && k !== "Healthcheck" && k !== "ArgsEscaped") out[k] = v;
  }
  return out;
}

class DeleteConflict {
  constructor(
    readonly imgID: string,
    readonly hard: boolean,
    readonly used: boolean,
    readonly message: string,
  ) {}
  error() {
    return conflict(`conflict: unable to delete ${shortID(this.imgID)} (${this.hard ? "cannot be forced" : "must be forced"}) - ${this.message}`);
  }
}

const CONFLICT_DEPENDENT_CHILD = 1;
const CONFLICT_RUNNING = 2;
const CONFLICT_ACTIVE_REFERENCE = 4;
const CONFLICT_STOPPED = 8;
const CONFLICT_HARD = CONFLICT_DEPENDENT_CHILD | CONFLICT_RUNNING;
const CONFLICT_SOFT = CONFLICT_ACTIVE_REFERENCE | CONFLICT_STOPPED;

/**
 * The image store: records (one per image, keyed by the sha256 of the config bytes), tags,
 * configs and layer blobs in the content store, unpacked layers in the snapshotter.
 *
 * Layer blobs are kept (containerd-style): each layer's blob as it arrived (the uncompressed
 * tar from `docker load`/import, the compressed blob from a pull) stays in the content store,
 * so `save` streams the very bytes whose sha256 is the diff ID instead of re-tarring an
 * unpacked directory (which never reproduces the original bytes).
 */
export class ImageService {
  readonly root: string;
  private readonly content: ContentStore;
  private readonly snapshots: Snapshotter;
  private readonly events: EventBus;
  private readonly log: Logger;
  private readonly store: RecordStore<ImageRecord>;
  private readonly configs = new Map<string, ImageConfig>();
  /** familiar "name:tag" → image ID; familiar "name@digest" → image ID. */
  private readonly tags = new Map<string, string>();
  private readonly digests = new Map<string, string>();
  /** Blobs in use by operations in progress: garbage collection leaves them alone. */
  private readonly pins = new Map<string, number>();
  /** Chain IDs of deleted images kept because containers still used them. */
  private orphanLayers = new Set<string>();
  private lock: Promise<unknown> = Promise.resolve();
  private pruneRunning = false;

  constructor(opts: ImageServiceOptions) {
    this.root = opts.root;
    this.content = opts.content;
    this.snapshots = opts.snapshots;
    this.events = opts.events;
    this.log = opts.logger ?? silentLogger;
    this.store = new RecordStore<ImageRecord>(path.join(opts.root, "images"));
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    const records = await this.store.load();
    for (const [key, rec] of [...records]) {
      try {
        const bytes = await this.content.readBytes(rec.id);
        this.configs.set(rec.id, JSON.parse(bytes.toString("utf8")) as ImageConfig);
      } catch (err) {
        this.log.warn("image config missing, dropping image record", { id: rec.id, err });
        await this.store.delete(key);
        continue;
      }
    }
    // Index tags; a tag found on two images (a crash between moving it off one record and
    // onto another) stays with the image tagged last.
    const sorted = [...this.store.values()].sort((a, b) => compareStrings(a.lastTagTime ?? "", b.lastTagTime ?? ""));
    for (const rec of sorted) {
      for (const t of rec.repoTags) {
        const prev = this.tags.get(t);
        if (prev && prev !== rec.id) {
          const other = this.store.get(hexOf(prev))!;
          await this.store.put(hexOf(prev), { ...other, repoTags: other.repoTags.filter((x) => x !== t) });
        }
        this.tags.set(t, rec.id);
      }
      for (const d of rec.repoDigests) this.digests.set(d, rec.id);
    }
    const orphans = await readJSONIfExists<string[]>(path.join(this.root, "orphan-layers.json"));
    this.orphanLayers = new Set(orphans ?? []);
  }

  // ---------------------------------------------------------------- lookup

  /** By name[:tag], name@digest, full or unique short ID. NotFound "No such image: …". */
  resolve(refOrID: string): ImageRecord {
    const rec = this.lookup(refOrID);
    if (rec) return rec;
    throw notFound(`No such image: ${this.missingName(refOrID)}`);
  }

  /** Like resolve, undefined when missing (invalid references still throw). */
  lookup(refOrID: string): ImageRecord | undefined {
    if (/^[a-f0-9]{64}$/.test(refOrID)) return this.store.get(refOrID);
    if (/^sha256:[a-f0-9]{64}$/.test(refOrID)) return this.store.get(refOrID.slice(7));
    const ref = parseNormalizedNamed(refOrID);
    const key = familiarString(ref);
    const id = ref.digest ? this.digests.get(key) : this.tags.get(key);
    if (id) {
      const rec = this.store.get(hexOf(id));
      if (rec) return rec;
    }
    return this.searchID(refOrID);
  }

  private searchID(s: string): ImageRecord | undefined {
    const h = s.startsWith("sha256:") ? s.slice(7) : s;
    if (!/^[a-f0-9]{1,64}$/.test(h)) return undefined;
    let found: ImageRecord | undefined;
    for (const [key, rec] of this.store.entries()) {
      if (!key.startsWith(h)) continue;
      if (found) return undefined; // ambiguous: Docker reports it as missing
      found = rec;
    }
    return found;
  }

  private missingName(refOrID: string): string {
    if (/^[a-f0-9]{64}$/.test(refOrID)) return `sha256:${refOrID}`;
    if (/^sha256:[a-f0-9]{64}$/.test(refOrID)) return refOrID;
    try {
      return familiarString(parseNormalizedNamed(refOrID));
    } catch {
      return refOrID;
    }
  }

  get(id: string): ImageRecord | undefined {
    return this.store.get(hexOf(id));
  }

  /** Every image record. */
  all(): ImageRecord[] {
    return [...this.store.values()];
  }

  chainIDOf(imageID: string): string | undefined {
    return this.get(imageID)?.chainID;
  }

  imageConfig(imageID: string): ImageConfig {
    const c = this.configs.get(toID(imageID));
    if (!c) throw notFound(`No such image: ${toID(imageID)}`);
    return c;
  }

  /**
   * Record `parentID` as the parent of `id` (moby's store.SetParent): the builder's cache
   * does it when an image loaded for --cache-from turns out to continue a local chain, so
   * later builds find it among that parent's children.
   */
  setParent(id: string, parentID: string): Promise<void> {
    return this.withLock(async () => {
      const rec = this.get(id);
      if (!rec) throw notFound(`No such image: ${toID(id)}`);
      if (!this.get(parentID)) throw notFound(`No such image: ${toID(parentID)}`);
      if (rec.parent === toID(parentID)) return;
      await this.store.put(hexOf(id), { ...rec, parent: toID(parentID) });
    });
  }

  private children(id: string): ImageRecord[] {
    const out: ImageRecord[] = [];
    for (const r of this.store.values()) if (r.parent === id) out.push(r);
    return out;
  }

  private labelsOf(id: string): Record<string, string> {
    return this.configs.get(id)?.config?.Labels ?? {};
  }

  private event(action: string, id: string, name: string = id): void {
    const attrs: Record<string, string> = { ...this.labelsOf(id), name };
    this.events.publish({ Type: "image", Action: action, ID: id, Attributes: attrs });
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  private pin(d: string): void {
    this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
  }

  private unpin(d: string): void {
    const n = (this.pins.get(d) ?? 0) - 1;
    if (n <= 0) this.pins.delete(d);
    else this.pins.set(d, n);
  }

  // ---------------------------------------------------------------- list / inspect / history

  list(opts: ListOptions = {}): ImageSummary[] {
    const filters = validateFilters(opts.filters, ["dangling", "label", "before", "since", "reference", "until"]);
    const dangling = filters.dangling ? filterBool("dangling", filters.dangling) : undefined;
    const danglingOnly = dangling === true;
    let beforeMs: number | undefined;
    let sinceMs: number | undefined;
    for (const v of filters.before ?? []) beforeMs = timeMs(this.resolve(v).created) ?? 0;
    for (const v of filters.since ?? []) sinceMs = timeMs(this.resolve(v).created) ?? 0;
    const untilMs = parseUntil(filters.until);
    const refPatterns = filters.reference;

    const all = [...this.store.values()];
    const hasChildren = new Set<string>();
    for (const r of all) if (r.parent) hasChildren.add(r.parent);

    const out: ImageSummary[] = [];
    for (const rec of all) {
      if (danglingOnly && hasChildren.has(rec.id)) continue;
      const created = timeMs(rec.created) ?? 0;
      if (beforeMs !== undefined && created >= beforeMs) continue;
      if (sinceMs !== undefined && created <= sinceMs) continue;
      if (untilMs !== undefined && created > untilMs) continue;
      const cfg = this.configs.get(rec.id);
      if (filters.label && !matchKVList(filters.label, cfg?.config?.Labels)) continue;

      const match = (s: string) => {
        if (!refPatterns) return true;
        const p = parsedRef(s);
        return refPatterns.some((pat) => goPathMatch(pat, p.familiar) || goPathMatch(pat, p.name));
      };
      const repoTags = rec.repoTags.filter(match);
      const repoDigests = rec.repoDigests.filter(match);
      if (danglingOnly && repoTags.length > 0) continue;
      if (repoTags.length === 0 && repoDigests.length === 0) {
        if ((!opts.all && hasChildren.has(rec.id)) || dangling === false || refPatterns) continue;
        repoTags.push("<none>:<none>");
        repoDigests.push("<none>@<none>");
      }
      const summary: ImageSummary = {
        Containers: opts.containerCount ? opts.containerCount(rec.id) : -1,
        Created: unixSeconds(rec.created) ?? 0,
        Id: rec.id,
        Labels: cfg?.config?.Labels ?? {},
        ParentId: rec.parent ?? "",
        RepoDigests: repoDigests,
        RepoTags: repoTags,
        SharedSize: -1,
        Size: rec.size,
      };
      if (opts.apiVersion && versionLess(opts.apiVersion, "1.44")) summary.VirtualSize = rec.size;
      out.push(summary);
    }

    if (opts.sharedSize) {
      // As moby: a layer is shared when two of the listed images use it (a build's untagged
      // intermediates, which are not listed, share nothing).
      const listed = out.map((s) => this.store.get(hexOf(s.Id))!);
      const refs = new Map<string, number>();
      for (const r of listed) for (const c of this.chainsOf(r)) refs.set(c, (refs.get(c) ?? 0) + 1);
      for (const s of out) {
        const rec = this.store.get(hexOf(s.Id))!;
        s.SharedSize = 0;
        for (const c of this.chainsOf(rec)) if ((refs.get(c) ?? 0) > 1) s.SharedSize += this.layerSize(c);
      }
    }
    out.sort((a, b) => b.Created - a.Created);
    return out;
  }

  /**
   * /system/df's LayersSize (moby's LayerDiskUsage): each layer once, of the images that are
   * tagged or have no children (untagged build intermediates' layers are their children's).
   */
  layersSize(): number {
    const all = [...this.store.values()];
    const hasChildren = new Set<string>();
    for (const r of all) if (r.parent) hasChildren.add(r.parent);
    const chains = new Set<string>();
    for (const r of all) {
      if (r.repoTags.length + r.repoDigests.length === 0 && hasChildren.has(r.id)) continue;
      for (const c of this.chainsOf(r)) chains.add(c);
    }
    let total = 0;
    for (const c of chains) total += this.layerSize(c);
    return total;
  }

  inspect(refOrID: string, opts: { apiVersion?: string } = {}): ImageInspect {
    const rec = this.resolve(refOrID);
    const cfg = this.configs.get(rec.id) ?? ({ architecture: "", os: "", rootfs: { type: "layers", diff_ids: [] } } as ImageConfig);
    const version = opts.apiVersion ?? API_LATEST;
    let comment = cfg.comment ?? "";
    if (comment === "" && cfg.history && cfg.history.length > 0) comment = cfg.history[cfg.history.length - 1]!.comment ?? "";
    const out: ImageInspect = {
      Id: rec.id,
      RepoTags: [...rec.repoTags],
      RepoDigests: [...rec.repoDigests],
      Parent: rec.parent ?? "",
      Comment: comment,
      ...(cfg.created ? { Created: cfg.created } : {}),
      DockerVersion: cfg.docker_version ?? "",
      Author: cfg.author ?? "",
      Config: apiConfig(cfg.config),
      Architecture: cfg.architecture ?? "",
      ...(cfg.variant ? { Variant: cfg.variant } : {}),
      Os: cfg.os || "linux",
      ...((cfg as { "os.version"?: string })["os.version"] ? { OsVersion: (cfg as { "os.version"?: string })["os.version"] } : {}),
      Size: rec.size,
      GraphDriver: { Name: "overlay2", Data: this.graphDriverData(rec) },
      RootFS: { Type: cfg.rootfs?.type ?? "layers", ...(cfg.rootfs?.diff_ids?.length ? { Layers: [...cfg.rootfs.diff_ids] } : {}) },
      Metadata: { LastTagTime: rec.lastTagTime ?? ZERO_TIME },
    };
    if (versionLess(version, "1.45")) {
      out.Container = cfg.container ?? "";
      out.ContainerConfig = apiConfig(cfg.container_config);
    }
    if (versionLess(version, "1.44")) {
      out.VirtualSize = rec.size;
      if (out.Created === undefined) out.Created = ZERO_TIME;
    }
    return out;
  }

  private graphDriverData(rec: ImageRecord): Record<string, string> {
    if (!rec.chainID) return {};
    let dirs: string[];
    try {
      dirs = this.snapshots.lowerDirs(rec.chainID);
    } catch {
      return {};
    }
    if (dirs.length === 0) return {};
    const upper = dirs[0]!;
    const data: Record<string, string> = {};
    if (dirs.length > 1) data.LowerDir = dirs.slice(1).join(":");
    const base = path.basename(upper) === "diff" ? path.dirname(upper) : undefined;
    if (base) data.MergedDir = path.join(base, "merged");
    data.UpperDir = upper;
    if (base) data.WorkDir = path.join(base, "work");
    return data;
  }

  history(refOrID: string): HistoryResponseItem[] {
    const rec = this.resolve(refOrID);
    const cfg = this.imageConfig(rec.id);
    const diffIDs = cfg.rootfs?.diff_ids ?? [];
    const items: HistoryResponseItem[] = [];
    let layer = 0;
    let chain: string | undefined;
    for (const h of cfg.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        if (layer >= diffIDs.length) throw systemError("too many non-empty layers in History section");
        chain = Snapshotter.chainID(chain, diffIDs[layer]!);
        size = this.layerSize(chain);
        layer++;
      }
      items.unshift({
        Comment: h.comment ?? "",
        Created: unixSeconds(h.created) ?? 0,
        CreatedBy: h.created_by ?? "",
        Id: "<missing>",
        Size: size,
        Tags: [],
      });
    }
    let cur: ImageRecord | undefined = rec;
    for (const item of items) {
      if (!cur) break;
      item.Id = cur.id;
      item.Tags = [...cur.repoTags];
      cur = cur.parent ? this.get(cur.parent) : undefined;
    }
    return items;
  }

  private chainsOf(rec: ImageRecord): string[] {
    const out: string[] = [];
    let chain: string | undefined;
    for (const l of rec.layers) {
      chain = Snapshotter.chainID(chain, l.diffID);
      out.push(chain);
    }
    return out;
  }

  private layerSize(chainID: string): number {
    try {
      return this.snapshots.layerSize(chainID);
    } catch {
      return 0;
    }
  }

  // ---------------------------------------------------------------- tags

  /** Tag an image (Docker's POST /images/{name}/tag): moves the tag off any other image. */
  async tag(source: string, repo: string, tag?: string): Promise<void> {
    const ref = this.tagReference(repo, tag);
    const rec = this.resolve(source);
    return this.withLock(async () => {
      const cur = this.get(rec.id);
      if (!cur) throw notFound(`No such image: ${this.missingName(source)}`);
      await this.setTag(ref, cur.id);
      const latest = this.get(cur.id)!;
      await this.store.put(hexOf(cur.id), { ...latest, lastTagTime: rfc3339Nano(Date.now()) });
      this.event("tag", cur.id, familiarString(ref));
    });
  }

  /** Validate repo[:tag] as Docker's RepoTagReference does; the result always has a tag. */
  private tagReference(repo: string, tag?: string): Reference {
    if (!repo) throw invalidParameter("repository name must have at least one component");
    const ref = parseNormalizedNamed(repo);
    if (ref.digest) throw invalidParameter("cannot tag digested reference");
    if (tag) {
      if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw invalidParameter(`invalid tag format`);
      ref.tag = tag;
    }
    const name = familiarName(ref);
    if (name === "sha256") throw invalidParameter("refusing to create an ambiguous tag using digest algorithm as name");
    if (/^[a-f0-9]{64}$/.test(ref.path.replace(/^library\//, ""))) {
      throw invalidParameter(`invalid repository name (${name}), cannot specify 64-byte hexadecimal strings`);
    }
    return ref;
  }

  /** Point a tag (or digest reference) at an image; returns the image it was taken from. */
  private async setTag(ref: Reference, id: string): Promise<string | undefined> {
    const key = familiarString(ref);
    const index = ref.digest ? this.digests : this.tags;
    const prev = index.get(key);
    if (prev === id) return undefined;
    if (prev) {
      const old = this.get(prev);
      if (old) {
        await this.store.put(hexOf(prev), {
          ...old,
          repoTags: old.repoTags.filter((t) => t !== key),
          repoDigests: old.repoDigests.filter((t) => t !== key),
        });
      }
    }
    const rec = this.get(id)!;
    const next = { ...rec };
    if (ref.digest) next.repoDigests = [...rec.repoDigests.filter((t) => t !== key), key];
    else next.repoTags = [...rec.repoTags.filter((t) => t !== key), key];
    await this.store.put(hexOf(id), next);
    index.set(key, id);
    return prev;
  }

  private async removeRef(familiar: string): Promise<void> {
    const p = parsedRef(familiar);
    const index = p.canonical ? this.digests : this.tags;
    const id = index.get(p.familiar);
    if (!id) throw notFound(`No such image: ${p.familiar}`);
    const rec = this.get(id);
    index.delete(p.familiar);
    if (rec) {
      await this.store.put(hexOf(id), {
        ...rec,
        repoTags: rec.repoTags.filter((t) => t !== p.familiar),
        repoDigests: rec.repoDigests.filter((t) => t !== p.familiar),
      });
    }
  }

  // ---------------------------------------------------------------- remove / prune

  /** Docker's DELETE /images/{name}. `usedBy` lists the containers using an image. */
  remove(refOrID: string, opts: { force?: boolean; noprune?: boolean }, usedBy: UsedBy = () => []): Promise<ImageDeleteResponseItem[]> {
    return this.withLock(() => this.removeLocked(refOrID, !!opts.force, !opts.noprune, usedBy));
  }

  private async removeLocked(refOrID: string, force: boolean, prune: boolean, usedBy: UsedBy): Promise<ImageDeleteResponseItem[]> {
    const rec = this.resolve(refOrID);
    const imgID = rec.id;
    const records: ImageDeleteResponseItem[] = [];
    const refs = () => {
      const r = this.get(imgID)!;
      return [...r.repoTags, ...r.repoDigests].map(parsedRef);
    };
    let repoRefs = refs();
    let removedRepositoryRef = false;

    if (!isImageIDPrefix(imgID, refOrID)) {
      if (!force && isSingleReference(repoRefs)) {
        const user = usedBy(imgID).map(normalizeUser)[0];
        if (user) {
          throw conflict(
            `conflict: unable to remove repository reference "${refOrID}" (must force) - container ${shortID(user.id)} is using its referenced image ${shortID(imgID)}`,
          );
        }
      }
      const parsed = parsedRef(familiarString(parseNormalizedNamed(refOrID)));
      await this.removeRef(parsed.familiar);
      records.push({ Untagged: parsed.familiar });
      this.event("untag", imgID);
      repoRefs = refs();
      if (!parsed.canonical && !repoRefs.some((r) => !r.canonical && r.name === parsed.name)) {
        // The last tag of that repository is gone: its digest references go too.
        for (const r of repoRefs) {
          if (r.canonical && r.name === parsed.name) {
            await this.removeRef(r.familiar);
            records.push({ Untagged: r.familiar });
          }
        }
        repoRefs = refs();
      }
      if (repoRefs.length > 0) return records;
      removedRepositoryRef = true;
    } else if (isSingleReference(repoRefs)) {
      let mask = CONFLICT_HARD;
      if (!force) mask |= CONFLICT_SOFT & ~CONFLICT_ACTIVE_REFERENCE;
      const c = this.checkConflict(imgID, mask, usedBy);
      if (c) throw c.error();
      for (const r of repoRefs) {
        await this.removeRef(r.familiar);
        records.push({ Untagged: r.familiar });
        this.event("untag", imgID);
      }
    }
    await this.deleteHelper(imgID, records, force, prune, removedRepositoryRef, usedBy);
    return records;
  }

  private checkConflict(imgID: string, mask: number, usedBy: UsedBy): DeleteConflict | undefined {
    if (mask & CONFLICT_DEPENDENT_CHILD && this.children(imgID).length > 0) {
      return new DeleteConflict(imgID, true, false, "image has dependent child images");
    }
    const users = usedBy(imgID).map(normalizeUser);
    if (mask & CONFLICT_RUNNING) {
      const running = users.find((u) => u.running);
      if (running) return new DeleteConflict(imgID, true, true, `image is being used by running container ${shortID(running.id)}`);
    }
    const rec = this.get(imgID)!;
    if (mask & CONFLICT_ACTIVE_REFERENCE && rec.repoTags.length + rec.repoDigests.length > 0) {
      return new DeleteConflict(imgID, false, false, "image is referenced in multiple repositories");
    }
    if (mask & CONFLICT_STOPPED) {
      const stopped = users.find((u) => !u.running);
      if (stopped) return new DeleteConflict(imgID, false, true, `image is being used by stopped container ${shortID(stopped.id)}`);
    }
    return undefined;
  }

  private async deleteHelper(
    imgID: string,
    records: ImageDeleteResponseItem[],
    force: boolean,
    prune: boolean,
    quiet: boolean,
    usedBy: UsedBy,
  ): Promise<void> {
    let mask = CONFLICT_HARD;
    if (!force) mask |= CONFLICT_SOFT;
    const c = this.checkConflict(imgID, mask, usedBy);
    if (c) {
      const rec = this.get(imgID)!;
      const isDangling = rec.repoTags.length + rec.repoDigests.length === 0 && this.children(imgID).length === 0;
      if (quiet && (!isDangling || c.used)) return;
      throw c.error();
    }
    const rec = this.get(imgID)!;
    for (const t of [...rec.repoTags, ...rec.repoDigests]) {
      await this.removeRef(t);
      records.push({ Untagged: t });
      this.event("untag", imgID);
    }
    const stillUsed = usedBy(imgID).length > 0;
    const removedLayers = await this.deleteImage(imgID, stillUsed);
    this.event("delete", imgID);
    records.push({ Deleted: imgID });
    for (const l of removedLayers) records.push({ Deleted: l });
    if (prune && rec.parent && this.get(rec.parent)) {
      await this.deleteHelper(rec.parent, records, false, true, true, usedBy);
    }
  }

  /** Drop the record, then the layers and blobs nothing else references. Returns removed chain IDs. */
  private async deleteImage(imgID: string, keepLayers: boolean): Promise<string[]> {
    const rec = this.get(imgID)!;
    await this.store.delete(hexOf(imgID));
    this.configs.delete(imgID);
    const chains = this.chainsOf(rec);
    const removed: string[] = [];
    if (keepLayers) {
      for (const c of chains) this.orphanLayers.add(c);
      await this.saveOrphans();
    } else {
      removed.push(...(await this.releaseLayers(chains)));
    }
    await this.gcBlobs([rec.id, ...rec.layers.map((l) => l.digest), ...(rec.manifests ?? [])]);
    return removed;
  }

  private referencedChains(): Set<string> {
    const used = new Set<string>();
    for (const r of this.store.values()) for (const c of this.chainsOf(r)) used.add(c);
    return used;
  }

  /** Remove the chain's layers from the top down, stopping at the first one still referenced. */
  private async releaseLayers(chains: string[], inUse: Set<string> = new Set()): Promise<string[]> {
    const used = this.referencedChains();
    const removed: string[] = [];
    for (let i = chains.length - 1; i >= 0; i--) {
      const c = chains[i]!;
      if (used.has(c) || inUse.has(c)) break;
      if (!this.snapshots.hasLayer(c)) continue;
      try {
        await this.snapshots.removeLayer(c);
      } catch (err) {
        // In use (a container's filesystem sits on it): keep it, and everything below it, for
        // collectOrphanLayers once that container is gone.
        if (!isKind(err, "Conflict")) this.log.warn("could not remove layer", { chainID: c, err });
        for (let j = i; j >= 0; j--) if (!used.has(chains[j]!)) this.orphanLayers.add(chains[j]!);
        await this.saveOrphans();
        break;
      }
      this.orphanLayers.delete(c);
      removed.push(c);
    }
    return removed;
  }

  /**
   * Remove layers kept only for containers of deleted images (`rmi -f` of an image a stopped
   * container used), once no container in `inUse` (their chain IDs) needs them any more.
   */
  collectOrphanLayers(inUse: Iterable<string>): Promise<string[]> {
    return this.withLock(async () => {
      const busy = new Set(inUse);
      const removed: string[] = [];
      // Work from each orphan chain's top: removing a layer only when no layer above needs it.
      const parents = new Set<string>();
      for (const c of this.orphanLayers) {
        const p = this.safeParent(c);
        if (p) parents.add(p);
      }
      for (const top of [...this.orphanLayers].filter((c) => !parents.has(c))) {
        const chain: string[] = [];
        for (let c: string | undefined = top; c && this.orphanLayers.has(c); c = this.safeParent(c)) chain.unshift(c);
        removed.push(...(await this.releaseLayers(chain, busy)));
      }
      const used = this.referencedChains();
      for (const c of [...this.orphanLayers]) if (used.has(c) || !this.snapshots.hasLayer(c)) this.orphanLayers.delete(c);
      await this.saveOrphans();
      return removed;
    });
  }

  private safeParent(chainID: string): string | undefined {
    try {
      return this.snapshots.layerParent(chainID);
    } catch {
      return undefined;
    }
  }

  private async saveOrphans(): Promise<void> {
    await writeFileAtomic(path.join(this.root, "orphan-layers.json"), JSON.stringify([...this.orphanLayers]), 0o600);
  }

  /** Delete the given blobs unless an image references them or an operation has them pinned. */
  private async gcBlobs(candidates: Iterable<string>): Promise<void> {
    const referenced = new Set<string>();
    for (const r of this.store.values()) {
      referenced.add(r.id);
      for (const l of r.layers) referenced.add(l.digest);
      for (const m of r.manifests ?? []) referenced.add(m);
    }
    for (const d of new Set(candidates)) {
      if (referenced.has(d) || this.pins.has(d) || !isDigest(d)) continue;
      await this.content.delete(d).catch((err) => this.log.warn("could not delete blob", { digest: d, err }));
    }
  }

  /** Docker's POST /images/prune. */
  async prune(opts: { dangling?: boolean; filters?: Record<string, string[]> }, usedBy: UsedBy = () => []): Promise<ImagesPruneReport> {
    if (this.pruneRunning) throw conflict("a prune operation is already running");
    this.pruneRunning = true;
    try {
      const filters = validateFilters(opts.filters, ["dangling", "label", "label!", "until"]);
      const fromFilter = filters.dangling ? filterBool("dangling", filters.dangling) : undefined;
      const danglingOnly = fromFilter ?? opts.dangling ?? true;
      const untilMs = parseUntil(filters.until);
      const sizes = new Map<string, number>();
      const report: ImagesPruneReport = { ImagesDeleted: [], SpaceReclaimed: 0 };
      await this.withLock(async () => {
        const all = [...this.store.values()];
        for (const r of all) for (const c of this.chainsOf(r)) sizes.set(c, this.layerSize(c));
        const hasChildren = new Set<string>();
        for (const r of all) if (r.parent) hasChildren.add(r.parent);
        const top: ImageRecord[] = [];
        for (const r of all) {
          if (danglingOnly && hasChildren.has(r.id)) continue;
          if (r.repoTags.length + r.repoDigests.length === 0 && hasChildren.has(r.id)) continue;
          if (untilMs !== undefined) {
            const created = timeMs(r.created);
            if (created === undefined || created > untilMs) continue;
          }
          const labels = this.configs.get(r.id)?.config?.Labels;
          if (!matchKVList(filters.label, labels)) continue;
          if (filters["label!"] && filters["label!"].length > 0 && matchKVList(filters["label!"], labels)) continue;
          top.push(r);
        }
        for (const r of top) {
          const cur = this.get(r.id);
          if (!cur) continue;
          const refs = [...cur.repoTags, ...cur.repoDigests];
          const targets: string[] = [];
          if (refs.length > 0) {
            if (!danglingOnly || cur.repoTags.length === 0) targets.push(...refs);
          } else targets.push(hexOf(cur.id));
          for (const t of targets) {
            try {
              report.ImagesDeleted.push(...(await this.removeLocked(t, false, true, usedBy)));
            } catch (err) {
              if (!isKind(err, "Conflict") && !isKind(err, "NotFound")) this.log.warn("prune: could not delete image", { ref: t, err });
            }
          }
        }
      });
      for (const d of report.ImagesDeleted) {
        if (d.Deleted && sizes.has(d.Deleted)) report.SpaceReclaimed += sizes.get(d.Deleted)!;
      }
      return report;
    } finally {
      this.pruneRunning = false;
    }
  }

  // ---------------------------------------------------------------- creating images

  /**
   * Apply a layer tar (plain or compressed) on top of `parentChainID`, keeping the tar as a blob
   * in the content store so the image can be saved or pushed later. For commit and build.
   * The blob stays pinned until an image referencing it is created with createImage.
   */
  /**
   * Store a layer tar and make it the layer on top of `parentChainID`. `stage`, when given,
   * hands over the layer already unpacked (a build step's upper dir, by the tar's diff ID),
   * so the tar is only stored and hashed, not unpacked again.
   */
  async addLayer(parentChainID: string | undefined, tar: Readable, stage?: (diffID: string) => Promise<StagedLayer>): Promise<LayerRecord & { chainID: string }> {
    const blob = await this.content.ingest(tar);
    this.pin(blob.digest);
    try {
      return await this.withLock(async () => {
        const staged = new Map<string, StagedLayer>();
        if (stage && !this.snapshots.hasLayer(Snapshotter.chainID(parentChainID, blob.digest))) staged.set(blob.digest, await stage(blob.digest));
        try {
          return await this.ensureLayer(parentChainID, undefined, { digest: blob.digest, size: blob.size }, 0, undefined, staged);
        } finally {
          for (const s of staged.values()) await this.snapshots.discardStaged(s).catch(() => {});
        }
      });
    } catch (err) {
      this.unpin(blob.digest);
      await this.gcBlobs([blob.digest]);
      throw err;
    }
  }

  /**
   * Register an image from its exact config bytes: layers missing from the snapshotter are
   * applied from their blobs (diff IDs verified against the config), the config is stored,
   * tags set. The entry point for pull, build and commit; load and import use it too.
   */
  createImage(config: Buffer, opts: CreateImageOptions = {}): Promise<ImageRecord> {
    return this.withLock(async () => {
      const { record } = await this.registerLocked(config, opts);
      for (const l of opts.layers ?? []) this.unpinIfPinned(l.digest);
      for (const t of opts.tags ?? []) {
        await this.setTag(this.tagReference(t), record.id);
        await this.touchTagTime(record.id);
        this.event("tag", record.id, familiarString(parseNormalizedNamed(t)));
      }
      return this.get(record.id)!;
    });
  }

  private unpinIfPinned(d: string): void {
    if (this.pins.has(d)) this.unpin(d);
  }

  private async touchTagTime(id: string): Promise<void> {
    const r = this.get(id)!;
    await this.store.put(hexOf(id), { ...r, lastTagTime: rfc3339Nano(Date.now()) });
  }

  private async registerLocked(config: Buffer, opts: CreateImageOptions): Promise<{ record: ImageRecord; existed: boolean }> {
    const id = digestOf(config);
    let cfg: ImageConfig;
    try {
      cfg = JSON.parse(config.toString("utf8")) as ImageConfig;
    } catch {
      throw invalidParameter("invalid image config: not JSON");
    }
    if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) throw invalidParameter("invalid image config");
    if (cfg.os && cfg.os !== "linux") throw invalidParameter(`image operating system "${cfg.os}" cannot be used on this platform`);
    const diffIDs = cfg.rootfs?.diff_ids ?? [];
    if (!Array.isArray(diffIDs) || !diffIDs.every((d) => isDigest(d))) throw invalidParameter("invalid image config: bad rootfs.diff_ids");
    if (cfg.rootfs && cfg.rootfs.type !== "layers") throw invalidParameter(`invalid image config: rootfs type ${cfg.rootfs.type}`);
    const blobs = opts.layers;
    if (blobs && blobs.length !== diffIDs.length) {
      throw invalidParameter(`invalid manifest, layers length mismatch: expected ${diffIDs.length}, got ${blobs.length}`);
    }
    if (opts.parent && !this.get(opts.parent)) throw notFound(`No such image: ${opts.parent}`);

    const existing = this.get(id);
    const layers: LayerRecord[] = [];
    let chain: string | undefined;
    for (let i = 0; i < diffIDs.length; i++) {
      const diffID = diffIDs[i]!;
      const blob = blobs?.[i];
      if (!blob) {
        const known = this.knownLayer(diffID) ?? existing?.layers[i];
        const next = Snapshotter.chainID(chain, diffID);
        if (!known || !this.snapshots.hasLayer(next)) throw invalidParameter(`layer ${diffID} is not present and no blob was given for it`);
        layers.push(known);
        chain = next;
        continue;
      }
      const res = await this.ensureLayer(chain, diffID, blob, i, opts.onLayerProgress, opts.staged);
      layers.push(res);
      chain = res.chainID;
    }
    await this.content.ingestBytes(config, id);
    let size = 0;
    let c: string | undefined;
    for (const l of layers) {
      c = Snapshotter.chainID(c, l.diffID);
      size += this.layerSize(c);
    }
    const record: ImageRecord = {
      id,
      repoTags: existing?.repoTags ?? [],
      repoDigests: existing?.repoDigests ?? [],
      created: cfg.created ?? "",
      size,
      ...(chain ? { chainID: chain } : {}),
      ...(existing?.lastTagTime ? { lastTagTime: existing.lastTagTime } : {}),
      ...(opts.parent ? { parent: toID(opts.parent) } : existing?.parent ? { parent: existing.parent } : {}),
      layers: layers.map((l) => ({ diffID: l.diffID, digest: l.digest, mediaType: l.mediaType, size: l.size, uncompressedSize: l.uncompressedSize })),
      ...(opts.manifests || existing?.manifests ? { manifests: [...new Set([...(existing?.manifests ?? []), ...(opts.manifests ?? [])])] } : {}),
    };
    await this.store.put(hexOf(id), record);
    this.configs.set(id, cfg);
    for (const d of opts.repoDigests ?? []) {
      const ref = parseReference(d);
      if (!ref.digest) throw invalidParameter(`invalid repo digest ${d}`);
      await this.setTag(ref, id);
    }
    for (const c of this.chainsOf(record)) this.orphanLayers.delete(c);
    return { record: this.get(id)!, existed: existing !== undefined };
  }

  private knownLayer(diffID: string, digest?: string): LayerRecord | undefined {
    for (const r of this.store.values()) {
      for (const l of r.layers) if (l.diffID === diffID && (digest === undefined || l.digest === digest)) return l;
    }
    return undefined;
  }

  private async blobCompression(digest: string): Promise<ReturnType<typeof detectCompression>> {
    const fh = await fsp.open(this.content.path(digest), "r");
    try {
      const buf = Buffer.alloc(8);
      const { bytesRead } = await fh.read(buf, 0, 8, 0);
      return detectCompression(buf.subarray(0, bytesRead));
    } finally {
      await fh.close();
    }
  }

  /**
   * Make sure the layer (parent + blob) is unpacked; verify the blob's diff ID. Returns the
   * layer record to keep (with the uncompressed size save needs).
   */
  private async ensureLayer(
    parent: string | undefined,
    expectedDiffID: string | undefined,
    blob: BlobRef,
    index: number,
    onProgress?: CreateImageOptions["onLayerProgress"],
    staged?: Map<string, StagedLayer>,
  ): Promise<LayerRecord & { chainID: string }> {
    if (!this.content.has(blob.digest)) throw invalidParameter(`layer blob ${blob.digest} not found`);
    const blobSize = blob.size ?? (await this.content.size(blob.digest));
    const compression = await this.blobCompression(blob.digest);
    if (compression !== "none" && compression !== "gzip") throw notImplemented(`${compression}-compressed layers are not supported yet`);
    const mediaType = blob.mediaType ?? (compression === "gzip" ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer);
    const mismatch = (got: string) =>
      invalidParameter(`invalid diffID for layer ${index}: expected ${JSON.stringify(expectedDiffID)}, got ${JSON.stringify(got)}`);

    if (compression === "none" && expectedDiffID !== undefined && blob.digest !== expectedDiffID) throw mismatch(blob.digest);

    if (expectedDiffID !== undefined) {
      const chainID = Snapshotter.chainID(parent, expectedDiffID);
      if (this.snapshots.hasLayer(chainID)) {
        if (compression === "none") {
          return { chainID, diffID: expectedDiffID, digest: blob.digest, mediaType, size: blobSize, uncompressedSize: blobSize };
        }
        const known = this.knownLayer(expectedDiffID, blob.digest);
        if (known) return { ...known, chainID };
        // Verify the compressed blob against the diff ID (and learn its uncompressed size).
        const { diffID, size } = await this.hashUncompressed(blob.digest);
        if (diffID !== expectedDiffID) throw mismatch(diffID);
        return { chainID, diffID, digest: blob.digest, mediaType, size: blobSize, uncompressedSize: size };
      }
    }

    // Unpacked while the archive streamed: its diff ID was computed then (= the blob's
    // digest for an uncompressed blob, checked against the config above).
    const pre = compression === "none" ? staged?.get(blob.digest) : undefined;
    if (pre && pre.diffID === blob.digest) {
      staged!.delete(blob.digest);
      const res = await this.snapshots.commitStaged(parent, pre);
      onProgress?.(res.diffID, blobSize, blobSize, true);
      return { chainID: res.chainID, diffID: res.diffID, digest: blob.digest, mediaType, size: blobSize, uncompressedSize: blobSize };
    }

    const hash = createHash("sha256");
    let count = 0;
    let lastReport = 0;
    const total = compression === "none" ? blobSize : 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        count += chunk.length;
        const now = Date.now();
        if (onProgress && now - lastReport >= LOAD_PROGRESS_INTERVAL_MS) {
          lastReport = now;
          onProgress(expectedDiffID ?? "", count, total, false);
        }
        cb(null, chunk);
      },
    });
    onProgress?.(expectedDiffID ?? "", 0, total, false);
    const plain = await decompressStream(this.content.readStream(blob.digest));
    plain.on("error", (err) => tap.destroy(err));
    plain.pipe(tap);
    let res: { diffID: string; chainID: string; size: number };
    let ended = false;
    tap.once("end", () => (ended = true));
    try {
      // With the expected diff ID, the snapshotter refuses content that does not match before
      // the layer ever becomes visible.
      res = await this.snapshots.applyLayer(parent, tap, expectedDiffID ? { diffID: expectedDiffID } : {});
    } catch (err) {
      tap.destroy();
      if (ended && expectedDiffID !== undefined) {
        const computed = `sha256:${hash.digest("hex")}`;
        if (computed !== expectedDiffID) throw mismatch(computed);
      }
      throw err;
    }
    if (!tap.readableEnded) {
      // The applier stopped reading early: hash what is left so the digest is complete.
      await new Promise<void>((resolve, reject) => {
        tap.on("end", resolve).on("error", reject).resume();
      });
    }
    const computed = `sha256:${hash.digest("hex")}`;
    const got = computed;
    if ((expectedDiffID !== undefined && got !== expectedDiffID) || res.diffID !== computed) {
      if (!this.referencedChains().has(res.chainID)) await this.snapshots.removeLayer(res.chainID).catch(() => {});
      if (expectedDiffID !== undefined && got !== expectedDiffID) throw mismatch(got);
      throw systemError(`layer digest mismatch: snapshotter says ${res.diffID}, stream was ${computed}`);
    }
    onProgress?.(got, count, count, true);
    return { chainID: res.chainID, diffID: got, digest: blob.digest, mediaType, size: blobSize, uncompressedSize: count };
  }

  private async hashUncompressed(digest: string): Promise<{ diffID: string; size: number }> {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of await decompressStream(this.content.readStream(digest))) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { diffID: `sha256:${hash.digest("hex")}`, size };
  }

  // ---------------------------------------------------------------- load

  /**
   * Docker's POST /images/load: a docker-archive (manifest.json; old `<id>/layer.tar` or
   * Docker 25+ `blobs/sha256/…` layout) or an OCI image layout (index.json), the tar possibly
   * compressed. Progress lines are dockerd's: {"stream":"Loaded image: busybox:latest\n"}.
   */
  async load(input: Readable, onProgress: (line: ProgressLine) => void = () => {}, opts: { quiet?: boolean } = {}): Promise<string[]> {
    let index: ArchiveIndex | undefined;
    const pinned: string[] = [];
    const created = new Set<string>();
    const loaded: string[] = [];
    try {
      // Layers are unpacked while the archive streams (one pass), unless a layer with that
      // digest is already here (then it is most likely not needed again).
      index = await readImageArchive(
        input,
        this.content,
        (d, isNew) => {
          this.pin(d);
          pinned.push(d);
          if (isNew) created.add(d);
        },
        {
          stager: this.snapshots,
          wanted: (expected) => expected === undefined || !this.knownLayer(expected),
          onError: (err) => this.log.debug("layer not unpacked while loading, it will be from the store", { err }),
        },
      );
      const images = await this.parseArchive(index, (d, isNew) => {
        this.pin(d);
        pinned.push(d);
        if (isNew) created.add(d);
      });
      await this.withLock(async () => {
        for (const img of images) {
          const layerProgress: CreateImageOptions["onLayerProgress"] = opts.quiet
            ? undefined
            : (diffID, current, total, done) => {
                const id = shortID(diffID);
                const tot = total || current;
                onProgress({
                  status: "Loading layer",
                  progressDetail: { current, total: tot },
                  progress: progressString(current, tot),
                  id,
                });
                void done;
              };
          const { record } = await this.registerLocked(img.config, { layers: img.layers, onLayerProgress: layerProgress, staged: index!.staged });
          for (const t of img.repoTags) {
            const prev = await this.setTag(t, record.id);
            if (prev) {
              onProgress({ stream: `The image ${familiarString(t)} already exists, renaming the old one with ID ${prev} to empty string\n` });
            }
          }
          if (img.repoTags.length === 0) onProgress({ stream: `Loaded image ID: ${record.id}\n` });
          for (const t of img.repoTags) onProgress({ stream: `Loaded image: ${familiarString(t)}\n` });
          this.event("load", record.id);
          loaded.push(record.id);
        }
      });
      return loaded;
    } finally {
      for (const staged of index?.staged.values() ?? []) await this.snapshots.discardStaged(staged).catch(() => {});
      for (const d of pinned) this.unpin(d);
      // Blobs this load brought that no image kept (unreferenced files, failed loads).
      await this.withLock(() => this.gcBlobs(created));
    }
  }

  private async parseArchive(index: ArchiveIndex, track: (digest: string, isNew: boolean) => void): Promise<ParsedImage[]> {
    if (index.has("manifest.json")) return this.parseDockerArchive(index, track);
    if (index.has("index.json")) return this.parseOCILayout(index);
    throw invalidParameter("invalid archive: it has neither manifest.json (docker-archive) nor index.json (OCI image layout)");
  }

  private async blobOf(index: ArchiveIndex, p: string, what: string, track: (digest: string, isNew: boolean) => void): Promise<BlobRef> {
    const f = index.get(archivePath(p));
    if (!f) throw invalidParameter(`invalid archive: ${what} ${p} not found`);
    if (f.kind === "blob") return { digest: f.digest, size: f.size };
    const r = await this.content.ingestBytes(f.data);
    track(r.digest, r.created);
    return { digest: r.digest, size: r.size };
  }

  private async parseDockerArchive(index: ArchiveIndex, track: (digest: string, isNew: boolean) => void): Promise<ParsedImage[]> {
    const { value: manifest } = await readArchiveJSON<unknown>(index, this.content, "manifest.json", "manifest");
    if (!Array.isArray(manifest)) throw invalidParameter("invalid archive: manifest.json is not a list");
    const out: ParsedImage[] = [];
    for (const m of manifest as Array<{ Config?: unknown; RepoTags?: unknown; Layers?: unknown }>) {
      if (typeof m !== "object" || m === null || typeof m.Config !== "string") throw invalidParameter("invalid archive: manifest entry without Config");
      const layersIn = m.Layers ?? [];
      if (!Array.isArray(layersIn) || !layersIn.every((l) => typeof l === "string")) throw invalidParameter("invalid archive: bad Layers in manifest.json");
      const tagsIn = m.RepoTags ?? [];
      if (!Array.isArray(tagsIn) || !tagsIn.every((t) => typeof t === "string")) throw invalidParameter("invalid archive: bad RepoTags in manifest.json");
      const config = await readArchiveBytes(index, this.content, archivePath(m.Config), "config");
      const layers: BlobRef[] = [];
      for (const l of layersIn as string[]) layers.push(await this.blobOf(index, l, "layer", track));
      const repoTags = (tagsIn as string[]).map((t) => {
        const ref = parseNormalizedNamed(t);
        if (!ref.tag || ref.digest) throw invalidParameter(`invalid tag ${JSON.stringify(t)}`);
        return ref;
      });
      out.push({ config, layers, repoTags });
    }
    return out;
  }

  private async parseOCILayout(index: ArchiveIndex): Promise<ParsedImage[]> {
    const { value: idx } = await readArchiveJSON<Index>(index, this.content, "index.json", "index");
    if (!idx || !Array.isArray(idx.manifests)) throw invalidParameter("invalid archive: index.json has no manifests");
    const byConfig = new Map<string, ParsedImage>();
    const blobPath = (d: Descriptor) => {
      if (!d || !isDigest(d.digest)) throw invalidParameter(`invalid archive: bad descriptor digest ${JSON.stringify(d?.digest)}`);
      return `blobs/sha256/${d.digest.slice(7)}`;
    };
    const blobRef = (d: Descriptor): BlobRef => {
      const p = blobPath(d);
      const f = index.get(p);
      if (f?.kind === "blob") return { digest: f.digest, size: f.size, mediaType: d.mediaType };
      if (this.content.has(d.digest)) return { digest: d.digest, mediaType: d.mediaType };
      throw invalidParameter(`invalid archive: blob ${d.digest} not found`);
    };
    const visit = async (d: Descriptor, name: Reference | undefined, depth: number): Promise<void> => {
      if (depth > 4) throw invalidParameter("invalid archive: index nesting too deep");
      const { value } = await readArchiveJSON<Manifest & Index>(index, this.content, blobPath(d), "manifest");
      const mt = value.mediaType ?? d.mediaType;
      if (Array.isArray(value.manifests) || mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList) {
        const arch = hostArchitecture();
        const candidates = (value.manifests ?? []).filter((m) => !m.platform || (m.platform.os === "linux" && m.platform.architecture === arch));
        const chosen = candidates.find((m) => m.platform) ?? candidates[0];
        if (!chosen) throw notFound(`no matching manifest for linux/${arch} in the manifest list entries`);
        await visit(chosen, name, depth + 1);
        return;
      }
      if (!value.config || !Array.isArray(value.layers)) throw invalidParameter(`invalid archive: ${d.digest} is not an image manifest`);
      const config = await readArchiveBytes(index, this.content, blobPath(value.config), "config");
      if (digestOf(config) !== value.config.digest) throw invalidParameter(`digest mismatch for config ${value.config.digest}`);
      const key = digestOf(config);
      let entry = byConfig.get(key);
      if (!entry) {
        entry = { config, layers: value.layers.map(blobRef), repoTags: [] };
        byConfig.set(key, entry);
      }
      if (name && !entry.repoTags.some((r) => familiarString(r) === familiarString(name))) entry.repoTags.push(name);
    };
    for (const d of idx.manifests) {
      const ann = d.annotations ?? {};
      let name: Reference | undefined;
      for (const candidate of [ann["io.containerd.image.name"], ann["org.opencontainers.image.ref.name"]]) {
        if (!candidate || !/[:/@]/.test(candidate)) continue;
        try {
          const r = parseNormalizedNamed(candidate);
          if (r.tag && !r.digest) {
            name = r;
            break;
          }
        } catch {
          // not a reference: ignore the annotation
        }
      }
      await visit(d, name, 0);
    }
    return [...byConfig.values()];
  }

  // ---------------------------------------------------------------- save

  /**
   * Docker's GET /images/get: a docker-archive (also an OCI layout) of the images. Names are
   * resolved before the stream starts, so a missing image is an error, not a broken stream.
   * A name without a tag saves every tag of that repository.
   */
  save(refsOrIDs: string[]): Readable {
    const selected = new Map<string, string[]>();
    const add = (id: string, tag?: string) => {
      const tags = selected.get(id) ?? [];
      if (tag && !tags.includes(tag)) tags.push(tag);
      selected.set(id, tags);
    };
    for (const name of refsOrIDs) {
      if (/^[a-f0-9]{64}$/.test(name) || /^sha256:[a-f0-9]{64}$/.test(name)) {
        add(this.resolve(name).id);
        continue;
      }
      const ref = parseReference(name);
      if (familiarName(ref) === "sha256") {
        add(this.resolve(name).id);
        continue;
      }
      if (!ref.tag && !ref.digest) {
        const repo = familiarName(ref);
        let any = false;
        for (const [t, id] of this.tags) {
          if (familiarName(parseReference(t)) === repo) {
            add(id, t);
            any = true;
          }
        }
        if (!any) add(this.resolve(name).id);
        continue;
      }
      const rec = this.resolve(name);
      if (ref.digest) add(rec.id);
      else add(rec.id, familiarString(parseNormalizedNamed(name)));
    }
    const images: ArchiveImage[] = [];
    const pinned: string[] = [];
    for (const [id, tags] of selected) {
      const rec = this.get(id)!;
      const config = this.configs.get(id);
      if (!config) throw notFound(`No such image: ${id}`);
      const layers = rec.layers.map((l) => {
        if (!this.content.has(l.digest)) throw systemError(`cannot save image ${shortID(id)}: the blob of layer ${l.diffID} is missing`);
        return {
          diffID: l.diffID,
          size: l.uncompressedSize,
          open: () => {
            const raw = this.content.readStream(l.digest);
            if (l.digest === l.diffID) return raw;
            const gunzip = createGunzip();
            raw.on("error", (e) => gunzip.destroy(e));
            return raw.pipe(gunzip);
          },
        };
      });
      for (const d of [id, ...rec.layers.map((l) => l.digest)]) {
        this.pin(d);
        pinned.push(d);
      }
      images.push({ config: Buffer.alloc(0), repoTags: tags, layers, id } as ArchiveImage & { id: string });
    }
    const self = this;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const d of pinned) self.unpin(d);
    };
    async function* generate(): AsyncGenerator<Buffer> {
      try {
        for (const img of images as Array<ArchiveImage & { id: string }>) img.config = await self.content.readBytes(img.id);
        const tar = imageArchive(images);
        for await (const chunk of tar) yield chunk as Buffer;
        for (const img of images as Array<ArchiveImage & { id: string }>) self.event("save", img.id);
      } finally {
        release();
      }
    }
    const out = Readable.from(generate(), { objectMode: false });
    out.once("close", release);
    return out;
  }

  // ---------------------------------------------------------------- import

  /**
   * Docker's POST /images/create?fromSrc=-: a root filesystem tar (plain or gzip) becomes a
   * one-layer image; `changes` are Dockerfile instructions applied to an empty config.
   */
  async import(
    input: Readable,
    opts: { repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string } = {},
  ): Promise<string> {
    let ref: Reference | undefined;
    if (opts.repo) {
      ref = parseNormalizedNamed(opts.repo);
      if (ref.digest) throw invalidParameter("cannot import digest reference");
      ref = this.tagReference(opts.repo, opts.tag);
    }
    const platform = parsePlatform(opts.platform);
    const config = applyChanges({}, opts.changes ?? []);
    const blob = await this.content.ingest(input);
    this.pin(blob.digest);
    try {
      return await this.withLock(async () => {
        const layer = await this.ensureLayer(undefined, undefined, { digest: blob.digest, size: blob.size }, 0);
        const created = rfc3339Nano(Date.now());
        const cfg: Record<string, unknown> = {
          architecture: platform.architecture,
          ...(opts.message ? { comment: opts.message } : {}),
          config: apiConfig(config),
          created,
          history: [{ created, ...(opts.message ? { comment: opts.message } : {}) }],
          os: platform.os,
          rootfs: { type: "layers", diff_ids: [layer.diffID] },
          ...(platform.variant ? { variant: platform.variant } : {}),
        };
        const bytes = Buffer.from(JSON.stringify(cfg));
        const { record } = await this.registerLocked(bytes, { layers: [{ digest: blob.digest, size: blob.size, mediaType: layer.mediaType }] });
        if (ref) {
          await this.setTag(ref, record.id);
          await this.touchTagTime(record.id);
          this.event("tag", record.id, familiarString(ref));
        }
        this.event("import", record.id);
        return record.id;
      });
    } finally {
      this.unpin(blob.digest);
      await this.withLock(() => this.gcBlobs([blob.digest]));
    }
  }
}

function parsePlatform(p: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!p) return { os: "linux", architecture: hostArchitecture() };
  const parts = p.toLowerCase().split("/");
  const os = parts[0] || "linux";
  if (os !== "linux") throw invalidParameter(`operating system is not supported: ${os}`);
  const architecture = parts[1] || hostArchitecture();
  return { os, architecture, ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** Docker's isImageIDPrefix: the name given is (a prefix of) the image ID. */
function isImageIDPrefix(imageID: string, possiblePrefix: string): boolean {
  if (imageID.startsWith(possiblePrefix)) return true;
  return imageID.slice(imageID.indexOf(":") + 1).startsWith(possiblePrefix);
}

/** Docker's isSingleReference: one tag, possibly with digest references of the same repository. */
function isSingleReference(refs: ParsedRef[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: ParsedRef | undefined;
  const canonicalNames = new Set<string>();
  for (const r of refs) {
    if (r.canonical) canonicalNames.add(r.name);
    else if (!single) single = r;
    else return false;
  }
  if (!single) single = refs[0]!;
  return canonicalNames.size === 1 && canonicalNames.has(single.name);
}
