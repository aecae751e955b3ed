import * as dgram from "node:dgram";
import * as net from "node:net";
import { conflict, invalidParameter } from "../errdefs/index.js";
import { parseIPv4 } from "./ipnet.js";
import { parsePortRange } from "../lib/index.js";

export type Proto = "tcp" | "udp" | "sctp";

/** One published port as asked for: a host port range (0–0 is "any free port"). */
export interface PortRequest {
  proto: Proto;
  containerPort: number;
  hostIP: string;
  hostPortFrom: number;
  hostPortTo: number;
}

/** One published port as bound. */
export interface PortMapping {
  proto: Proto;
  containerPort: number;
  hostIP: string;
  hostPort: number;
}

export type PortBindings = Record<string, { HostIp?: string; HostPort?: string }[] | null>;

/** "80/tcp" → [80, "tcp"]; Docker's nat.Port. */
export function parsePortKey(key: string): { port: number; proto: Proto } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
  const port = m ? Number(m[1]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw invalidParameter(`invalid port specification: "${key}"`);
  return { port, proto: (m[2]?.toLowerCase() ?? "tcp") as Proto };
}

function parseHostPort(s: string | undefined, key: string): [number, number] {
  const v = (s ?? "").trim();
  if (v === "" || v === "0") return [0, 0];
  const r = parsePortRange(v);
  if ("error" in r || r.start < 1) throw invalidParameter(`invalid host port "${v}" for ${key}`);
  return [r.start, r.end];
}

/**
 * The ports a container publishes: its PortBindings, plus with PublishAllPorts every exposed
 * port not bound otherwise (on a random host port), as Docker does.
 */
export function portRequests(bindings: PortBindings | null | undefined, publishAll: boolean, exposed: Record<string, unknown> | null | undefined, defaultHostIP = ""): PortRequest[] {
  const out: PortRequest[] = [];
  const keys = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    keys.add(`${port}/${proto}`);
    for (const b of list && list.length ? list : [{}]) {
      const hostIP = (b.HostIp ?? "").trim() || defaultHostIP;
      if (hostIP !== "" && parseIPv4(hostIP) === undefined) {
        if (hostIP.includes(":")) throw invalidParameter(`cannot publish on ${hostIP}: this engine has no IPv6 networking`);
        throw invalidParameter(`invalid host IP address "${hostIP}" in port binding for ${key}`);
      }
      const [from, to] = parseHostPort(b.HostPort, key);
      out.push({ proto, containerPort: port, hostIP: hostIP === "0.0.0.0" ? "" : hostIP, hostPortFrom: from, hostPortTo: to });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parsePortKey(key);
      if (keys.has(`${port}/${proto}`)) continue;
      keys.add(`${port}/${proto}`);
      out.push({ proto, containerPort: port, hostIP: defaultHostIP === "0.0.0.0" ? "" : defaultHostIP, hostPortFrom: 0, hostPortTo: 0 });
    }
  }
  return out;
}

/** A published port another program holds; the caller names the endpoint, as Docker does. */
export class ForeignPortError extends Error {}

interface Held {
  close(): void;
}

/** How long a UDP flow through the proxy lives without traffic (Docker's proxy: 90 s). */
const UDP_FLOW_IDLE_MS = 90_000;

export interface PortReservationOptions {
  /**
   * The held socket is the way in (no kernel rules: pierd --iptables=false): it relays each TCP
   * connection and UDP flow to the container, as docker-proxy does.
   */
  relay?: boolean;
  /**
   * Docker's --userland-proxy (default true). It only changes the words of a port another
   * program holds: docker-proxy's failed listen says "Error starting userland proxy: …", while
   * without it dockerd holds the port with a placeholder listener of its own, whose error is
   * the bare "listen tcp4 …" (seen with dockerd 20.10).
   */
  userlandProxy?: boolean;
}

/**
 * Host ports held open while they are published: the kernel's DNAT sends the traffic to the
 * container before any socket sees it, but holding the port keeps other programs (and another
 * container) from taking it, and makes a taken port an error at start, as Docker does (with
 * docker-proxy, or its placeholder listener without one). With `relay` the held socket also
 * carries the traffic.
 */
export class PortReservations {
  private readonly held = new Map<string, Held>();
  private readonly proxy: boolean;
  private readonly userlandProxy: boolean;

  constructor(opts: PortReservationOptions = {}) {
    this.proxy = opts.relay ?? false;
    this.userlandProxy = opts.userlandProxy ?? true;
  }

  /** Bind every request; all or nothing. `containerIP`: where the proxy sends the traffic. */
  async reserve(reqs: PortRequest[], containerIP?: string): Promise<PortMapping[]> {
    const done: PortMapping[] = [];
    try {
      for (const r of reqs) done.push(await this.reserveOne(r, containerIP));
      return done;
    } catch (err) {
      this.release(done);
      throw err;
    }
  }

  /** Hold a mapping that is already in use (a running container after a pierd restart). */
  async readopt(m: PortMapping & { containerIP?: string }): Promise<boolean> {
    try {
      await this.bindExact(m.proto, m.hostIP, m.hostPort, this.target(m.containerIP, m.containerPort));
      return true;
    } catch {
      return false;
    }
  }

  release(list: PortMapping[]): void {
    for (const m of list) {
      const k = key(m.proto, m.hostIP, m.hostPort);
      this.held.get(k)?.close();
      this.held.delete(k);
    }
  }

  closeAll(): void {
    for (const h of this.held.values()) h.close();
    this.held.clear();
  }

