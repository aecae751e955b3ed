// `docker commit`: a new image from a container's changes, as moby's CreateImageFromContainer
// and image.NewChildImage do. The container's overlay upper dir becomes one layer on top of its
// image's layers (made by the copy helper in a chroot of that dir, see copy.ts); the image
// config is the container's config with the request's `changes` applied and merged as Docker
// merges it; the history gets one entry (empty_layer when nothing changed).

import { Readable } from "node:stream";
import { conflict, invalidParameter } from "../errdefs/index.js";
import { apiConfig, applyChanges, type ImageService } from "../image/index.js";
import { parseNormalizedNamed, type ContainerConfigDefaults, type ImageConfig } from "../oci/index.js";
import { nowRFC3339 } from "./clock.js";
import { mergeHealthcheck } from "./health.js";
import type { ContainerFiles } from "./copy.js";
import type { ContainerConfig } from "./record.js";
import type { ContainerService } from "./service.js";

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  author?: string;
  comment?: string;
  /** Freeze the container while its changes are read (Docker's default since API 1.13). */
  pause: boolean;
  /** Dockerfile instructions (CMD, ENV, LABEL, …) applied to the config. */
  changes: string[];
  /** A config from the request body; the container's own when absent. */
  config?: ContainerConfig | null;
}

/** sha256 of an empty tar (1024 zero bytes): layer.DigestSHA256EmptyTar. */
const EMPTY_TAR_SIZE = 1024;

export async function commitContainer(containers: ContainerService, files: ContainerFiles, images: ImageService, o: CommitOptions): Promise<string> {
  const c = containers.get(o.container);
  if (c.State.Dead) throw conflict(`You cannot commit container ${c.Id} which is Dead`);
  if (c.State.Status === "removing") throw conflict(`You cannot commit container ${c.Id} which is being removed`);
  let tag: string | undefined;
  if (o.repo) {
    tag = o.tag ? `${o.repo}:${o.tag}` : o.repo;
    const ref = parseNormalizedNamed(tag);
    if (ref.digest) throw invalidParameter("cannot commit to digest reference");
  } else if (o.tag) {
    throw invalidParameter("repository name must have at least one component");
  }

  const base = o.config && Object.keys(o.config).length > 0 ? o.config : c.Config;
  const newConfig = applyChanges(structuredClone(base) as ContainerConfigDefaults, o.changes) as ContainerConfig;
  mergeConfig(newConfig, c.Config);

  let paused = false;
  if (o.pause && c.State.Running && !c.State.Paused) {
    await containers.pause(c.Id);
    paused = true;
  }
  let layer: { diffID: string; digest: string; size: number; mediaType: string } | undefined;
  let empty: boolean;
  try {
    const peeked = await peekEmpty(await files.layerTar(c.Id));
    empty = peeked.empty;
    if (!empty) layer = await images.addLayer(images.chainIDOf(c.Image), peeked.stream);
  } finally {
    if (paused) await containers.unpause(c.Id).catch(() => {});
  }

  const parent = images.imageConfig(c.Image);
  const parentRecord = images.get(c.Image);
  const created = nowRFC3339();
  const cfg: Record<string, unknown> = {
    architecture: parent.architecture,
    ...(o.author ? { author: o.author } : {}),
    config: apiConfig(newConfig),
    created,
    history: [
      ...(parent.history ?? []),
      {
        created,
        ...(o.author ? { author: o.author } : {}),
        created_by: (c.Config.Cmd ?? []).join(" "),
        ...(o.comment ? { comment: o.comment } : {}),
        ...(empty ? { empty_layer: true } : {}),
      },
    ],
    os: parent.os,
    rootfs: { type: "layers", diff_ids: [...(parent.rootfs?.diff_ids ?? []), ...(layer ? [layer.diffID] : [])] },
    ...((parent as ImageConfig & { variant?: string }).variant ? { variant: (parent as ImageConfig & { variant?: string }).variant } : {}),
  };
  const blobs = [
    ...(parentRecord?.layers ?? []).map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    ...(layer ? [{ digest: layer.digest, size: layer.size, mediaType: layer.mediaType }] : []),
  ];
  const img = await images.createImage(Buffer.from(JSON.stringify(cfg)), { layers: blobs, parent: c.Image, tags: tag ? [tag] : [] });
  containers.emit(c, "commit", { comment: o.comment ?? "", imageID: img.id, imageRef: tag ?? "" });
  return img.id;
}

/**
 * moby's daemon/commit.go merge: fill what the new config leaves unset from the container's
 * config (User, ports, Env by key, Labels, Cmd/Entrypoint, Healthcheck, WorkingDir, Volumes,
 * StopSignal).
 */
export function mergeConfig(user: ContainerConfig, image: ContainerConfig): void {
  if (!user.User) user.User = image.User;
  if (!user.ExposedPorts || Object.keys(user.ExposedPorts).length === 0) user.ExposedPorts = image.ExposedPorts;
  else for (const p of Object.keys(image.ExposedPorts ?? {})) user.ExposedPorts[p] ??= {};
  if (!user.Env || user.Env.length === 0) user.Env = image.Env;
  else {
    const keys = new Set(user.Env.map((e) => e.split("=")[0]));
    for (const e of image.Env ?? []) if (!keys.has(e.split("=")[0])) user.Env.push(e);
  }
  user.Labels = { ...(image.Labels ?? {}), ...(user.Labels ?? {}) };
  if (!user.Entrypoint || user.Entrypoint.length === 0) {
    if (!user.Cmd || user.Cmd.length === 0) user.Cmd = image.Cmd;
    if (user.Entrypoint === undefined || user.Entrypoint === null) user.Entrypoint = image.Entrypoint;
  }
  const health = mergeHealthcheck(user.Healthcheck, image.Healthcheck);
  if (health) user.Healthcheck = health;
  if (!user.WorkingDir) user.WorkingDir = image.WorkingDir;
  if (!user.Volumes || Object.keys(user.Volumes).length === 0) user.Volumes = image.Volumes;
  else Object.assign(user.Volumes, image.Volumes ?? {});
  if (!user.StopSignal) user.StopSignal = image.StopSignal;
  if (!user.StopSignal) delete user.StopSignal;
}

/**
 * Read the start of a layer tar: an empty tar (the end-of-archive blocks only) means the
 * container changed nothing, and the image then gets no layer (Docker's empty_layer). Any
 * other tar is handed on whole.
 */
async function peekEmpty(src: Readable): Promise<{ empty: boolean; stream: Readable }> {
  const head: Buffer[] = [];
  let size = 0;
  const it = src[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await it.next();
    if (done) break;
    head.push(value as Buffer);
    size += (value as Buffer).length;
    if (size > EMPTY_TAR_SIZE) break;
  }
  const buf = Buffer.concat(head);
  if (size <= EMPTY_TAR_SIZE && buf.every((b) => b === 0)) return { empty: true, stream: Readable.from([]) };
  async function* rest(): AsyncGenerator<Buffer> {
    yield buf;
    for (;;) {
      const { value, done } = await it.next();
      if (done) return;
      yield value as Buffer;
    }
  }
  return { empty: false, stream: Readable.from(rest()) };
}
