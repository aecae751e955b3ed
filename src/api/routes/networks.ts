import { checkFilterKeys, filtersParam, readJSON, sendJSON } from "../http.js";
import type { Router } from "../router.js";
import type { Services } from "../services.js";
import { invalidParameter } from "../../errdefs/index.js";
import { parseTimestamp } from "../../lib/index.js";
import type { EndpointSettingsInput, NetworkCreateRequest, NetworkResource } from "../../network/index.js";
import { labelsMatch } from "./filters.js";
import { publishPrune } from "./prune-event.js";

const BUILTIN = new Set(["bridge", "host", "none"]);

export function networkRoutes(r: Router, s: Services): void {
  r.on("GET", "/networks", ({ res, query }) => {
    const f = filtersParam(query);
    checkFilterKeys(f, ["dangling", "driver", "id", "label", "name", "scope", "type"]);
    for (const t of f.type ?? []) if (t !== "custom" && t !== "builtin") throw invalidParameter(`invalid filter: 'type'='${t}'`);
    for (const d of f.dangling ?? []) if (!["true", "false", "1", "0"].includes(d)) throw invalidParameter(`invalid filter 'dangling=${d}'`);
    const list = s.networks.list().filter((n) => {
      if (f.name && !f.name.some((x) => n.Name.includes(x))) return false;
      if (f.id && !f.id.some((x) => n.Id.startsWith(x))) return false;
      if (f.driver && !f.driver.includes(n.Driver)) return false;
      if (f.label && !labelsMatch(n.Labels, f.label)) return false;
      if (f.scope && !f.scope.includes(n.Scope)) return false;
      if (f.type && !f.type.includes(BUILTIN.has(n.Name) ? "builtin" : "custom")) return false;
      if (f.dangling) {
        // Dangling: a user network no container uses.
        const dangling = !BUILTIN.has(n.Name) && !s.networks.inUse(n.Id);
        if (!f.dangling.some((d) => (d === "true" || d === "1") === dangling)) return false;
      }
      return true;
    });
    sendJSON(res, 200, list);
  });

  r.on("GET", "/networks/:id", ({ res, params }) => {
    sendJSON(res, 200, s.networks.get(params.id!));
  });

  r.on("POST", "/networks/create", async ({ req, res }) => {
    const body = (await readJSON<NetworkCreateRequest>(req)) ?? {};
    if (typeof body !== "object" || Array.isArray(body)) throw invalidParameter("invalid network configuration");
    sendJSON(res, 201, await s.networks.create(body));
  });

  r.on("DELETE", "/networks/:id", async ({ res, params }) => {
    await s.networks.remove(params.id!);
    res.writeHead(204);
    res.end();
  });

  r.on("POST", "/networks/prune", async ({ res, query }) => {
    const f = filtersParam(query);
    checkFilterKeys(f, ["until", "label", "label!"]);
    const until = f.until?.map((u) => {
      const t = parseTimestamp(u);
      if (t === undefined) throw invalidParameter(`invalid filter 'until=${u}'`);
      return t;
    });
    const match = (n: NetworkResource) => {
      if (until && !until.every((t) => Date.parse(n.Created) < t)) return false;
      if (f.label && !labelsMatch(n.Labels, f.label)) return false;
      if (f["label!"] && f["label!"].some((l) => labelsMatch(n.Labels, [l]))) return false;
      return true;
    };
    const deleted = await s.networks.prune(match);
    // moby logs reclaimed "0" for networks (they hold no space).
    publishPrune(s, "network", 0);
    sendJSON(res, 200, { NetworksDeleted: deleted });
  });

  r.on("POST", "/networks/:id/connect", async ({ req, res, params }) => {
    const body = (await readJSON<{ Container?: string; EndpointConfig?: EndpointSettingsInput | null }>(req)) ?? {};
    if (!body.Container) throw invalidParameter("container is required");
    const n = s.networks.get(params.id!);
    const c = s.containers.get(body.Container);
    await s.networks.connect(n.Id, { id: c.Id, name: c.Name.slice(1), running: c.State.Running, networkMode: c.HostConfig.NetworkMode }, body.EndpointConfig);
    await s.containers.refreshResolvConf(c.Id);
    res.writeHead(200, { "Content-Length": 0 });
    res.end();
  });

  r.on("POST", "/networks/:id/disconnect", async ({ req, res, params }) => {
    const body = (await readJSON<{ Container?: string; Force?: boolean }>(req)) ?? {};
    if (!body.Container) throw invalidParameter("container is required");
    const n = s.networks.get(params.id!);
    const c = s.containers.find(body.Container);
    if (!c) {
      // A forced disconnect of a container that is gone is fine (Docker: endpoint cleanup).
      if (body.Force) {
        res.writeHead(200, { "Content-Length": 0 });
        res.end();
        return;
      }
      s.containers.get(body.Container); // throws Docker's "No such container"
      return;
    }
    await s.networks.disconnect(n.Id, { id: c.Id, name: c.Name.slice(1) }, !!body.Force);
    await s.containers.refreshResolvConf(c.Id);
    res.writeHead(200, { "Content-Length": 0 });
    res.end();
  });
}
