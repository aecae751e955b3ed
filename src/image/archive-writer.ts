import { Readable } from "node:stream";
import { digestOf } from "../content/index.js";
import { MediaTypes, familiarName, fullName, parseNormalizedNamed } from "../oci/index.js";
import { tarStream, type TarBody, type TarEntry } from "./tarwriter.js";

// Writing an image archive in the layout Docker 25+ `docker save` produces: a docker-archive
// (manifest.json + repositories, which every `docker load` reads) that is at the same time an
// OCI image layout (oci-layout + index.json + blobs/sha256). Every blob sits once under
// blobs/sha256/<hex>; layers are uncompressed tars, so each layer blob's digest is its diff ID.

export interface ArchiveLayer {
  diffID: string;
  /** Uncompressed tar size. */
  size: number;
  /** The uncompressed tar bytes; must hash to diffID. */
  open: () => AsyncIterable<Uint8Array>;
}

export interface ArchiveImage {
  /** The exact config bytes (their sha256 is the image ID). */
  config: Buffer;
  /** Familiar references, e.g. "busybox:latest"; may be empty. */
  repoTags: string[];
  layers: ArchiveLayer[];
}

export interface ArchiveOptions {
  /** mtime (seconds) of every entry; 0 by default, for reproducible output. */
  mtime?: number;
}

const hex = (d: string) => d.slice("sha256:".length);

/** The archive as a stream of tar bytes. */
export function imageArchive(images: ArchiveImage[], opts: ArchiveOptions = {}): Readable {
  return Readable.from(imageArchiveChunks(images, opts), { objectMode: false });
}

export async function* imageArchiveChunks(images: ArchiveImage[], opts: ArchiveOptions = {}): AsyncGenerator<Buffer> {
  const mtime = opts.mtime ?? 0;
  const blobs = new Map<string, { size: number; body: TarBody }>();
  const manifestJSON: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const indexManifests: Array<Record<string, unknown>> = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const img of images) {
    const configDigest = digestOf(img.config);
    if (!blobs.has(configDigest)) blobs.set(configDigest, { size: img.config.length, body: img.config });
    for (const l of img.layers) {
      if (!blobs.has(l.diffID)) blobs.set(l.diffID, { size: l.size, body: l.open });
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: img.config.length },
        layers: img.layers.map((l) => ({ mediaType: MediaTypes.ociLayer, digest: l.diffID, size: l.size })),
      }),
    );
    const manifestDigest = digestOf(manifest);
    if (!blobs.has(manifestDigest)) blobs.set(manifestDigest, { size: manifest.length, body: manifest });
    const desc = { mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: manifest.length };
    if (img.repoTags.length === 0) indexManifests.push(desc);
    for (const t of img.repoTags) {
      const ref = parseNormalizedNamed(t);
      indexManifests.push({
        ...desc,
        annotations: {
          "io.containerd.image.name": `${fullName(ref)}:${ref.tag}`,
          "org.opencontainers.image.ref.name": ref.tag,
        },
      });
      const top = img.layers[img.layers.length - 1];
      if (top) (repositories[familiarName(ref)] ??= {})[ref.tag!] = hex(top.diffID);
    }
    manifestJSON.push({
      Config: `blobs/sha256/${hex(configDigest)}`,
      RepoTags: img.repoTags.length > 0 ? img.repoTags : null,
      Layers: img.layers.map((l) => `blobs/sha256/${hex(l.diffID)}`),
    });
  }

  const entries: Array<{ entry: TarEntry; body?: TarBody }> = [
    { entry: { name: "blobs/", type: "directory", mode: 0o755, mtime } },
    { entry: { name: "blobs/sha256/", type: "directory", mode: 0o755, mtime } },
  ];
  for (const [digest, b] of blobs) {
    entries.push({ entry: { name: `blobs/sha256/${hex(digest)}`, type: "file", mode: 0o644, size: b.size, mtime }, body: b.body });
  }
  const file = (name: string, data: string) => {
    const body = Buffer.from(data);
    entries.push({ entry: { name, type: "file", mode: 0o644, size: body.length, mtime }, body });
  };
  file("index.json", JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: indexManifests }) + "\n");
  file("manifest.json", JSON.stringify(manifestJSON) + "\n");
  file("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }) + "\n");
  if (Object.keys(repositories).length > 0) file("repositories", JSON.stringify(repositories) + "\n");
  yield* tarStream(entries);
}
