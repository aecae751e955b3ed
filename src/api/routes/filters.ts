import { invalidParameter } from "../../errdefs/index.js";
import { parseTimestamp } from "../../lib/index.js";
import type { ContainerRecord } from "../../container/index.js";
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
  const created = (ref: string) => {
    const c = s.containers.get(ref);
    return c.Created;
  };
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
  return (c) => {
    if (f.id && !f.id.some((id) => c.Id.startsWith(id))) return false;
    if (f.name && !f.name.some((n) => new RegExp(n.replace(/^\//, "")).test(c.Name.slice(1)))) return false;
    if (f.label && !labelsMatch(c.Config.Labels, f.label)) return false;
    if (f["label!"] && f["label!"].some((l) => labelsMatch(c.Config.Labels, [l]))) return false;
    if (f.status && !f.status.includes(c.State.Status)) return false;
    if (f.exited) {
      if (c.State.Status !== "exited" || !f.exited.some((e) => Number(e) === c.State.ExitCode)) return false;
    }
    if (ancestors && !ancestors.some((a) => a !== undefined && a === c.Image) && !f.ancestor!.includes(c.Config.Image ?? "")) return false;
    if (before && !before.every((b) => c.Created < b)) return false;
    if (since && !since.every((b) => c.Created > b)) return false;
    if (f.volume && !f.volume.some((v) => c.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v))) return false;
    if (f.network && !f.network.includes(c.HostConfig.NetworkMode ?? "bridge")) return false;
    if (untilMs && !untilMs.every((u) => Date.parse(c.Created) < u)) return false;
    return true;
  };
}
