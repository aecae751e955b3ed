// Observing and adjusting a running container: top, stats, pause/unpause, update.

import { invalidParameter } from "../../errdefs/index.js";
import { containerTop, emptyStats, StatsSampler, type StatsJSON, type UpdateRequest } from "../../container/index.js";
import { boolParam, readJSON, sendJSON, sendNoContent } from "../http.js";
import type { Router } from "../router.js";
import type { Services } from "../services.js";

/** Docker's stats collector ticks once a second. */
const STATS_INTERVAL_MS = 1000;

export function containerObserveRoutes(r: Router, s: Services): void {
  const sampler = new StatsSampler();
  s.events.subscribe((e) => {
    if (e.Type === "container" && e.Action === "destroy") sampler.forget(e.Actor.ID);
  });

  r.on("GET", "/containers/:id/top", async ({ res, params, query }) => {
    sendJSON(res, 200, await containerTop(s.containers, params.id!, query.get("ps_args") ?? ""));
  });

  r.on("GET", "/containers/:id/stats", async ({ req, res, params, query }) => {
    const c = s.containers.get(params.id!);
    const stream = boolParam(query, "stream", true);
    const oneShot = boolParam(query, "one-shot");
    if (stream && oneShot) throw invalidParameter("cannot have stream=true and one-shot=true");
    if (!stream) {
      const first = await sampler.sample(c);
      if (!first) return sendJSON(res, 200, emptyStats(c));
      if (oneShot) return sendJSON(res, 200, first); // precpu stays zero: no priming, as Docker
      // Prime: the answer is the second sample, whose precpu is the first (about a second apart).
      await delay(STATS_INTERVAL_MS);
      const cur = s.containers.find(c.Id);
      const second = cur ? await sampler.sample(cur) : undefined;
      if (!second) return sendJSON(res, 200, sampler.withPrevious(first));
      sendJSON(res, 200, sampler.withPrevious(second, { read: first.read, cpu: first.cpu_stats }));
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    let closed = false;
    req.socket.once("close", () => (closed = true));
    res.once("close", () => (closed = true));
    let prev: { read: string; cpu: StatsJSON["cpu_stats"] } | undefined;
    while (!closed) {
      const cur = s.containers.find(c.Id);
      if (!cur) break; // removed: the stream ends
      const sample = await sampler.sample(cur);
      let frame: StatsJSON;
      if (sample) {
        frame = sampler.withPrevious(sample, prev);
        prev = { read: frame.read, cpu: frame.cpu_stats };
      } else {
        frame = emptyStats(cur); // stopped: Docker keeps sending names and zeros
        prev = undefined;
      }
      if (closed) break;
      res.write(JSON.stringify(frame) + "\n");
      await delay(STATS_INTERVAL_MS);
    }
    if (!res.writableEnded) res.end();
  });

  r.on("POST", "/containers/:id/pause", async ({ res, params }) => {
    await s.containers.pause(params.id!);
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/unpause", async ({ res, params }) => {
    await s.containers.unpause(params.id!);
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/update", async ({ req, res, params }) => {
    const body = (await readJSON<UpdateRequest>(req)) ?? {};
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidParameter("invalid JSON: expected an object");
    sendJSON(res, 200, await s.containers.update(params.id!, body));
  });
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
