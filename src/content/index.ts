import { createHash, randomBytes } from "node:crypto";
import { createReadStream, promises as fsp, statSync } from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { invalidParameter, isENOENT, notFound } from "../errdefs/index.js";
import { syncDir, writeFileAtomic } from "../lib/index.js";

// Content-addressed blob store in OCI image-layout form: <root>/blobs/sha256/<hex>, plus
// <root>/ingest/ for blobs being written. A blob becomes visible only after its digest was
// verified and the file fsynced and renamed into place, so a crash never leaves a partial
// blob under a valid name. Only sha256 digests are accepted, and a digest is always checked
// against /^sha256:[a-f0-9]{64}$/ before it is turned into a path: no digest can name a file
// outside blobs/sha256.

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** True for a well-formed "sha256:<64 hex>" digest. */
export function isDigest(s: unknown): s is string {
  return typeof s === "string" && DIGEST_RE.test(s);
}

/** Throws InvalidParameter unless d is a well-formed sha256 digest. */
export function validateDigest(d: string): string {
  if (!isDigest(d)) throw invalidParameter(`invalid digest ${JSON.stringify(d)}: only sha256 digests of 64 hex digits are supported`);
  return d;
}

/** sha256 digest of a buffer or string, as "sha256:<hex>". */
export function digestOf(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export interface IngestResult {
  digest: string;
  size: number;
  /** False when the blob was already in the store before this ingest. */
  created: boolean;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobsDir = path.join(root, "blobs", "sha256");
    this.ingestDir = path.join(root, "ingest");
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.blobsDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
    // Leftovers of ingests interrupted by a crash: never visible, safe to drop.
    for (const name of await fsp.readdir(this.ingestDir)) {
      await fsp.rm(path.join(this.ingestDir, name), { force: true, recursive: true });
    }
    const layout = path.join(this.root, "oci-layout");
    try {
      await fsp.access(layout);
    } catch {
      await writeFileAtomic(layout, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    }
  }

  /**
   * Stream a blob in: written to ingest/<tmp> while hashed, verified against `expected`
   * (InvalidParameter "digest mismatch…" and the temp removed on failure), fsynced and
   * renamed into blobs/sha256/<hex>. A blob already present is not rewritten (the input is
   * still read to its end and verified).
   */
  async ingest(input: Readable | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, expected?: string): Promise<IngestResult> {
    if (expected !== undefined) validateDigest(expected);
    const hash = createHash("sha256");
    let size = 0;
    if (expected !== undefined && this.has(expected)) {
      for await (const chunk of input) {
        const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        hash.update(b);
        size += b.length;
      }
      const digest = `sha256:${hash.digest("hex")}`;
      if (digest !== expected) throw invalidParameter(`digest mismatch: expected ${expected}, got ${digest}`);
      return { digest, size, created: false };
    }
    const tmp = path.join(this.ingestDir, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    const fh = await fsp.open(tmp, "wx", 0o600);
    let digest: string;
    let created = true;
    try {
      try {
        for await (const chunk of input) {
          const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
          hash.update(b);
          size += b.length;
          let off = 0;
          while (off < b.length) {
            const { bytesWritten } = await fh.write(b, off, b.length - off);
            off += bytesWritten;
          }
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      digest = `sha256:${hash.digest("hex")}`;
      if (expected !== undefined && digest !== expected) {
        throw invalidParameter(`digest mismatch: expected ${expected}, got ${digest}`);
      }
      if (this.has(digest)) {
        created = false;
        await fsp.rm(tmp, { force: true });
        return { digest, size, created };
      }
      await fsp.chmod(tmp, 0o444);
      await fsp.rename(tmp, this.blobPath(digest));
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await syncDir(this.blobsDir);
    return { digest, size, created };
  }

  async ingestBytes(buf: Uint8Array | string, expected?: string): Promise<IngestResult> {
    const b = typeof buf === "string" ? Buffer.from(buf) : buf;
    return this.ingest([b], expected);
  }

  has(digest: string): boolean {
    if (!isDigest(digest)) return false;
    try {
      return statSync(this.blobPath(digest)).isFile();
    } catch {
      return false;
    }
  }

  /** Path of the blob file (whether or not it exists). Throws InvalidParameter on a bad digest. */
  path(digest: string): string {
    return this.blobPath(validateDigest(digest));
  }

  async size(digest: string): Promise<number> {
    try {
      return (await fsp.stat(this.path(digest))).size;
    } catch (err) {
      if (isENOENT(err)) throw notFound(`content ${digest}: not found`);
      throw err;
    }
  }

  /** A stream of the blob; NotFound (thrown at once) when it is missing. */
  readStream(digest: string): Readable {
    if (!this.has(validateDigest(digest))) throw notFound(`content ${digest}: not found`);
    return createReadStream(this.blobPath(digest));
  }

  async readBytes(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.path(digest));
    } catch (err) {
      if (isENOENT(err)) throw notFound(`content ${digest}: not found`);
      throw err;
    }
  }

  /** Remove a blob; false when it was not there. */
  async delete(digest: string): Promise<boolean> {
    const p = this.path(digest);
    try {
      await fsp.unlink(p);
      return true;
    } catch (err) {
      if (isENOENT(err)) return false;
      throw err;
    }
  }

  /** Every blob digest in the store. */
  async *list(): AsyncIterable<string> {
    let names: string[];
    try {
      names = await fsp.readdir(this.blobsDir);
    } catch (err) {
      if (isENOENT(err)) return;
      throw err;
    }
    for (const name of names) {
      const d = `sha256:${name}`;
      if (isDigest(d)) yield d;
    }
  }

  private blobPath(digest: string): string {
    return path.join(this.blobsDir, digest.slice("sha256:".length));
  }
}
