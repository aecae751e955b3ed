import { invalidParameter } from "../../errdefs/index.js";
import { parseTimestamp } from "../../lib/index.js";
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
    if (t === undefined) throw invalidParameter(`invalid filter 'until=${u}'`);
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
    if (f.network && !f.network.includes(c.HostConfig.NetworkMode ?? "bridge")) return false;
    if (untilMs && !untilMs.every((u) => Date.parse(c.Created) < u)) return false;
    return true;
  };
}
