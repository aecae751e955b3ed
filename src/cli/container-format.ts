// `ps` rows as the docker CLI's formatter.ContainerContext shows them.

import { parseNormalizedNamed, familiarString, type Reference } from "../oci/index.js";
import { ellipsis, goTimeString, joinLabels, makeContext, truncateID } from "./format.js";
import { goQuote } from "./template.js";
import { humanDuration, humanSizeWithPrecision } from "./units.js";

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: PortSummary[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: Array<{ Name?: string; Source?: string; Driver?: string }> | null;
}

export const DEFAULT_PS_FORMAT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
export const QUIET_PS_FORMAT = "{{.ID}}";

export const PS_HEADER: Record<string, string> = {
  ID: "CONTAINER ID",
  Names: "NAMES",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Size: "SIZE",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  LocalVolumes: "LOCAL VOLUMES",
  Networks: "NETWORKS",
  Platform: "PLATFORM",
};

/** The format ps uses for its flags: -q, -s, --format (with "table" alone meaning the default). */
export function psFormat(format: string | undefined, quiet: boolean, size: boolean): string {
  if (format && format !== "table") return format;
  if (quiet) return QUIET_PS_FORMAT;
  return size ? `${DEFAULT_PS_FORMAT}\t{{.Size}}` : DEFAULT_PS_FORMAT;
}

function comparePorts(a: PortSummary, b: PortSummary): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  if ((a.IP ?? "") !== (b.IP ?? "")) return (a.IP ?? "") < (b.IP ?? "") ? -1 : 1;
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function formGroup(key: string, start: number, last: number): string {
  const parts = key.split("/");
  let type = parts[0]!;
  let ip = "";
  if (parts.length > 1) {
    ip = parts[0]!;
    type = parts[1]!;
  }
  let group = String(start);
  if (start !== last) group = `${group}-${last}`;
  if (ip !== "") group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

/** formatter.DisplayablePorts: "0.0.0.0:8080->80/tcp, 443/tcp", grouping consecutive ports. */
export function displayablePorts(input: readonly PortSummary[]): string {
  const ports = [...input].sort(comparePorts);
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const port of ports) {
    const current = port.PrivatePort;
    let key = port.Type;
    if (port.IP) {
      if ((port.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(port.IP, port.PublicPort ?? 0)}->${port.PrivatePort}/${port.Type}`);
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const group = groups.get(key);
    if (!group) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === group.last + 1) {
      group.last = current;
      continue;
    }
    result.push(formGroup(key, group.first, group.last));
    // Go replaces the map entry (the key keeps its first insertion order).
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  result.push(...hostMappings);
  return result.join(", ");
}

/** Names without their leading slash. */
export const stripNamePrefix = (names: readonly string[]) => names.map((n) => (n.startsWith("/") ? n.slice(1) : n));

function imageForDisplay(image: string, imageID: string, trunc: boolean): string {
  if (image === "") return "<no image>";
  if (!trunc) return image;
  if (truncateID(imageID) === truncateID(image)) return truncateID(image);
  let ref: Reference;
  try {
    ref = parseNormalizedNamed(image);
  } catch {
    return image;
  }
  // A tag wins over a digest; without a tag the digest is dropped.
  const parsedTag = (() => {
    try {
      return parseTagOnly(image);
    } catch {
      return undefined;
    }
  })();
  if (parsedTag) return familiarString({ domain: ref.domain, path: ref.path, tag: parsedTag });
  return familiarString({ domain: ref.domain, path: ref.path });
}

function parseTagOnly(image: string): string | undefined {
  const noDigest = image.split("@")[0]!;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(colon + 1) : undefined;
}

export interface ContainerContextOptions {
  trunc: boolean;
  now?: number;
}

/** One ps row: the fields Docker's --format templates see. */
export function containerContext(c: ContainerSummary, opts: ContainerContextOptions): Record<string, unknown> {
  const now = opts.now ?? Date.now();
  const created = (c.Created ?? 0) * 1000;
  const names = stripNamePrefix(c.Names ?? []);
  let shownNames = names;
  if (opts.trunc) {
    const plain = names.find((n) => n.split("/").length === 1);
    if (plain !== undefined) shownNames = [plain];
  }
  let command = c.Command ?? "";
  if (opts.trunc) command = ellipsis(command, 20);
  const size = (() => {
    const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
    return (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSizeWithPrecision(c.SizeRootFs ?? 0, 3)})` : srw;
  })();
  const mounts = (c.Mounts ?? []).map((m) => {
    const name = m.Name ? m.Name : (m.Source ?? "");
    return opts.trunc ? ellipsis(name, 15) : name;
  });
  const fields: Record<string, string | null> = {
    Command: goQuote(command),
    CreatedAt: goTimeString(created),
    ID: opts.trunc ? truncateID(c.Id) : c.Id,
    Image: imageForDisplay(c.Image ?? "", c.ImageID ?? "", opts.trunc),
    Labels: joinLabels(c.Labels),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === "local").length),
    Mounts: mounts.join(","),
    Names: shownNames.join(","),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(","),
    Platform: null,
    Ports: displayablePorts(c.Ports ?? []),
    RunningFor: `${humanDuration(now - created)} ago`,
    Size: size,
    State: c.State ?? "",
    Status: c.Status ?? "",
  };
  return makeContext("*formatter.ContainerContext", fields, {
    Label: (name: unknown) => (c.Labels ?? {})[String(name)] ?? "",
  });
}
