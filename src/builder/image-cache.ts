// Where a build step's image may come from instead of being built: moby's image cache for the
// classic builder (image/cache). Without --cache-from, any local image with the same parent
// and the same container_config is a hit. With --cache-from, only the named images and their
// parent chains count: a local hit must be an ancestor of a source, or the step is matched
// against a source's history (created_by) on top of the same parent, and an image is made
// from that source's layer and history entry (restoreCachedImage).

import type { ImageService, ImageRecord } from "../image/index.js";
import { apiConfig } from "../image/index.js";
import type { Logger } from "../lib/index.js";
import type { ContainerConfigDefaults, HistoryEntry, ImageConfig } from "../oci/index.js";

export interface ImageCache {
  /** The image that already is the result of `probe` on top of `parentID`, if any. */
  get(parentID: string | undefined, probe: ContainerConfigDefaults): Promise<string | undefined>;
}

/** Maps (labels, ports, volumes) with sorted keys, as Go marshals them. */
function sortedObj<T>(o: Record<string, T> | null | undefined): Record<string, T> | null | undefined {
  if (!o) return o;
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}

/** A config with its map fields in Go's order (what Docker writes and compares). */
export function normalizeConfig<T extends Record<string, unknown>>(c: T): T {
  const out: Record<string, unknown> = { ...c };
  for (const k of ["Labels", "ExposedPorts", "Volumes"]) if (out[k]) out[k] = sortedObj(out[k] as Record<string, unknown>);
  return out as T;
}

/** Canonical form of a config for cache matching (what Docker's cache compares). */
function cacheKey(c: ContainerConfigDefaults | undefined): string {
  return JSON.stringify(normalizeConfig(apiConfig({ ...(c ?? {}), Hostname: "", Image: "" })));
}

/** JSON with sorted keys: reflect.DeepEqual for parsed JSON values. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x && typeof x === "object" && !Array.isArray(x)) {
      const o = x as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return x;
  });
}

/** moby's localImageCache: the newest child of the parent with the same container_config. */
export class LocalImageCache implements ImageCache {
  constructor(private readonly images: ImageService) {}

  async get(parentID: string | undefined, probe: ContainerConfigDefaults): Promise<string | undefined> {
    return this.find(parentID, probe);
  }

  find(parentID: string | undefined, probe: ContainerConfigDefaults): string | undefined {
    const key = cacheKey(probe);
    let best: { id: string; created: string } | undefined;
    for (const rec of this.images.all()) {
      if ((rec.parent ?? undefined) !== parentID) continue;
      let cfg: ImageConfig;
      try {
        cfg = this.images.imageConfig(rec.id);
      } catch {
        continue;
      }
      if (!cfg.container_config || cacheKey(cfg.container_config) !== key) continue;
      if (!best || (cfg.created ?? "") > best.created) best = { id: rec.id, created: cfg.created ?? "" };
    }
    return best?.id;
  }
}

/** moby's ImageCache over --cache-from sources. */
export class SourceImageCache implements ImageCache {
  private readonly local: LocalImageCache;
  private sources: ImageRecord[] = [];

  constructor(
    private readonly images: ImageService,
    refs: string[],
    log: Logger,
  ) {
    this.local = new LocalImageCache(images);
    for (const ref of refs) {
      const rec = images.lookup(ref);
      // Docker skips a source it cannot find, with a warning in its log only.
      if (!rec) log.warn("could not look up cache source, skipping", { ref });
      else this.sources.push(rec);
    }
  }

  async get(parentID: string | undefined, probe: ContainerConfigDefaults): Promise<string | undefined> {
    const hit = this.local.find(parentID, probe);
    if (hit && this.sources.some((s) => this.isAncestor(hit, s.id))) return hit;

    const parent = parentID ? this.images.imageConfig(parentID) : undefined;
    const lenHistory = parent?.history?.length ?? 0;
    const createdBy = (probe.Cmd ?? []).join(" ");
    for (const target of this.sources) {
      const cfg = this.images.imageConfig(target.id);
      const history = cfg.history ?? [];
      if (!isValidParent(cfg, parent) || history[lenHistory]?.created_by !== createdBy) continue;
      if (history.length - 1 === lenHistory) {
        // The source itself is this step's result: link it to the chain being built.
        if (parentID) await this.images.setParent(target.id, parentID);
        return target.id;
      }
      const id = await this.restore(parentID, parent, target, cfg, probe);
      this.sources = [target]; // moby: never jump to another source mid-build
      return id;
    }
    return undefined;
  }

  /** Whether `id` is a (strict) ancestor of `descendant` through recorded parents. */
  private isAncestor(id: string, descendant: string): boolean {
    const seen = new Set<string>();
    let cur = this.images.get(descendant)?.parent;
    while (cur && !seen.has(cur)) {
      if (cur === id) return true;
      seen.add(cur);
      cur = this.images.get(cur)?.parent;
    }
    return false;
  }

  /** The intermediate image of a source's step: the parent plus that step's layer and history. */
  private async restore(parentID: string | undefined, parent: ImageConfig | undefined, target: ImageRecord, cfg: ImageConfig, probe: ContainerConfigDefaults): Promise<string> {
    const lenHistory = parent?.history?.length ?? 0;
    const entry = cfg.history![lenHistory]!;
    const history: HistoryEntry[] = [...(parent?.history ?? []), entry];
    const diffIDs = [...(parent?.rootfs?.diff_ids ?? [])];
    const parentRec = parentID ? this.images.get(parentID) : undefined;
    const layers = (parentRec?.layers ?? []).map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size }));
    if (!entry.empty_layer) {
      const ix = (cfg.history ?? []).slice(0, lenHistory).filter((h) => !h.empty_layer).length;
      const layer = target.layers[ix]!;
      diffIDs.push(layer.diffID);
      layers.push({ digest: layer.digest, mediaType: layer.mediaType, size: layer.size });
    }
    const img = {
      architecture: cfg.architecture,
      ...(cfg.author ? { author: cfg.author } : {}),
      config: normalizeConfig(apiConfig({ ...probe, Image: parentID ?? "" })),
      created: entry.created,
      history,
      os: cfg.os,
      rootfs: { type: "layers", diff_ids: diffIDs },
    };
    const rec = await this.images.createImage(Buffer.from(JSON.stringify(img)), { layers, ...(parentID ? { parent: parentID } : {}) });
    return rec.id;
  }
}

/** moby's isValidParent: the source's history and layers continue the parent's. */
function isValidParent(img: ImageConfig, parent: ImageConfig | undefined): boolean {
  const h = img.history ?? [];
  if (h.length === 0) return false;
  const ph = parent?.history ?? [];
  const pd = parent?.rootfs?.diff_ids ?? [];
  if (!parent || (ph.length === 0 && pd.length === 0)) return true;
  const d = img.rootfs?.diff_ids ?? [];
  if (ph.length >= h.length || pd.length > d.length) return false;
  for (let i = 0; i < ph.length; i++) if (canonical(ph[i]) !== canonical(h[i])) return false;
  for (let i = 0; i < pd.length; i++) if (pd[i] !== d[i]) return false;
  return true;
}
