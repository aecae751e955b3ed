import { invalidParameter } from "../../errdefs/index.js";
import type { Volume } from "../../volume/index.js";
import { boolParam, checkFilterKeys, filtersParam, readJSON, sendJSON, sendNoContent } from "../http.js";
import type { Router } from "../router.js";
import type { Services } from "../services.js";
import { labelsMatch } from "./filters.js";
import { publishPrune } from "./prune-event.js";

const publicVolume = ({ anonymous: _a, ...v }: Volume) => v;

export function volumeRoutes(r: Router, s: Services): void {
  r.on("GET", "/volumes", ({ res, query }) => {
    const f = filtersParam(query);
    checkFilterKeys(f, ["dangling", "driver", "label", "name"]);
    const match = volumeFilter(f, s);
    sendJSON(res, 200, { Volumes: s.volumes.list().filter(match).map(publicVolume), Warnings: [] });
  });

  r.on("POST", "/volumes/create", async ({ req, res }) => {
    const body = (await readJSON<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>(req)) ?? {};
    const v = await s.volumes.create(body);
    sendJSON(res, 201, publicVolume(v));
  });

  r.on("GET", "/volumes/:name", ({ res, params }) => {
    sendJSON(res, 200, publicVolume(s.volumes.inspect(params.name!)));
  });

  r.on("DELETE", "/volumes/:name", async ({ res, params, query }) => {
    const name = params.name!;
    const force = boolParam(query, "force");
    await s.volumes.remove(name, s.containers.usingVolume(name), force);
    sendNoContent(res);
  });

  r.on("POST", "/volumes/prune", async ({ res, query }) => {
    const f = filtersParam(query);
    checkFilterKeys(f, ["label", "label!", "all"]);
    const all = (f.all ?? []).some((v) => v === "true" || v === "1");
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of s.volumes.list()) {
      if (s.containers.usingVolume(v.Name).length > 0) continue;
      // API 1.42+: only anonymous volumes unless all=true.
      if (!all && !v.anonymous) continue;
      if (f.label && !labelsMatch(v.Labels, f.label)) continue;
      if (f["label!"] && f["label!"].some((l) => labelsMatch(v.Labels, [l]))) continue;
      reclaimed += await s.volumes.usage(v.Name);
      await s.volumes.remove(v.Name, []);
      deleted.push(v.Name);
    }
    publishPrune(s, "volume", reclaimed);
    sendJSON(res, 200, { VolumesDeleted: deleted, SpaceReclaimed: reclaimed });
  });
}

function volumeFilter(f: Record<string, string[]>, s: Services): (v: Volume) => boolean {
  for (const d of f.dangling ?? []) {
    if (!["true", "false", "1", "0"].includes(d)) throw invalidParameter(`invalid filter 'dangling=${d}'`);
  }
  return (v) => {
    if (f.name && !f.name.some((n) => v.Name.includes(n))) return false;
    if (f.driver && !f.driver.includes(v.Driver)) return false;
    if (f.label && !labelsMatch(v.Labels, f.label)) return false;
    if (f.dangling) {
      const dangling = s.containers.usingVolume(v.Name).length === 0;
      if (!f.dangling.some((d) => (d === "true" || d === "1") === dangling)) return false;
    }
    return true;
  };
}
