import { isIP } from "node:net";

/**
 * Docker's nat.ParsePortRange: "80" or "8000-8010". Each caller words its own error (they
 * differ by command in Docker), so this says only why a value is not a range, and `detail`
 * gives the underlying Go error in go-connections 0.5's words, for callers that print it (the
 * docker CLI's --expose does).
 *
 * nat splits on every "-" and reads the first two parts only, so "8000-8001-9" is the range
 * 8000-8001 and "80-81-x" is 80-81: the docker CLI (go-connections 0.5) and dockerd 20.10 (0.4)
 * both accept them that way, in -p, --expose, EXPOSE and a PortBinding's HostPort alike. An
 * empty part ("80-", "-80", "1--2") is still a syntax error.
 */
export type PortRange = { start: number; end: number } | { error: "syntax" | "out of range" | "order"; detail: string };

/** Go's strconv.ParseUint(s, 10, 16): digits only (no sign, no spaces), at most 65535. */
function parseUint16(s: string): number | { error: "syntax" | "out of range"; detail: string } {
  if (!/^\d+$/.test(s)) return { error: "syntax", detail: `strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax` };
  const n = Number(s);
  if (n > 65535) return { error: "out of range", detail: `strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range` };
  return n;
}

export function parsePortRange(s: string): PortRange {
  if (s === "") return { error: "syntax", detail: "empty string specified for ports" };
  const parts = s.split("-");
  // Parsed in nat's order: the start's error wins over the end's.
  const start = parseUint16(parts[0]!);
  if (typeof start !== "number") return start;
  const end = parts.length > 1 ? parseUint16(parts[1]!) : start;
  if (typeof end !== "number") return end;
  if (end < start) return { error: "order", detail: `invalid range specified for port: ${s}` };
  return { start, end };
}

/** One container port of a spec, with the host side it asks for (HostPort "" = any). */
export interface PortSpecMapping {
  /** nat.Port: "80/tcp" */
  port: string;
  hostIP: string;
  hostPort: string;
}

/**
 * Which go-connections nat to follow: 0.4 is what dockerd 20.10 vendors (its EXPOSE, for the
 * builder and `--change` alike), 0.5 what the docker CLI vendors today. They differ in how the
 * IP part is read (0.4 always passes it through SplitHostPort, so an unbracketed IPv6 address is
 * refused; 0.5 strips brackets only when there are some) and in their messages' capitals.
 */
export type NatVersion = "0.4" | "0.5";

/** nat's messages are written here in 0.5's words; 0.4 began them with a capital and wrote "ip". */
function natMessage(nat: NatVersion, msg: string): string {
  if (nat === "0.5") return msg;
  return msg.replace(/^invalid IP /, "invalid ip ").replace(/^./, (c) => c.toUpperCase());
}

