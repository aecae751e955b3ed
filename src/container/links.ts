import { invalidParameter, systemError } from "../errdefs/index.js";
import type { ContainerRecord } from "./record.js";

// Legacy container links (`--link name:alias` on the default bridge), as moby keeps them
// (daemon/links.go, daemon/links/links.go, container_operations_unix.go setupLinkedContainers):
// the parent gets /etc/hosts lines and <ALIAS>_… environment variables describing the child.
// On a user-defined network a link is only a DNS alias seen by the linking container; that
// part lives in the network module (endpoint links).

/** One link as the record keeps it: by the child's ID, so renames of either side keep it. */
export interface LinkRecord {
  id: string;
  alias: string;
}

/** Docker's opts.ParseLink: "name:alias", "name", or the inspect form "/name:/parent/alias". */
export function parseLink(s: string): { name: string; alias: string } {
  if (s === "") throw invalidParameter("empty string specified for links");
  const parts = s.split(":");
  if (parts.length > 2) throw invalidParameter(`bad format for links: ${s}`);
  if (parts.length === 1) return { name: s, alias: s };
  if (parts[0]!.startsWith("/")) return { name: parts[0]!.slice(1), alias: parts[1]!.slice(parts[1]!.lastIndexOf("/") + 1) };
  return { name: parts[0]!, alias: parts[1]! };
}

const NO_SUCH = (name: string) => invalidParameter(`could not get container for ${name}: No such container: ${name}`);

/**
 * Resolve HostConfig.Links at create (moby registerLinks): each child must exist (a missing one
 * is 400, not 404, so the CLI does not go looking for an image), a child sharing another's
 * network stack stands for that one, and a host-networked child cannot be linked.
 */
export function resolveLinks(links: string[], find: (ref: string) => ContainerRecord | undefined): LinkRecord[] {
  const out: LinkRecord[] = [];
  for (const l of links) {
    const { name, alias } = parseLink(l);
    let child = find(name);
    if (!child) throw NO_SUCH(name);
    for (let hops = 0; child.HostConfig.NetworkMode?.startsWith("container:"); hops++) {
      const ref = child.HostConfig.NetworkMode.slice("container:".length);
      const next = find(ref);
      if (!next || hops > 16) throw NO_SUCH(ref);
      child = next;
    }
    if (child.HostConfig.NetworkMode === "host") throw invalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    // A later link with the same alias replaces the earlier one (moby's link index is by name).
    const i = out.findIndex((x) => x.alias === alias);
    if (i >= 0) out.splice(i, 1);
    out.push({ id: child.Id, alias });
  }
  return out;
}

/** HostConfig.Links as inspect shows them: "/child:/parent/alias" with today's names. */
export function linksView(parent: ContainerRecord, find: (id: string) => ContainerRecord | undefined): string[] | null {
  const out: string[] = [];
  for (const l of parent.links ?? []) {
    const child = find(l.id);
    if (child) out.push(`${child.Name}:${parent.Name}/${l.alias}`);
  }
  return out.length ? out : null;
}

/** What the parent learns of one running child at its start (or an exec). */
export interface LiveLink {
  alias: string;
  child: ContainerRecord;
  childIP: string;
}

/**
 * The running children of a parent with their default-bridge addresses; Docker's errors for a
 * child that is not running or not on the default bridge. Children removed since are skipped
 * (moby drops a removed container's links).
 */
export function liveLinks(parent: ContainerRecord, find: (id: string) => ContainerRecord | undefined, bridgeIP: (id: string) => string | undefined): LiveLink[] {
  const out: LiveLink[] = [];
  for (const l of parent.links ?? []) {
    const child = find(l.id);
    if (!child) continue;
    if (!child.State.Running) throw systemError(`Cannot link to a non running container: ${child.Name} AS ${parent.Name}/${l.alias}`);
    const ip = bridgeIP(child.Id);
    if (!ip) throw systemError(`Cannot link to ${child.Name}, as it does not belong to the default network`);
    out.push({ alias: l.alias, child, childIP: ip });
  }
  return out;
}

/** The /etc/hosts line of a link: the alias, the child's hostname and (if different) its name. */
export function linkHostsLine(l: LiveLink): string {
  const name = l.child.Name.slice(1);
  let names = `${l.alias} ${l.child.Config.Hostname ?? ""}`.trimEnd();
  if (l.alias !== name) names += ` ${name}`;
  return `${l.childIP}\t${names}`;
}

interface Port {
  port: number;
  proto: string;
}

/** Ports by number, tcp first at equal numbers (moby's withTCP order). */
function sortedPorts(exposed: Record<string, unknown> | null | undefined): Port[] {
  const ports: Port[] = [];
  for (const k of Object.keys(exposed ?? {})) {
    const m = /^(\d+)(?:\/(\w+))?$/.exec(k);
    if (m) ports.push({ port: Number(m[1]), proto: (m[2] ?? "tcp").toLowerCase() });
  }
  return ports.sort((a, b) => a.port - b.port || (a.proto === "tcp" ? -1 : b.proto === "tcp" ? 1 : 0));
}

/** Index of the last port in the run of consecutive numbers that starts at `index`. */
function runEnd(ports: Port[], index: number): number {
  let value = ports[index]!.port;
  for (let i = index + 1; i < ports.length; i++) {
    if (ports[i]!.port > value + 1) return i - 1;
    value++;
  }
  return ports.length - 1;
}

/**
 * The environment a link gives the parent (moby's Link.ToEnv): <ALIAS>_PORT (the lowest
 * port), START/END variables for runs of three or more consecutive ports, one group per port,
 * <ALIAS>_NAME=/parent/alias and <ALIAS>_ENV_<var> for the child's Config.Env (not HOME, PATH).
 */
export function linkEnv(parentName: string, l: LiveLink): string[] {
  const alias = l.alias.toUpperCase().replace(/-/g, "_");
  const ip = l.childIP;
  const ports = sortedPorts(l.child.Config.ExposedPorts);
  const env: string[] = [];
  if (ports[0]) env.push(`${alias}_PORT=${ports[0].proto}://${ip}:${ports[0].port}`);
  for (let i = 0; i < ports.length; ) {
    const j = runEnd(ports, i);
    if (j > i + 1) {
      const p = ports[i]!;
      const q = ports[j]!;
      const pre = `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
      env.push(`${pre}_START=${p.proto}://${ip}:${p.port}`, `${pre}_ADDR=${ip}`, `${pre}_PROTO=${p.proto}`, `${pre}_PORT_START=${p.port}`);
      const qpre = `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}`;
      env.push(`${qpre}_END=${q.proto}://${ip}:${q.port}`, `${qpre}_PORT_END=${q.port}`);
      i = j + 1;
    } else {
      i++;
    }
  }
  for (const p of ports) {
    const pre = `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
    env.push(`${pre}=${p.proto}://${ip}:${p.port}`, `${pre}_ADDR=${ip}`, `${pre}_PORT=${p.port}`, `${pre}_PROTO=${p.proto}`);
  }
  env.push(`${alias}_NAME=${parentName}/${l.alias}`);
  for (const v of l.child.Config.Env ?? []) {
    const eq = v.indexOf("=");
    if (eq < 0) continue;
    const key = v.slice(0, eq);
    if (key === "HOME" || key === "PATH") continue;
    env.push(`${alias}_ENV_${key}=${v.slice(eq + 1)}`);
  }
  return env;
}
