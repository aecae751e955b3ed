// ADD <url>: the download as moby's classic builder does it (builder/dockerfile/copy.go
// downloadSource): the file is named after the URL's last path element, written 0600, its
// mtime taken from Last-Modified (the epoch without one), and never extracted. A status of
// 400 or more is an error carrying the status and the body, as remotecontext.GetWithStatusError.

import * as http from "node:http";
import type * as Https from "node:https";
import { promises as fsp, createWriteStream } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { invalidParameter } from "../errdefs/index.js";

export interface Download {
  /** The downloaded file (in its own temporary directory). */
  file: string;
  /** Its name in the image when the destination is a directory. */
  name: string;
}

// node:https (and with it tls and its bindings, ~1.4 MiB of RSS measured here) is loaded on
// the first https download rather than at pierd's start.
let https: typeof Https | undefined;
const httpsModule = (): typeof Https => (https ??= createRequire(import.meta.url)("node:https") as typeof Https);

/** Go's http.Client follows at most 10 redirects. */
const MAX_REDIRECTS = 10;
/** No data for this long on the connection ends the download (Go's client has no deadline). */
const IDLE_TIMEOUT_MS = 60_000;
/** How much of an error response's body goes into the message. */
const ERROR_BODY_LIMIT = 4096;

/** The file name Docker gives a URL's download: its path's last element. */
export function downloadName(url: URL): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    throw invalidParameter(`cannot determine filename from url: ${url.href}`);
  }
  const name = path.posix.basename(decoded);
  if (name === "" || name === "/" || name === "." || name === "..") throw invalidParameter(`cannot determine filename from url: ${url.href}`);
  return name;
}

/** GET `url` following redirects; resolves with the final response (status < 400). */
function get(url: URL, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? httpsModule() : url.protocol === "http:" ? http : undefined;
    if (!mod) return reject(invalidParameter(`unsupported protocol in ${url.href}: only http and https URLs can be downloaded`));
    const req = mod.get(url, { headers: { "User-Agent": "Pier-Builder", "Accept-Encoding": "identity" } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) return reject(invalidParameter(`failed to GET ${url.href}: stopped after ${MAX_REDIRECTS} redirects`));
        let next: URL;
        try {
          next = new URL(res.headers.location, url);
        } catch {
          return reject(invalidParameter(`failed to GET ${url.href}: bad redirect location ${res.headers.location}`));
        }
        return resolve(get(next, redirects + 1));
      }
      if (status < 400) return resolve(res);
      // Docker: "failed to GET <url> with status <code text>: <body>".
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < ERROR_BODY_LIMIT) chunks.push(c);
        size += c.length;
      });
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT).toString("utf8").trim();
        reject(invalidParameter(`failed to GET ${url.href} with status ${status} ${res.statusMessage ?? ""}${body ? `: ${body}` : ""}`.replace(/ +:/, ":")));
      });
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no response for ${IDLE_TIMEOUT_MS / 1000}s`)));
    req.on("error", (err) => reject(invalidParameter(`failed to GET ${url.href}: ${err.message}`)));
  });
}

/** Download `rawURL` into a fresh directory under `tmpDir`. */
export async function downloadURL(rawURL: string, tmpDir: string): Promise<Download> {
  let url: URL;
  try {
    url = new URL(rawURL);
  } catch {
    throw invalidParameter(`invalid URL: ${rawURL}`);
  }
  const name = downloadName(url);
  const res = await get(url);
  await fsp.mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const file = path.join(tmpDir, name);
  res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error(`download of ${url.href} stalled for ${IDLE_TIMEOUT_MS / 1000}s`)));
  try {
    await pipeline(res, createWriteStream(file, { mode: 0o600, flags: "wx" }));
  } catch (err) {
    throw invalidParameter(`failed to download ${url.href}: ${(err as Error).message}`);
  }
  await fsp.chmod(file, 0o600);
  // Last-Modified, or the epoch (Docker sets Go's zero time, which Chtimes clamps to 0).
  const lm = res.headers["last-modified"];
  const parsed = lm ? new Date(lm) : undefined;
  const mtime = parsed && !Number.isNaN(parsed.getTime()) ? parsed : new Date(0);
  await fsp.utimes(file, mtime, mtime);
  return { file, name };
}
