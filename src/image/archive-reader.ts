import type { Readable } from "node:stream";
import { decompressStream, readTar } from "../archive/index.js";
import { ContentStore, isDigest } from "../content/index.js";
import { invalidParameter } from "../errdefs/index.js";
import type { StagedLayer } from "../snapshot/index.js";
import { ingestAndStage, type LayerStager } from "./layer-tee.js";

// Reading an image archive (docker-archive, old or Docker 25+ layout, or OCI image layout):
// the outer tar is streamed once. Nothing is ever written under a name taken from the
// archive: small metadata files stay in memory, every other regular file goes straight into
// the content store under its own digest. So an entry like "../x" cannot write anywhere; it
// is still refused, as is any reference (manifest path, link target) that climbs out of the
// archive root.

export type ArchiveFile = { kind: "blob"; digest: string; size: number } | { kind: "bytes"; data: Buffer };

const MAX_METADATA = 16 << 20;
const METADATA_BASENAMES = new Set(["manifest.json", "repositories", "index.json", "oci-layout", "json", "VERSION"]);

/**
 * Clean a path from the archive (entry name, link target, manifest reference) relative to the
 * archive root. Throws InvalidParameter when it is absolute or climbs out with "..".
 */
export function archivePath(name: string, base = ""): string {
  if (typeof name !== "string" || name === "") throw invalidParameter(`invalid archive path ${JSON.stringify(name)}`);
  if (name.startsWith("/")) throw invalidParameter(`invalid archive path ${JSON.stringify(name)}: absolute paths are not allowed`);
  const parts = base === "" ? [] : base.split("/");
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (parts.length === 0) throw invalidParameter(`invalid archive path ${JSON.stringify(name)}: it leaves the archive`);
      parts.pop();
    } else parts.push(c);
  }
  return parts.join("/");
}

export class ArchiveIndex {
  readonly files = new Map<string, ArchiveFile>();
  /** Symlinks and hardlinks: cleaned path → cleaned target path. */
  readonly links = new Map<string, string>();
  /** Blobs this read put into the content store that were not there before. */
  readonly newBlobs = new Set<string>();
  /** Layers unpacked while the archive streamed, by blob digest (the caller commits or discards them). */
  readonly staged = new Map<string, StagedLayer>();

  /** The file at a path (already cleaned or not), following links inside the archive. */
  get(p: string): ArchiveFile | undefined {
    let cur = archivePath(p);
    for (let hops = 0; hops < 32; hops++) {
      const f = this.files.get(cur);
      if (f) return f;
      const next = this.links.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    return undefined;
  }

  has(p: string): boolean {
    return this.get(p) !== undefined;
  }
}

function isMetadataName(p: string): boolean {
  const base = p.slice(p.lastIndexOf("/") + 1);
  return METADATA_BASENAMES.has(base) || (base.endsWith(".json") && !p.startsWith("blobs/"));
}

async function readAll(stream: AsyncIterable<Uint8Array>, limit: number, name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > limit) throw invalidParameter(`archive entry ${name} is too large`);
    parts.push(Buffer.from(c));
  }
  return Buffer.concat(parts);
}

/**
 * Stream an image archive (plain or compressed tar) into an index. `onBlob` is called for
 * every blob put into the content store, before it is used, so the caller can protect it
 * from garbage collection.
 */
export interface StagingOptions {
  stager: LayerStager;
  /** Whether a blob (by its expected digest, when the archive names it) is worth unpacking. */
  wanted(expected: string | undefined): boolean;
  onError(err: unknown): void;
}

export async function readImageArchive(
  input: Readable,
  content: ContentStore,
  onBlob: (digest: string, isNew: boolean) => void = () => {},
  staging?: StagingOptions,
): Promise<ArchiveIndex> {
  const index = new ArchiveIndex();
  try {
    const plain = await decompressStream(input);
    for await (const entry of readTar(plain)) {
      const h = entry.header;
      const name = archivePath(h.name);
      switch (h.type) {
        case "file":
        case "contiguous-file": {
          if (name === "") throw invalidParameter(`invalid archive entry ${JSON.stringify(h.name)}`);
          if (isMetadataName(name)) {
            index.files.set(name, { kind: "bytes", data: await readAll(entry, MAX_METADATA, name) });
            index.links.delete(name);
            break;
          }
          const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
          const expected = m ? `sha256:${m[1]}` : undefined;
          let res: Awaited<ReturnType<ContentStore["ingest"]>>;
          if (staging?.wanted(expected)) {
            const r = await ingestAndStage(entry, content, expected, staging.stager, staging.onError);
            res = r.stored;
            if (r.staged) {
              const prev = index.staged.get(res.digest);
              if (prev) await staging.stager.discardStaged(prev).catch(() => {});
              index.staged.set(res.digest, r.staged);
            }
          } else res = await content.ingest(entry, expected);
          if (res.created) index.newBlobs.add(res.digest);
          onBlob(res.digest, res.created);
          index.files.set(name, { kind: "blob", digest: res.digest, size: res.size });
          index.links.delete(name);
          break;
        }
        case "symlink": {
          const target = h.linkname;
          const dir = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "";
          const resolved = target.startsWith("/") ? archivePath(target.slice(1) || ".") : archivePath(target, dir);
          index.links.set(name, resolved);
          index.files.delete(name);
          for await (const _ of entry) void _;
          break;
        }
        case "link": {
          index.links.set(name, archivePath(h.linkname));
          index.files.delete(name);
          for await (const _ of entry) void _;
          break;
        }
        default:
          // Directories, devices, FIFOs: nothing to keep.
          for await (const _ of entry) void _;
      }
    }
  } catch (err) {
    input.destroy();
    throw err;
  }
  return index;
}

/** Parse JSON from an archive file (bytes or blob), with a clear error. */
export async function readArchiveJSON<T>(index: ArchiveIndex, content: ContentStore, p: string, what: string): Promise<{ value: T; bytes: Buffer }> {
  const bytes = await readArchiveBytes(index, content, p, what);
  try {
    return { value: JSON.parse(bytes.toString("utf8")) as T, bytes };
  } catch {
    throw invalidParameter(`invalid archive: ${what} ${p} is not valid JSON`);
  }
}

export async function readArchiveBytes(index: ArchiveIndex, content: ContentStore, p: string, what: string): Promise<Buffer> {
  const f = index.get(p);
  if (!f) throw invalidParameter(`invalid archive: ${what} ${p} not found`);
  if (f.kind === "bytes") return f.data;
  if (f.size > MAX_METADATA) throw invalidParameter(`invalid archive: ${what} ${p} is too large`);
  return content.readBytes(f.digest);
}

export { isDigest };
