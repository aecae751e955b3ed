import { invalidParameter } from "../../errdefs/index.js";
import { parsePortRange, parseTimestamp } from "../../lib/index.js";
import { HEALTH_STATUSES, parseRFC3339Ns, type ContainerRecord } from "../../container/index.js";
import type { Services } from "../services.js";

/** key=value label filters: "a" (present) or "a=b" (equal). */
export function labelsMatch(labels: Record<string, string> | null | undefined, wanted: string[]): boolean {
  const l = labels ?? {};
  return wanted.every((w) => {
    const i = w.indexOf("=");
    if (i < 0) return Object.prototype.hasOwnProperty.call(l, w);
    return l[w.slice(0, i)] === w.slice(i + 1);
  });
}

const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** The container list filters of GET /containers/json and /containers/prune. */
export function containerFilter(f: Record<string, string[]>, s: Services): (c: ContainerRecord) => boolean {
  for (const st of f.status ?? []) {
    if (!STATUSES.includes(st)) throw invalidParameter(`invalid filter 'status=${st}'`);
  }
  for (const h of f.health ?? []) {
    if (!(HEALTH_STATUSES as readonly string[]).includes(h)) throw invalidParameter(`Unrecognised filter value for health: ${h}`);
  }
  const created = (ref: string) => parseRFC3339Ns(s.containers.get(ref).Created);
  const before = f.before?.map(created);
  const since = f.since?.map(created);
  const ancestors = f.ancestor?.map((a) => {
    try {
      return s.images.resolve(a).id;
    } catch {
      return undefined;
    }
  });
  const untilMs = f.until?.map((u) => {
    const t = parseTimestamp(u);
    if (t === undefined) throw invalidParameter(`failed to parse value as time or duration: ${JSON.stringify(u)}`);
    return t;
  });
  const exited = f.exited?.map((e) => {
    if (!/^-?\d+$/.test(e)) throw invalidParameter(`invalid filter 'exited=${e}'`);
    return Number(e);
  });
  // Names match as unanchored regular expressions, with or without the leading slash.
  const names = f.name?.map((n) => {
    try {
      return new RegExp(n);
    } catch {
      throw invalidParameter(`invalid filter 'name=${n}'`);
    }
  });
  const publish = portFilter("publish", f.publish);
  const expose = portFilter("expose", f.expose);
  return (c) => {
    if (f.id && !f.id.some((id) => c.Id.startsWith(id))) return false;
    if (names && !names.some((re) => re.test(c.Name) || re.test(c.Name.slice(1)))) return false;
    if (f.label && !labelsMatch(c.Config.Labels, f.label)) return false;
    if (f["label!"] && f["label!"].some((l) => labelsMatch(c.Config.Labels, [l]))) return false;
    if (f.status && !f.status.includes(c.State.Status)) return false;
    if (f.health && !f.health.includes(c.State.Health?.Status ?? "none")) return false;
    if (exited) {
      // Only containers that ran and stopped have an exit code to match.
      if (c.State.Running || c.State.StartedAt.startsWith("0001") || !exited.includes(c.State.ExitCode)) return false;
    }
    if (ancestors && !ancestors.some((a) => a !== undefined && a === c.Image) && !f.ancestor!.includes(c.Config.Image ?? "")) return false;
    if (before || since) {
      const t = parseRFC3339Ns(c.Created);
      if (before && !before.every((b) => t < b)) return false;
      if (since && !since.every((b) => t > b)) return false;
    }
    if (f.volume && !f.volume.some((v) => c.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v))) return false;
    if (f.network) {
      // moby: a network's name, or a prefix of the ID of a network the container is on.
      const nets = Object.entries(s.networks.settings(c.Id, { networkMode: c.HostConfig.NetworkMode }).Networks);
      if (!f.network.some((v) => nets.some(([name, ep]) => name === v || (ep.NetworkID !== "" && ep.NetworkID.startsWith(v))))) return false;
    }
    if (publish || expose) {
      // Matched against the container's live ports, as dockerd 20.10 does: publish= the host
      // port (0 for an exposed port without one), expose= the container port. A stopped
      // container has no ports to match.
      const ports = c.State.Running ? s.networks.summary(c.Id, { networkMode: c.HostConfig.NetworkMode, exposedPorts: c.Config.ExposedPorts }).Ports : [];
      if (publish && !ports.some((p) => publish.has(`${p.PublicPort ?? 0}/${p.Type}`))) return false;
      if (expose && !ports.some((p) => expose.has(`${p.PrivatePort}/${p.Type}`))) return false;
    }
    if (untilMs && !untilMs.every((u) => Date.parse(c.Created) < u)) return false;
    return true;
  };
}

/**
 * The values of a publish= or expose= filter as a set of "port/proto": "80", "80/udp",
 * "8000-8010/tcp" (moby's portOp: tcp by default, ranges expanded, no host IP).
 */
function portFilter(key: string, values: string[] | undefined): Set<string> | undefined {
  if (!values) return undefined;
  const out = new Set<string>();
  for (const value of values) {
    if (value.includes(":")) throw invalidParameter(`filter for '${key}' should not contain ':': ${value}`);
    const slash = value.indexOf("/");
    const port = slash < 0 ? value : value.slice(0, slash);
    const proto = slash < 0 || slash === value.length - 1 ? "tcp" : value.slice(slash + 1).toLowerCase();
    const bad = (why: string) => invalidParameter(`error while looking up for ${key} ${value}: ${why}`);
    if (port === "") throw bad("Empty string specified for ports.");
    const r = parsePortRange(port);
    if ("error" in r) {
      if (r.error === "syntax") throw bad(`invalid port "${port}"`);
      if (r.error === "out of range") throw bad(`port out of range: ${port}`);
      throw bad(`Invalid range specified for the Port: ${port}`);
    }
    for (let p = r.start; p <= r.end; p++) out.add(`${p}/${proto}`);
  }
  return out;
}
