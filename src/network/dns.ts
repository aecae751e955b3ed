import * as dgram from "node:dgram";
import * as net from "node:net";
import type { Logger } from "../lib/index.js";

type DnsPacket = typeof import("dns-packet");
let dnsPacket: DnsPacket | undefined;
async function codec(): Promise<DnsPacket> {
  // Loaded on first use: a pierd without user networks never pays for it.
  dnsPacket ??= ((await import("dns-packet")) as unknown as { default: DnsPacket }).default;
  return dnsPacket;
}

export interface Upstream {
  host: string;
  port: number;
}

/** What a network's DNS server knows: its containers' names, and where other names go. */
export interface DnsResolver {
  /** IPv4 addresses for a name (container name, alias, short ID) asked by `client`, or undefined. */
  lookup(name: string, client: string): string[] | undefined;
  /** The name for one of this network's addresses (PTR), or undefined. */
  reverse(ip: string, client?: string): string | undefined;
  /** Resolvers for other names, for a query from `client`. */
  upstreams(client: string): Upstream[];
}

const TTL = 600;
const UPSTREAM_TIMEOUT_MS = 3000;
const RCODE_SERVFAIL = 2;

/**
 * A small DNS server on a network's gateway address (UDP and TCP port 53), as Docker's embedded
 * server at 127.0.0.11: containers' names answered from the engine's state, everything else
 * relayed as is to the host's resolvers (or the container's own --dns servers).
 */
export class DnsServer {
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;

  constructor(
    readonly address: string,
    private readonly resolver: DnsResolver,
    private readonly log: Logger,
    readonly port = 53,
  ) {}

  async start(): Promise<void> {
    await codec();
    const udp = dgram.createSocket({ type: "udp4", reuseAddr: true });
    udp.on("message", (msg, rinfo) => {
      void this.answer(msg, rinfo.address, "udp").then((reply) => {
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      }).catch((err) => this.log.debug("dns: query failed", { err }));
    });
    udp.on("error", (err) => this.log.warn("dns: udp socket error", { address: this.address, err }));
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind({ address: this.address, port: this.port }, () => {
        udp.removeListener("error", reject);
        resolve();
      });
    });
    udp.unref();
    this.udp = udp;
    const tcp = net.createServer((sock) => this.serveTCP(sock));
    tcp.on("error", (err) => this.log.warn("dns: tcp socket error", { address: this.address, err }));
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen({ host: this.address, port: this.port }, () => {
        tcp.removeListener("error", reject);
        resolve();
      });
    }).catch((err) => {
      udp.close();
      this.udp = undefined;
      throw err;
    });
    tcp.unref();
    this.tcp = tcp;
  }

  close(): void {
    this.udp?.close();
    this.tcp?.close();
    this.udp = undefined;
    this.tcp = undefined;
  }

  private serveTCP(sock: net.Socket): void {
    let buf = Buffer.alloc(0);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on("error", () => {});
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.answer(msg, sock.remoteAddress ?? "", "tcp").then((reply) => {
          if (!reply || sock.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([head, reply]));
        }).catch(() => sock.destroy());
      }
    });
  }

  /** The reply to one query message, or undefined to say nothing. */
  async answer(msg: Buffer, client: string, transport: "udp" | "tcp"): Promise<Buffer | undefined> {
    const dp = await codec();
    let q: ReturnType<DnsPacket["decode"]>;
    try {
      q = dp.decode(msg);
    } catch {
      return undefined;
    }
    if (q.type !== "query" || !q.questions || q.questions.length !== 1) return undefined;
    const question = q.questions[0]!;
    const name = question.name.replace(/\.$/, "").toLowerCase();
    const cls = question.class ?? "IN";
    if (cls === "IN" || cls === "ANY") {
      const type = question.type as string;
      if (type === "A" || type === "AAAA" || type === "ANY") {
        const ips = this.resolver.lookup(name, client);
        if (ips) {
          const answers = type === "AAAA" ? [] : ips.map((ip) => ({ type: "A" as const, name: question.name, ttl: TTL, data: ip }));
          return reply(dp, q, answers, 0);
        }
      } else if (question.type === "PTR") {
        const ip = ptrToIP(name);
        const host = ip ? this.resolver.reverse(ip, client) : undefined;
        if (host) return reply(dp, q, [{ type: "PTR", name: question.name, ttl: TTL, data: host }], 0);
      }
    }
    const ups = this.resolver.upstreams(client);
    for (const u of ups) {
      try {
        return transport === "udp" ? await forwardUDP(msg, u) : await forwardTCP(msg, u);
      } catch (err) {
        this.log.debug("dns: upstream failed", { upstream: `${u.host}:${u.port}`, err });
      }
    }
    return reply(dp, q, [], RCODE_SERVFAIL);
  }
}

function reply(dp: DnsPacket, q: ReturnType<DnsPacket["decode"]>, answers: NonNullable<import("dns-packet").Packet["answers"]>, rcode: number): Buffer {
  let flags = dp.RECURSION_AVAILABLE | rcode;
  if (q.flag_rd) flags |= dp.RECURSION_DESIRED;
  return dp.encode({ type: "response", id: q.id, flags, questions: q.questions, answers });
}

/** "4.3.2.1.in-addr.arpa" → "1.2.3.4". */
export function ptrToIP(name: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(name);
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}

function forwardUDP(msg: Buffer, u: Upstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(u.host.includes(":") ? "udp6" : "udp4");
    const id = msg.readUInt16BE(0);
    const timer = setTimeout(() => done(new Error("timeout")), UPSTREAM_TIMEOUT_MS);
    let finished = false;
    const done = (err?: Error, data?: Buffer) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(data!);
    };
    sock.on("error", (e) => done(e));
    sock.on("message", (data) => {
      if (data.length >= 2 && data.readUInt16BE(0) === id) done(undefined, data);
    });
    sock.send(msg, u.port, u.host);
  });
}

function forwardTCP(msg: Buffer, u: Upstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.host, port: u.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error("timeout")), UPSTREAM_TIMEOUT_MS);
    let finished = false;
    const done = (err?: Error, data?: Buffer) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(data!);
    };
    sock.on("error", (e) => done(e));
    sock.on("connect", () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([head, msg]));
    });
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    sock.on("close", () => done(new Error("closed")));
  });
}

/** Nameservers of a resolv.conf text, as upstreams. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push({ host: m[1]!, port: 53 });
  }
  return out;
}
