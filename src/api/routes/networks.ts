import { checkFilterKeys, filtersParam, sendJSON, sendNoContent } from "../http.js";
import type { Router } from "../router.js";
import type { Services } from "../services.js";
import { notImplemented } from "../../errdefs/index.js";
import { labelsMatch } from "./filters.js";

export function networkRoutes(r: Router, s: Services): void {
  r.on("GET", "/networks", ({ res, query }) => {
    const f = filtersParam(query);
    checkFilterKeys(f, ["dangling", "driver", "id", "label", "name", "scope", "type"]);
    const list = s.networks.list().filter((n) => {
      if (f.name && !f.name.some((x) => n.Name.includes(x))) return false;
      if (f.id && !f.id.some((x) => n.Id.startsWith(x))) return false;
      if (f.driver && !f.driver.includes(n.Driver)) return false;
      if (f.label && !labelsMatch(n.Labels, f.label)) return false;
      if (f.type && !f.type.includes("builtin")) return false;
      return true;
    });
    sendJSON(res, 200, list.map((n) => withContainers(n.Name, n, s)));
  });

  r.on("GET", "/networks/:id", ({ res, params }) => {
    const n = s.networks.get(params.id!);
    sendJSON(res, 200, withContainers(n.Name, n, s));
  });

  r.on("DELETE", "/networks/:id", ({ res, params }) => {
    s.networks.remove(params.id!);
    sendNoContent(res);
  });

  r.on("POST", "/networks/prune", ({ res, query }) => {
    checkFilterKeys(filtersParam(query), ["until", "label", "label!"]);
    // Only the predefined networks exist until user networks land; those are never pruned.
    sendJSON(res, 200, { NetworksDeleted: [] });
  });

  r.on("POST", "/networks/create", () => {
    throw notImplemented("user-defined networks are not supported by this pierd yet");
  });
}

function withContainers<T extends object>(name: string, n: T, s: Services): T & { Containers: Record<string, unknown> } {
  const containers: Record<string, unknown> = {};
  for (const c of s.containers.all()) {
    if (!c.State.Running || (c.HostConfig.NetworkMode ?? "bridge") !== name) continue;
    containers[c.Id] = { Name: c.Name.slice(1), EndpointID: "", MacAddress: "", IPv4Address: "", IPv6Address: "" };
  }
  return { ...n, Containers: containers };
}
