// Helpers for the image tests: temp stores and small archives built in memory.
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { ContentStore } from "../content/index.js";
import { EventBus, type EngineEvent } from "../events/index.js";
import { Snapshotter } from "../snapshot/index.js";
import { ImageService } from "./service.js";
import { tarStream, type TarBody, type TarEntry } from "./tarwriter.js";

export interface Env {
  dir: string;
  content: ContentStore;
  snapshots: Snapshotter;
  events: EventBus;
  images: ImageService;
  seen: EngineEvent[];
  reopen(): Promise<ImageService>;
  cleanup(): Promise<void>;
}

/** `parent`: where the env's directory is made (a private one lets a test watch it for escapes). */
export async function makeEnv(parent = os.tmpdir()): Promise<Env> {
  const dir = await fsp.mkdtemp(path.join(parent, "pier-image-"));
  const content = new ContentStore(path.join(dir, "content"));
  const snapshots = new Snapshotter(path.join(dir, "snapshots"));
  const events = new EventBus();
  await content.init();
  await snapshots.init();
  const images = new ImageService({ root: path.join(dir, "image"), content, snapshots, events });
  await images.init();
  const seen: EngineEvent[] = [];
  events.subscribe((e) => seen.push(e));
  return {
    dir,
    content,
    snapshots,
    events,
    images,
    seen,
    async reopen() {
      const s = new ImageService({ root: path.join(dir, "image"), content, snapshots, events });
      await s.init();
      return s;
    },
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}

export async function collect(it: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

export const sha = (b: Uint8Array | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A layer tar with the given files (string content) and directories (names ending in "/"). */
export async function layerTar(files: Record<string, string>): Promise<Buffer> {
  const entries: Array<{ entry: TarEntry; body?: TarBody }> = [];
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith("/")) entries.push({ entry: { name, type: "directory", mode: 0o755 } });
    else entries.push({ entry: { name, type: "file", mode: 0o644, size: Buffer.byteLength(data) }, body: Buffer.from(data) });
  }
  return collect(tarStream(entries));
}

export function imageConfig(diffIDs: string[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      config: { Env: ["PATH=/usr/bin:/bin"], Cmd: ["sh"], Labels: { "com.example.a": "1" } },
      created: "2024-02-03T04:05:06.123456789Z",
      history: diffIDs.map((_, i) => ({ created: "2024-02-03T04:05:06Z", created_by: `step ${i}` })),
      os: "linux",
      rootfs: { type: "layers", diff_ids: diffIDs },
      ...extra,
    }),
  );
}

/** A raw tar of arbitrary entries (for malicious or hand-made archives). */
export async function rawTar(entries: Array<{ entry: TarEntry; body?: TarBody }>): Promise<Buffer> {
  return collect(tarStream(entries));
}

export const file = (name: string, data: Buffer | string): { entry: TarEntry; body: TarBody } => {
  const b = Buffer.from(data);
  return { entry: { name, type: "file", mode: 0o644, size: b.length }, body: b };
};

export const stream = (b: Buffer) => Readable.from([b]);

export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string) {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(path.join(d, e.name), r);
      } else if (e.isFile()) out.push(`${r}=${(await fsp.readFile(path.join(d, e.name))).toString("hex").slice(0, 64)}`);
      else out.push(r);
    }
  }
  await walk(dir, "");
  return out.sort();
}