/** nat.SplitProtoPort: "80/udp" → ["udp", "80"]; no or empty protocol is tcp; "" or "/x" → ["", ""]. */
export function splitPortProto(raw: string): [proto: string, port: string] {
  const parts = raw.split("/");
  if (raw.length === 0 || parts[0]!.length === 0) return ["", ""];
  if (parts.length === 1) return ["tcp", raw];
  if (parts[1]!.length === 0) return ["tcp", parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** nat's splitParts: "[ip:][hostPort:]containerPort"; an IPv6 address keeps its colons. */
function splitPortSpecParts(raw: string): [ip: string, hostPort: string, containerPort: string] {
  const parts = raw.split(":");
  const n = parts.length;
  const containerPort = parts[n - 1]!;
  if (n === 1) return ["", "", containerPort];
  if (n === 2) return ["", parts[0]!, containerPort];
  return [parts.slice(0, n - 2).join(":"), parts[n - 2]!, containerPort];
}

/**
 * Go's net.SplitHostPort(ip + ":"), which nat uses to strip the brackets of an IPv6 address:
 * the host, or the AddrError text.
 */
function stripIPBrackets(ip: string): { host: string } | { address: string } {
  const hostport = `${ip}:`;
  const fail = (why: string) => ({ address: `address ${hostport}: ${why}` });
  const last = hostport.length - 1;
  let host: string;
  let rest = 0;
  let restClose = 0;
  if (hostport[0] === "[") {
    const end = hostport.indexOf("]");
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 !== last) return fail(hostport[end + 1] === ":" ? "too many colons in address" : "missing port in address");
    host = hostport.slice(1, end);
    rest = 1;
    restClose = end + 1;
  } else {
    host = hostport.slice(0, last);
    if (host.includes(":")) return fail("too many colons in address");
  }
  if (hostport.slice(rest).includes("[")) return fail("unexpected '[' in address");
  if (hostport.slice(restClose).includes("]")) return fail("unexpected ']' in address");
  return { host };
}

/** Go's net.ParseIP: dotted IPv4 (no leading zeros) or IPv6, no zone. */
function isGoIP(s: string): boolean {
  return isIP(s) !== 0 && !s.includes("%");
}

/**
 * nat.ParsePortSpec: "[ip:][hostPort:]containerPort[/proto]" → one mapping per container port,
 * in nat's order of checks, or nat's message for the first problem found (callers add their
 * error kind).
 */
export function parsePortSpec(raw: string, nat: NatVersion): PortSpecMapping[] | { error: string } {
  const fail = (msg: string) => ({ error: natMessage(nat, msg) });
  const [rawIP, hostPort, rawContainerPort] = splitPortSpecParts(raw);
  const [proto, containerPort] = splitPortProto(rawContainerPort);
  let ip = rawIP;
  if (nat === "0.4" || ip.startsWith("[")) {
    const split = stripIPBrackets(ip);
    if ("address" in split) return fail(`invalid IP address ${ip}: ${split.address}`);
    ip = split.host;
  }
  if (ip !== "" && !isGoIP(ip)) return fail(`invalid IP address: ${ip}`);
  if (containerPort === "") return fail(`no port specified: ${raw}<empty>`);
  const ctr = parsePortRange(containerPort);
  if ("error" in ctr) return fail(`invalid containerPort: ${containerPort}`);
  let host = { start: 0, end: 0 };
  if (hostPort !== "") {
    const r = parsePortRange(hostPort);
    if ("error" in r) return fail(`invalid hostPort: ${hostPort}`);
    host = r;
  }
  // A host range with one container port is a range to pick a free port from.
  if (hostPort !== "" && ctr.end - ctr.start !== host.end - host.start && ctr.end !== ctr.start) {
    return fail(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const p = proto.toLowerCase();
  if (p !== "tcp" && p !== "udp" && p !== "sctp") return fail(`invalid proto: ${proto}`);
  const out: PortSpecMapping[] = [];
  for (let i = 0; i <= ctr.end - ctr.start; i++) {
    let hp = hostPort !== "" ? String(host.start + i) : "";
    if (ctr.start === ctr.end && host.start !== host.end) hp = `${hp}-${host.end}`;
    out.push({ port: `${ctr.start + i}/${p}`, hostIP: ip, hostPort: hp });
  }
  return out;
}

/**
 * dockerd's check of HostConfig.PortBindings (daemon validateHostConfig, go-connections 0.4;
 * pier runs it when a container is created): a key's port must be a single number (nat.ParsePort,
 * so "80-81/tcp" is refused there although the CLI expands ranges before sending), a binding's
 * HostPort a port or a range (nat.NewPort after SplitProtoPort: "8000-8001-9" passes, "1--2"
 * does not); an empty one is fine. The message names the bad value as Go's %q prints it (the
 * key without its protocol, the HostPort whole); undefined when all are good.
 */
export function invalidPortBinding(bindings: Record<string, readonly { HostPort?: string }[] | null | undefined> | null | undefined): string | undefined {
  const quote = (s: string) => JSON.stringify(s);
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [, port] = splitPortProto(key);
    if (port !== "" && typeof parseUint16(port) !== "number") return `invalid port specification: ${quote(port)}`;
    for (const b of list ?? []) {
      const hostPort = b?.HostPort ?? "";
      const [, hp] = splitPortProto(hostPort);
      if (hp !== "" && "error" in parsePortRange(hp)) return `invalid port specification: ${quote(hostPort)}`;
    }
  }
  return undefined;
}
