import { invalidParameter, notImplemented, notFound } from "../../errdefs/index.js";
import { boolParam, checkFilterKeys, filtersParam, sendJSON, startJSONStream } from "../http.js";
import { apiVersionString, type Ctx, type Router } from "../router.js";
import type { Services } from "../services.js";
import { publishPrune } from "./prune-event.js";

/**
 * Image routes. Image names contain "/" and ":" (localhost:5000/a/b:1), so everything under
 * /images/ is matched by suffix: /images/<name>/json, /history, /get, /tag; DELETE /images/<name>.
 */
export function imageRoutes(r: Router, s: Services): void {
  const usedBy = (id: string) => s.containers.usingImage(id).map((c) => ({ id: c.Id, running: c.State.Running }));

  r.on("GET", "/images/json", ({ res, query, version }) => {
    const filters = filtersParam(query);
    checkFilterKeys(filters, ["dangling", "label", "before", "since", "reference", "until"]);
    // Containers stays -1 ("not calculated") as in moby: only /system/df counts them.
    // shared-size came with API 1.42; VirtualSize went with 1.44 (older clients still get it).
    const list = s.images.list({
      all: boolParam(query, "all"),
      filters,
      digests: boolParam(query, "digests"),
      sharedSize: version >= 1.42 && boolParam(query, "shared-size"),
      apiVersion: apiVersionString(version),
    });
    sendJSON(res, 200, list);
  });

  r.on("POST", "/images/create", async (ctx) => {
    const { req, res, query } = ctx;
    const fromSrc = query.get("fromSrc");
    if (fromSrc !== null) {
      if (fromSrc !== "-") throw notImplemented("importing from a URL is not supported by this pierd yet");
      // Nothing is streamed before the import ends, so an error (a bad --change, reference or
      // platform) is answered with its status, as dockerd does before its stream is flushed.
      const id = await s.images.import(req, {
        repo: query.get("repo") ?? undefined,
        tag: query.get("tag") ?? undefined,
        message: query.get("message") ?? undefined,
        changes: query.getAll("changes"),
        platform: query.get("platform") ?? undefined,
      });
      startJSONStream(res)({ status: id });
      res.end();
      return;
    }
    const from = query.get("fromImage");
    if (!from) throw invalidParameter("either fromImage or fromSrc must be given");
    const tag = query.get("tag");
    const ref = tag ? (tag.startsWith("sha256:") ? `${from}@${tag}` : `${from}:${tag}`) : from;
    // Pulling needs the registry client; until it lands, say so plainly rather than hang.
    throw notImplemented(`pull access denied for ${ref}: pulling images from a registry is not supported by this pierd yet; load the image with "docker load"`);
  });

  r.on("POST", "/images/load", async ({ req, res, query }) => {
    const quiet = boolParam(query, "quiet");
    const send = startJSONStream(res);
    try {
      await s.images.load(req, (line) => {
        if (!quiet || !("progressDetail" in (line as object))) send(line);
      });
      res.end();
    } catch (err) {
      errorInStream(send, res, err);
    }
  });

  r.on("GET", "/images/get", ({ res, query }) => {
    const names = query.getAll("names");
    if (names.length === 0) throw invalidParameter("no image names given");
    saveTo(s, res, names);
  });

  r.on("POST", "/images/prune", async ({ res, query }) => {
    const filters = filtersParam(query);
    checkFilterKeys(filters, ["dangling", "label", "label!", "until"]);
    const dangling = !(filters.dangling ?? ["true"]).some((d) => d === "false" || d === "0");
    const out = await s.images.prune({ dangling, filters }, usedBy);
    publishPrune(s, "image", out.SpaceReclaimed);
    sendJSON(res, 200, out);
  });

  r.on("POST", "/images/search", () => {
    throw notImplemented("searching a registry is not supported by this pierd yet");
  });

  r.on(["GET", "HEAD"], "/images/*", (ctx) => {
    const { name, action } = splitImagePath(ctx);
    switch (action) {
      case "json":
        // Container/ContainerConfig (before 1.45) and VirtualSize (before 1.44) by version.
        return sendJSON(ctx.res, 200, s.images.inspect(name, { apiVersion: apiVersionString(ctx.version) }));
      case "history":
        return sendJSON(ctx.res, 200, s.images.history(name));
      case "get":
        return saveTo(s, ctx.res, [name]);
      default:
        throw notFound("page not found");
    }
  });

  r.on("POST", "/images/*", async (ctx) => {
    const { name, action } = splitImagePath(ctx);
    if (action === "tag") {
      const repo = ctx.query.get("repo");
      if (!repo) throw invalidParameter("repository name must have at least one component");
      await s.images.tag(name, repo, ctx.query.get("tag") || undefined);
      ctx.res.writeHead(201);
      ctx.res.end();
      return;
    }
    if (action === "push") throw notImplemented("pushing images to a registry is not supported by this pierd yet");
    throw notFound("page not found");
  });

  r.on("DELETE", "/images/*", async (ctx) => {
    const name = ctx.params["*"] ?? "";
    const out = await s.images.remove(name, { force: boolParam(ctx.query, "force"), noprune: boolParam(ctx.query, "noprune") }, usedBy);
    sendJSON(ctx.res, 200, out);
  });
}

function splitImagePath(ctx: Ctx): { name: string; action: string } {
  const rest = ctx.params["*"] ?? "";
  const i = rest.lastIndexOf("/");
  if (i <= 0) throw notFound("page not found");
  return { name: rest.slice(0, i), action: rest.slice(i + 1) };
}

function saveTo(s: Services, res: Ctx["res"], names: string[]): void {
  for (const n of names) s.images.resolve(n); // 404 before any byte is sent
  const stream = s.images.save(names);
  res.writeHead(200, { "Content-Type": "application/x-tar" });
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}

function errorInStream(send: (o: unknown) => void, res: Ctx["res"], err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  send({ errorDetail: { message }, error: message });
  res.end();
}
