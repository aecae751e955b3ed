// Files of a container: the archive endpoints behind `docker cp` (HEAD stat, GET tar out, PUT
// tar in), export, changes (`docker diff`) and commit.

import type { IncomingMessage } from "node:http";
import { invalidParameter } from "../../errdefs/index.js";
import { decompressStream } from "../../archive/index.js";
import { commitContainer, ContainerFiles, type ContainerConfig, type PathStat } from "../../container/index.js";
import { boolParam, readJSON, sendJSON } from "../http.js";
import type { Router } from "../router.js";
import type { Services } from "../services.js";

/** X-Docker-Container-Path-Stat: base64 of the JSON of Docker's ContainerPathStat. */
export function encodePathStat(st: PathStat): string {
  const json = JSON.stringify({ name: st.name, size: st.size, mode: st.mode, mtime: st.mtime, linkTarget: st.linkTarget });
  return Buffer.from(json).toString("base64");
}

/** httputils.ArchiveFormValues: a path is required. */
function archivePath(query: URLSearchParams): string {
  const p = query.get("path");
  if (!p) throw invalidParameter("bad parameter: path cannot be empty");
  return p;
}

export function containerFileRoutes(r: Router, s: Services): void {
  const files = new ContainerFiles(s.containers);

  r.on("HEAD", "/containers/:id/archive", async ({ res, params, query }) => {
    const p = archivePath(query);
    const st = await files.stat(params.id!, p);
    res.writeHead(200, { "X-Docker-Container-Path-Stat": encodePathStat(st) });
    res.end();
  });

  r.on("GET", "/containers/:id/archive", async ({ res, params, query }) => {
    const p = archivePath(query);
    const { stat, tar } = await files.archive(params.id!, p);
    res.writeHead(200, { "Content-Type": "application/x-tar", "X-Docker-Container-Path-Stat": encodePathStat(stat) });
    res.on("close", () => tar.destroy());
    tar.pipe(res);
  });

  r.on("PUT", "/containers/:id/archive", async ({ req, res, params, query }) => {
    const p = archivePath(query);
    s.containers.get(params.id!); // 404 before the body is read
    const input = await decompressStream(req);
    try {
      await files.extract(params.id!, p, input, { noOverwriteDirNonDir: boolParam(query, "noOverwriteDirNonDir"), copyUIDGID: boolParam(query, "copyUIDGID") });
    } catch (err) {
      discard(req);
      throw err;
    }
    res.writeHead(200, { "Content-Length": 0 });
    res.end();
  });

  r.on("GET", "/containers/:id/export", async ({ res, params }) => {
    const tar = await files.export(params.id!);
    res.writeHead(200, { "Content-Type": "application/x-tar" });
    res.on("close", () => tar.destroy());
    tar.pipe(res);
  });

  r.on("GET", "/containers/:id/changes", ({ res, params }) => {
    sendJSON(res, 200, files.changes(params.id!));
  });

  r.on("POST", "/commit", async ({ req, res, query, version }) => {
    // An empty body is fine (the docker CLI sends none): the container's config is used.
    const config = await readJSON<ContainerConfig | null>(req);
    const pauseRaw = query.get("pause");
    const id = await commitContainer(s.containers, files, s.images, {
      container: query.get("container") ?? "",
      repo: query.get("repo") ?? undefined,
      tag: query.get("tag") ?? undefined,
      author: query.get("author") ?? undefined,
      comment: query.get("comment") ?? undefined,
      // Docker pauses by default from API 1.13 on.
      pause: pauseRaw === null || pauseRaw === "" ? version >= 1.13 : boolParam(query, "pause"),
      changes: query.getAll("changes").filter((c) => c !== ""),
      config: config ?? null,
    });
    sendJSON(res, 201, { Id: id });
  });
}

function discard(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}