  private target(ip: string | undefined, port: number): Target | undefined {
    return this.proxy && ip ? { ip, port } : undefined;
  }

  private async reserveOne(r: PortRequest, containerIP?: string): Promise<PortMapping> {
    if (r.proto === "sctp") throw invalidParameter("publishing SCTP ports is not supported");
    const shown = `${r.hostIP || "0.0.0.0"}:${r.hostPortFrom === r.hostPortTo ? r.hostPortFrom : `${r.hostPortFrom}-${r.hostPortTo}`}`;
    const to = this.target(containerIP, r.containerPort);
    if (r.hostPortFrom === 0) {
      const port = await this.bindExact(r.proto, r.hostIP, 0, to);
      return { proto: r.proto, containerPort: r.containerPort, hostIP: r.hostIP, hostPort: port };
    }
    let lastErr: unknown;
    for (let p = r.hostPortFrom; p <= r.hostPortTo; p++) {
      try {
        await this.bindExact(r.proto, r.hostIP, p, to);
        return { proto: r.proto, containerPort: r.containerPort, hostIP: r.hostIP, hostPort: p };
      } catch (err) {
        lastErr = err;
      }
    }
    const code = (lastErr as NodeJS.ErrnoException)?.code;
    if (code === "EADDRINUSE" && r.hostPortFrom === r.hostPortTo && !(lastErr as { ours?: boolean }).ours) {
      // Another program has it: Docker's words from its proxy's (or placeholder's) failed listen.
      const listen = `listen ${r.proto}4 ${shown}: bind: address already in use`;
      throw new ForeignPortError(this.userlandProxy ? `Error starting userland proxy: ${listen}` : listen);
    }
    if (code === "EADDRINUSE" || code === "EACCES") throw conflict(`Bind for ${shown} failed: port is already allocated`);
    if (code === "EADDRNOTAVAIL") throw invalidParameter(`Bind for ${shown} failed: cannot assign requested address`);
    throw conflict(`Bind for ${shown} failed: ${(lastErr as Error)?.message ?? "unknown error"}`);
  }

  private bindExact(proto: Proto, hostIP: string, port: number, to?: Target): Promise<number> {
    const host = hostIP || "0.0.0.0";
    if (port !== 0 && this.held.has(key(proto, hostIP, port))) {
      return Promise.reject(Object.assign(new Error("port is already allocated"), { code: "EADDRINUSE", ours: true }));
    }
    // Another of our reservations on 0.0.0.0 covers every specific address too, and the kernel
    // allows 0.0.0.0 and a specific address side by side only with SO_REUSEADDR, which we don't set.
    if (proto === "udp") {
      return new Promise((resolve, reject) => {
        const sock = dgram.createSocket({ type: "udp4" });
        sock.once("error", reject);
        sock.bind({ port, address: host, exclusive: true }, () => {
          sock.removeListener("error", reject);
          sock.on("error", () => {});
          const flows = to ? udpRelay(sock, to) : undefined;
          if (!flows) sock.on("message", () => {});
          sock.unref();
          const bound = sock.address().port;
          this.held.set(key(proto, hostIP, bound), {
            close: () => {
              flows?.close();
              sock.close();
            },
          });
          resolve(bound);
        });
      });
    }
    return new Promise((resolve, reject) => {
      const server = to ? net.createServer({ allowHalfOpen: true }, (c) => tcpRelay(c, to)) : net.createServer((c) => c.destroy());
      server.once("error", reject);
      server.listen({ port, host, exclusive: true, backlog: to ? 511 : 1 }, () => {
        server.removeListener("error", reject);
        server.on("error", () => {});
        server.unref();
        const bound = (server.address() as net.AddressInfo).port;
        this.held.set(key(proto, hostIP, bound), { close: () => server.close() });
        resolve(bound);
      });
    });
  }
}

interface Target {
  ip: string;
  port: number;
}

/** One proxied TCP connection: both directions piped, half-closes passed on, errors end both. */
function tcpRelay(client: net.Socket, to: Target): void {
  const upstream = net.connect({ host: to.ip, port: to.port, allowHalfOpen: true });
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", end);
  upstream.on("error", end);
  client.pipe(upstream);
  upstream.pipe(client);
}

/**
 * UDP through the proxy: one socket towards the container per client address, so replies find
 * their way back; a flow idle for 90 s is closed.
 */
function udpRelay(front: dgram.Socket, to: Target): { close(): void } {
  const flows = new Map<string, { sock: dgram.Socket; timer: NodeJS.Timeout }>();
  const drop = (k: string) => {
    const f = flows.get(k);
    if (!f) return;
    flows.delete(k);
    clearTimeout(f.timer);
    f.sock.close();
  };
  front.on("message", (msg, rinfo) => {
    const k = `${rinfo.address}:${rinfo.port}`;
    let f = flows.get(k);
    if (!f) {
      const sock = dgram.createSocket("udp4");
      sock.on("error", () => drop(k));
      sock.on("message", (reply, from) => {
        if (from.address !== to.ip || from.port !== to.port) return;
        front.send(reply, rinfo.port, rinfo.address);
      });
      sock.unref();
      f = { sock, timer: setTimeout(() => drop(k), UDP_FLOW_IDLE_MS).unref() };
      flows.set(k, f);
    }
    f.timer.refresh();
    f.sock.send(msg, to.port, to.ip);
  });
  return {
    close: () => {
      for (const k of [...flows.keys()]) drop(k);
    },
  };
}

function key(proto: string, hostIP: string, port: number): string {
  return `${proto}/${hostIP || "0.0.0.0"}/${port}`;
}
