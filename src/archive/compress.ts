import { createRequire } from "node:module";
import { Readable, pipeline } from "node:stream";
import type * as Zlib from "node:zlib";
import { notImplemented } from "../errdefs/index.js";

// node:zlib is loaded on the first compressed layer, not at pierd's start: an idle daemon that
// only ran uncompressed (loaded or locally built) images does not keep zlib's module, its
// bindings and their code pages resident (~1 MiB of RSS measured here).
let zlib: typeof Zlib | undefined;

/** A gunzip transform stream; node:zlib is loaded on the first call. */
export function createGunzip(): Zlib.Gunzip {
  zlib ??= createRequire(import.meta.url)("node:zlib") as typeof Zlib;
  return zlib.createGunzip();
}

export type Compression = "none" | "gzip" | "zstd" | "xz" | "bzip2";

const MAGIC: [Compression, number[]][] = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["bzip2", [0x42, 0x5a, 0x68]],
];

export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return "none";
}

/**
 * The uncompressed bytes of `input`, whatever its compression (found from its magic bytes, as
 * Docker does; media types lie often enough). Streams: only the first chunks are looked at.
 */
export async function decompressStream(input: Readable): Promise<Readable> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  const kind = detectCompression(head);
  if (kind !== "none" && kind !== "gzip") {
    await it.return?.();
    throw notImplemented(`${kind}-compressed layers are not supported yet`);
  }
  const whole = Readable.from(
    (async function* () {
      try {
        if (head.length > 0) yield head;
        if (ended) return;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      } finally {
        await it.return?.(); // consumer gave up: release (destroy) the input
      }
    })(),
    { objectMode: false },
  );
  if (kind === "none") return whole;
  const gunzip = createGunzip();
  pipeline(whole, gunzip, () => {}); // an error destroys gunzip with it, so the reader sees it
  return gunzip;
}
