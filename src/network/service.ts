import { createHash } from "node:crypto";
import { promises as fsp, readFileSync } from "node:fs";
import * as path from "node:path";
import type { EventBus } from "../events/index.js";
import { RecordStore } from "../metadata/index.js";
import { conflict, forbidden, invalidParameter, isKind, notFound, systemError } from "../errdefs/index.js";
import { newID, rfc3339Nano, silentLogger, type Logger } from "../lib/index.js";
import { connectLinks, createNetns, deleteLinks, ipLinks, ipRoutes, ipv4Addresses, netScript, setSysctl, setupSandbox, teardownSandbox, type IPLink } from "../sys/index.js";
import { DnsServer, parseResolvConf, type Upstream } from "./dns.js";
import { Firewall, type FwState } from "./firewall.js";
import { enableIPForwarding } from "./forwarding.js";
import { AddressPool } from "./ipam.js";
import { contains, DEFAULT_ADDRESS_POOLS, formatIPv4, formatPrefix, macForIP, overlaps, parseIPv4, parsePrefix, poolSubnets, type AddressPool as PoolSpec, type Prefix } from "./ipnet.js";
import { ForeignPortError, parsePortKey, portRequests, PortReservations, type PortBindings, type PortMapping } from "./ports.js";
import { bridgeScript, pickAndCreateBridgeScript, type Link } from "./sandbox.js";
import type { EndpointSettings, EndpointSettingsInput, NetworkContainer, NetworkCreateRequest, NetworkResource, NetworkSettings, PortMap, SummaryPort } from "./types.js";

const PREDEFINED = ["bridge", "host", "none"] as const;
const DEFAULT_MTU = 1500;
/** Machine-wide lock (flock on a directory) for choosing subnets; /run/lock is on every Debian. */
const LOCK_DIRS = ["/run/lock", "/tmp"];

/** A network as stored: the API document (without Containers) plus what only the engine needs. */
interface NetworkRecord extends Omit<NetworkResource, "Containers"> {
  Containers?: unknown;
  pier?: {
    bridge: string;
    /** The subnet was given by the user (or --bip), not taken from the pools. */
    userSubnet: boolean;
    /** The bridge is the admin's (pierd --bridge): used, never made or deleted. */
    external?: boolean;
  };
}

/** One network a container is (to be) connected to. */
interface EndpointConfig {
  networkId: string;
  aliases: string[];
  ipv4?: string;
  links?: string[];
  mac?: string;
}

interface LiveEndpoint {
  networkId: string;
  endpointId: string;
  ip: string;
  mac: string;
  ifname: string;
  hostIf: string;
}

interface PublishedPort extends PortMapping {
  networkId: string;
  containerIP: string;
}

interface Sandbox {
  id: string;
  /** The bind-mounted network namespace (undefined for host, none and container: modes). */
  key?: string;
  endpoints: LiveEndpoint[];
  ports: PublishedPort[];
  /** The container's --dns servers: where Pier's DNS server sends its other names. */
  dns: string[];
}

/** A container's networking, kept by the network module (one record per container). */
interface ContainerNet {
  id: string;
  name: string;
  /** HostConfig.NetworkMode: "bridge", "host", "none", "container:<ref>" or a network's name. */
  mode: string;
  configs: EndpointConfig[];
  sandbox?: Sandbox;
  /** The network named by the mode did not exist at create: it is looked up again at start. */
  unresolved?: boolean;
  endpointsConfig?: Record<string, EndpointSettingsInput | null> | null;
}

export interface NetworkServiceOptions {
  /** <data-root>/network */
  root: string;
  /** <exec-root>: namespace files go to <exec-root>/netns. */
  execRoot: string;
  events?: EventBus;
  log?: Logger;
  /** Name of the default bridge (Docker's --bridge); default pier0 (pier0-<tag> for a pierd with another exec root). */
  bridgeName?: string;
  /** The default bridge's address and prefix, e.g. "172.17.0.1/16" (Docker's --bip). */
  bip?: string;
  /** Docker's default-address-pools. */
  defaultAddressPools?: PoolSpec[];
  /** Manage iptables (Docker's --iptables); default true. Without, published ports are proxied. */
  iptables?: boolean;
  /** Enable net.ipv4.ip_forward (Docker's --ip-forward); default true. */
  ipForward?: boolean;
  /**
   * Docker's --userland-proxy (default true). With iptables, the kernel's DNAT (route_localnet
   * for loopback, hairpin MASQUERADE) already covers what docker-proxy covers; the setting only
   * picks which host connections are masqueraded (firewall.ts FwMode), so containers see the
   * source address they would under dockerd. Without iptables the proxy is the only way in,
   * and false leaves ports unreachable as with Docker.
   */
  userlandProxy?: boolean;
  /**
   * Tells this pierd's host objects apart from another's on the same machine: chains are
   * PIER[-<instance>]…, the default bridge pier0[-<instance>]. Default: "" for exec root
   * /run/pier, else a hash of the exec root.
   */
  instance?: string;
  /** The host's resolv.conf, read for the DNS server's upstreams. */
  resolvConf?: string;
}

/** What a container start needs from the network: the namespace to join and the addresses. */
export interface AttachResult {
  /**
   * "path": join the namespace at `netnsPath` (spec network {mode: "path", path}); "host": the
   * host's; "none": a new one with loopback only; "container": the caller joins the other
   * container's (`containerRef`).
   */
  mode: "path" | "host" | "none" | "container";
  netnsPath?: string;
  containerRef?: string;
  /** The container's own addresses, primary first (for its /etc/hosts line). */
  addresses: string[];
  /** Nameservers for resolv.conf instead of the host's (Pier's DNS server on user networks). */
  dnsServers?: string[];
  /**
   * Settles when the namespace's links, addresses and port rules are in place. The namespace
   * itself exists when attach returns, so the runtime can create the container meanwhile;
   * its process must not run before this resolves. Rejects (after undoing the attach) when
   * the configuration failed.
   */
  ready: Promise<void>;
}

export interface AttachOptions {
  /** Container name without the leading "/". */
  name: string;
  /** HostConfig.NetworkMode, used when the container was never configured (created before). */
  networkMode?: string;
  portBindings?: PortBindings | null;
  publishAllPorts?: boolean;
  /** Config.ExposedPorts (image's merged in). */
  exposedPorts?: Record<string, unknown> | null;
  /** HostConfig.Dns: the DNS server relays to these for this container. */
  dns?: string[] | null;
}

export interface ConfigureOptions {
  name: string;
  networkMode?: string;
  endpointsConfig?: Record<string, EndpointSettingsInput | null> | null;
}

/**
 * Networks, addresses, container network namespaces, published ports and DNS.
 * Mechanism: Pier's own code; containers' namespaces over rtnetlink (sys/netlink.ts, no process
 * per container), bridges over ip(8), rules with iptables-restore (see docs/architecture.md).
 */
export class NetworkService {
  private readonly records: RecordStore<NetworkRecord>;
  private readonly containers: RecordStore<ContainerNet>;
  private readonly pools = new Map<string, AddressPool>();
  private readonly dns = new Map<string, DnsServer>();
  private readonly ops = new Map<string, Promise<unknown>>();
  /** Containers whose sandbox is being taken down: no longer shown, addresses not yet free. */
  private readonly closing = new Set<string>();
  /** Containers running in host/none/container: mode (they have no sandbox of ours). */
  private readonly activeShared = new Set<string>();
  private readonly reservations: PortReservations;
  /** pierd --bridge none: no default bridge network; "bridge" containers get loopback only. */
  private readonly noDefaultBridge: boolean;
  private readonly firewall: Firewall;
  private readonly log: Logger;
  readonly instance: string;
  readonly netnsDir: string;
  /** Exists while this pierd's bridges and rules are on the host. */
  private readonly hostMarker: string;
  readonly defaultBridge: string;
  private upstreamCache: { at: number; list: Upstream[] } | undefined;
  /** Subnets shown for networks whose bridge (and so subnet) is made on first use. */
  private readonly tentative = new Map<string, string>();

  private readonly o: NetworkServiceOptions;
  private hostReady: Promise<void> | undefined;

  /** A string is the network root alone (namespace files then go under it). */
  constructor(opts: NetworkServiceOptions | string) {
    const o = typeof opts === "string" ? { root: opts, execRoot: opts } : opts;
    this.o = o;
    this.records = new RecordStore<NetworkRecord>(path.join(o.root, "_meta"));
    this.containers = new RecordStore<ContainerNet>(path.join(o.root, "endpoints"));
    this.log = o.log ?? silentLogger;
    this.instance = o.instance ?? (path.resolve(o.execRoot) === "/run/pier" ? "" : createHash("sha256").update(path.resolve(o.execRoot)).digest("hex").slice(0, 6));
    this.netnsDir = path.join(o.execRoot, "netns");
    this.hostMarker = path.join(o.execRoot, "network-host-state");
    this.noDefaultBridge = o.bridgeName === "none";
    this.defaultBridge = o.bridgeName && !this.noDefaultBridge ? o.bridgeName : this.instance ? `pier0-${this.instance}` : "pier0";
    checkBridgeName(this.defaultBridge);
    const proxy = o.iptables === false && o.userlandProxy !== false;
    if (o.iptables === false && !proxy) this.log.warn("--iptables=false with --userland-proxy=false: published ports are not reachable (as with Docker)");
    this.reservations = new PortReservations({ relay: proxy, userlandProxy: o.userlandProxy !== false });
    const prefix = this.instance ? `PIER-${this.instance.toUpperCase()}` : "PIER";
    this.firewall = new Firewall(prefix, () => this.fwState(), this.log, o.iptables !== false, { hairpin: o.userlandProxy === false });
  }

  // ------------------------------------------------------------------ start and stop

  /**
   * Load networks and container endpoints. The host side (bridges, chains, DNS servers) is made
   * now only if containers of a previous pierd may still run; else at first use. Endpoints
   * recorded as live are assumed live until `restore()` says otherwise.
   */
  async init(): Promise<void> {
    await fsp.mkdir(this.netnsDir, { recursive: true, mode: 0o700 });
    await this.records.load();
    await this.containers.load();
    await this.ensurePredefined();
    for (const n of this.records.values()) if (n.Driver === "bridge") this.buildPool(n);
    for (const st of this.containers.values()) {
      for (const ep of st.sandbox?.endpoints ?? []) {
        const pool = this.pools.get(ep.networkId);
        if (pool && !pool.mark(ip(ep.ip), st.id)) this.log.warn("address recorded twice", { ip: ep.ip, container: st.id });
      }
    }
    // Forwarding is dockerd's business at its start, bridge or not (see forwarding.ts).
    if (this.o.ipForward !== false) {
      await enableIPForwarding({ iptables: this.o.iptables !== false }).then(
        (r) => r === "turned on" && this.log.info("enabled net.ipv4.ip_forward", { forwardPolicy: this.o.iptables !== false ? "DROP" : "unchanged" }),
        (e) => this.log.warn("cannot enable ip_forward", { err: e }),
      );
    }
    // Bridges, rules and DNS servers are made when first needed; at once if containers of a
    // previous pierd still run (they keep their networking through a pierd restart).
    if ([...this.containers.values()].some((s) => s.sandbox)) {
      await this.ensureHost();
    } else {
      // A previous pierd was killed with its bridges and rules in place and nothing runs now.
      if (await fsp.access(this.hostMarker).then(() => true, () => false)) await this.cleanupHost();
      await this.guessSubnets().catch((e) => this.log.debug("cannot read routes", { err: e }));
    }
  }

  /** What the pools would give the networks still without a subnet (shown until they get one). */
  private async guessSubnets(): Promise<void> {
    const pending = [...this.records.values()].filter((n) => n.Driver === "bridge" && !n.IPAM.Config?.[0]?.Subnet);
    if (!pending.length) return;
    const taken = [
      ...[...this.records.values()].flatMap((x) => (x.IPAM.Config ?? []).filter((c) => c.Subnet).map((c) => parsePrefix(c.Subnet!))),
      ...(await ipRoutes()).filter((r) => r.dst && r.dst !== "default").map((r) => parsePrefix(r.dst.includes("/") ? r.dst : `${r.dst}/32`)),
    ];
    const gen = poolSubnets(this.o.defaultAddressPools ?? DEFAULT_ADDRESS_POOLS);
    for (const n of pending) {
      for (let p = gen.next(); !p.done; p = gen.next()) {
        if (taken.some((t) => overlaps(t, p.value))) continue;
        this.tentative.set(n.Id, formatPrefix(p.value));
        taken.push(p.value);
        break;
      }
    }
  }

  /** The host side: every bridge, our iptables chains, the DNS servers. Once. */
  private ensureHost(): Promise<void> {
    this.hostReady ??= (async () => {
      // Written first: whatever is made from here on is found again after a crash.
      await fsp.writeFile(this.hostMarker, "");
      // Chains of pierds killed before they could remove them would meet our subnets (see
      // stale-chains.ts): gone before our bridges are made.
      const foreign = await this.foreignSubnets();
      await this.ensureBridges([...this.records.values()].filter((n) => n.Driver === "bridge"), foreign);
      await this.firewall.install();
      for (const n of this.records.values()) if (this.isUserBridge(n)) await this.startDNS(n);
    })().catch((err) => {
      this.hostReady = undefined;
      throw err;
    });
    return this.hostReady;
  }

  /**
   * After the container service has settled what runs (pierd restart): release everything of
   * containers that are not running, hold the published ports of those that are, and remove
   * namespace files nobody owns (a crash between making and recording one).
   */
  async restore(isRunning: (containerId: string) => boolean): Promise<void> {
    for (const st of [...this.containers.values()]) {
      if (!st.sandbox) continue;
      if (!isRunning(st.id)) {
        await this.detach(st.id);
        continue;
      }
      for (const p of st.sandbox.ports) {
        if (!(await this.reservations.readopt(p))) this.log.warn("published port taken by another program while pierd was down", { port: p.hostPort, container: st.id });
      }
    }
    const owned = new Set([...this.containers.values()].map((s) => s.sandbox?.key).filter(Boolean));
    for (const f of await fsp.readdir(this.netnsDir).catch(() => [] as string[])) {
      const p = path.join(this.netnsDir, f);
      if (!owned.has(p)) await teardownSandbox(p, []).catch((e) => this.log.warn("cannot remove stale netns", { path: p, err: e }));
    }
  }

  /**
   * pierd is stopping: close the DNS servers and port holders. When no container of ours has
   * networking any more, also remove the bridges and every rule, so a stopped engine leaves the
   * host as it found it (they are made again at the next start).
   */
  async close(): Promise<void> {
    await Promise.all([...this.ops.values()].map((p) => p.catch(() => {})));
    for (const d of this.dns.values()) d.close();
    this.dns.clear();
    this.reservations.closeAll();
    const live = [...this.containers.values()].some((s) => s.sandbox);
    if (live) return;
    if (this.hostReady) {
      await this.hostReady.catch(() => {});
      this.hostReady = undefined;
      await this.cleanupHost();
    }
  }

  /**
   * The bridges of pierds that are gone, once nothing is attached to them: left up, each would
   * keep its subnet from every later network on this host (the default pools run out). One
   * that still has ports (containers its pierd left running) stays for that pierd's return.
   */
  private async removeIdleBridges(names: string[]): Promise<void> {
    // Only names Pier gives its own bridges (pier0[-<instance>], pier-<network id>): an admin's
    // bridge (pierd --bridge, com.docker.network.bridge.name) is never ours to delete.
    const ours = names.filter((n) => /^(pier0(-[0-9a-f]{6})?|pier-[0-9a-f]{10})$/.test(n));
    if (!ours.length) return;
    // Asked over netlink (ip): /sys/class/net shows the interfaces of whoever mounted /sys.
    const links = await ipLinks().catch(() => [] as IPLink[]);
    const idle = ours.filter((n) => links.some((l) => l.ifname === n) && !links.some((l) => l.master === n));
    if (!idle.length) return;
    await deleteLinks(idle).then(
      () => this.log.info("removed the bridges of pierds that are gone", { bridges: idle }),
      (e) => this.log.warn("cannot remove the bridges of pierds that are gone", { bridges: idle, err: e }),
    );
  }

  /** Remove our chains, jumps and bridges (nothing of ours runs). */
  private async cleanupHost(): Promise<void> {
    await this.firewall.uninstall().catch((e) => this.log.warn("cannot remove firewall rules", { err: e }));
    const bridges = [...this.records.values()].filter((n) => n.Driver === "bridge" && !n.pier?.external).map((n) => this.bridgeOf(n));
    await deleteLinks(bridges).catch((e) => this.log.warn("cannot remove bridges", { err: e }));
    await fsp.rm(this.hostMarker, { force: true });
  }

  private async ensurePredefined(): Promise<void> {
    const byName = new Map([...this.records.values()].map((n) => [n.Name, n]));
    for (const name of PREDEFINED) {
      let n = byName.get(name);
      if (name === "bridge" && this.noDefaultBridge) {
        // As dockerd -b none: the default network is gone (made anew when enabled again).
        if (n) await this.records.delete(n.Id);
        continue;
      }
      if (!n) {
        n = {
          Name: name,
          Id: newID(),
          Created: rfc3339Nano(Date.now()),
          Scope: "local",
          Driver: name === "bridge" ? "bridge" : name === "host" ? "host" : "null",
          EnableIPv6: false,
          IPAM: { Driver: "default", Options: null, Config: [] },
          Internal: false,
          Attachable: false,
          Ingress: false,
          ConfigFrom: { Network: "" },
          ConfigOnly: false,
          Options: {},
          Labels: {},
        };
      }
      delete n.Containers;
      if (name === "bridge") {
        n.Options = {
          "com.docker.network.bridge.default_bridge": "true",
          "com.docker.network.bridge.enable_icc": "true",
          "com.docker.network.bridge.enable_ip_masquerade": "true",
          "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
          "com.docker.network.bridge.name": this.defaultBridge,
          "com.docker.network.driver.mtu": String(DEFAULT_MTU),
        };
        const prev = n.pier;
        const external = this.o.bridgeName !== undefined;
        // An admin's bridge brings its own address, which becomes the network's (dockerd -b).
        const bip = this.o.bip ?? (external ? await this.externalBridgeAddress() : undefined);
        n.pier = { bridge: this.defaultBridge, userSubnet: !!bip, ...(external ? { external } : {}) };
        if (bip) {
          const p = parsePrefix(bip, "bip");
          const gw = ip(bip.split("/")[0]!);
          n.IPAM.Config = [{ Subnet: formatPrefix(p), Gateway: formatIPv4(gw) }];
        } else if (prev?.bridge !== this.defaultBridge || prev.userSubnet || !n.IPAM.Config?.length) {
          n.IPAM.Config = []; // chosen by ensureBridges from the pools
        }
      }
      await this.records.put(n.Id, n);
    }
  }

  // ------------------------------------------------------------------ bridges

  /** The IPv4 address/prefix of the bridge given with --bridge; it must exist (as with dockerd -b). */
  private async externalBridgeAddress(): Promise<string | undefined> {
    const addrs = await ipv4Addresses(this.defaultBridge);
    if (addrs === undefined) throw invalidParameter(`bridge device with non default name ${this.defaultBridge} must be created manually`);
    return addrs[0];
  }

  private bridgeOf(n: NetworkRecord): string {
    return n.pier?.bridge ?? n.Options["com.docker.network.bridge.name"] ?? `pier-${n.Id.slice(0, 10)}`;
  }

  private isUserBridge(n: NetworkRecord): boolean {
    return n.Driver === "bridge" && !PREDEFINED.includes(n.Name as (typeof PREDEFINED)[number]);
  }

  private mtuOf(n: NetworkRecord): number {
    const m = Number(n.Options["com.docker.network.driver.mtu"] ?? DEFAULT_MTU);
    return Number.isInteger(m) && m >= 68 && m <= 65535 ? m : DEFAULT_MTU;
  }

  private buildPool(n: NetworkRecord): void {
    const c = n.IPAM.Config?.[0];
    if (!c?.Subnet || !c.Gateway) return;
    this.pools.set(n.Id, new AddressPool(parsePrefix(c.Subnet), ip(c.Gateway), c.IPRange ? parsePrefix(c.IPRange) : undefined));
  }

  /**
   * Make the bridges of these networks; a network without a subnet gets one from the pools.
   * `foreign`: what foreignSubnets() just gave (else asked again when a subnet is picked).
   */
  private async ensureBridges(nets: NetworkRecord[], foreign?: Prefix[]): Promise<void> {
    let script = "";
    for (const n of nets) {
      const c = n.IPAM.Config?.[0];
      if (c?.Subnet && c.Gateway) {
        script += bridgeScript({ name: this.bridgeOf(n), cidr: `${c.Gateway}/${parsePrefix(c.Subnet).bits}`, mtu: this.mtuOf(n) });
      } else {
        await this.allocateSubnet(n, foreign);
      }
    }
    if (script) await netScript(script);
    for (const n of nets) {
      await setSysctl(`net.ipv4.conf.${this.bridgeOf(n)}.route_localnet`, "1").catch((e) => this.log.warn("cannot set route_localnet", { bridge: this.bridgeOf(n), err: e }));
    }
  }

  /**
   * Remove the chains of other pierds that are gone, and return the subnets the other pierds'
   * remaining chains name (firewall.ts sweepForeign). A failure to read them costs only this
   * protection: it is logged, never fatal.
   */
  private async foreignSubnets(): Promise<Prefix[]> {
    const { subnets: named, goneInterfaces } = await this.firewall.sweepForeign().catch((e) => {
      this.log.warn("cannot read other pierds' iptables chains", { err: e });
      return { subnets: [] as string[], goneInterfaces: [] as string[] };
    });
    await this.removeIdleBridges(goneInterfaces);
    return named.flatMap((s) => {
      try {
        return [parsePrefix(s.includes("/") ? s : `${s}/32`)];
      } catch {
        return [];
      }
    });
  }

  /**
   * The first pool subnet that neither another of our networks, nor a host route, nor another
   * pierd's rules use; the route check and the bridge creation happen together under a
   * machine-wide lock. (Another pierd's rules outside the lock: a live pierd's subnet has its
   * bridge's route, and a dead one's rules do not change.)
   */
  private async allocateSubnet(n: NetworkRecord, foreign?: Prefix[]): Promise<void> {
    const ours = [...this.records.values()].filter((x) => x.Id !== n.Id).flatMap((x) => (x.IPAM.Config ?? []).filter((c) => c.Subnet).map((c) => parsePrefix(c.Subnet!)));
    const avoid = [...ours, ...(foreign ?? (await this.foreignSubnets()))];
    const candidates: Prefix[] = [];
    for (const p of poolSubnets(this.o.defaultAddressPools ?? DEFAULT_ADDRESS_POOLS)) {
      if (avoid.some((o) => overlaps(o, p))) continue;
      candidates.push(p);
    }
    const bridge = this.bridgeOf(n);
    for (let i = 0; i < candidates.length; i += 16) {
      const batch = candidates.slice(i, i + 16).map((p) => ({ subnet: formatPrefix(p), cidr: `${formatIPv4(p.base + 1)}/${p.bits}` }));
      let lockDir = LOCK_DIRS[LOCK_DIRS.length - 1]!;
      for (const d of LOCK_DIRS) if (await fsp.stat(d).then((st) => st.isDirectory(), () => false)) { lockDir = d; break; }
      const stale = n.pier?.external ? "" : `ip link del dev '${bridge}' 2>/dev/null || true\n`;
      const r = await netScript(stale + pickAndCreateBridgeScript(bridge, this.mtuOf(n), batch, lockDir));
      const idx = Number(r.stdout.trim());
      if (Number.isInteger(idx)) {
        const chosen = candidates[i + idx]!;
        n.IPAM.Config = [{ Subnet: formatPrefix(chosen), Gateway: formatIPv4(chosen.base + 1) }];
        this.tentative.delete(n.Id);
        await this.records.put(n.Id, n);
        this.buildPool(n);
        return;
      }
    }
    throw systemError("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
  }

  // ------------------------------------------------------------------ DNS

  private async startDNS(n: NetworkRecord): Promise<void> {
    const gw = n.IPAM.Config?.[0]?.Gateway;
    if (!gw || this.dns.has(n.Id)) return;
    const server = new DnsServer(gw, {
      lookup: (name, client) => this.dnsLookup(n.Id, name, client),
      reverse: (addr, client) => this.dnsReverse(n.Id, addr, client),
      upstreams: (client) => this.upstreamsFor(client),
    }, this.log);
    try {
      await server.start();
      this.dns.set(n.Id, server);
    } catch (err) {
      this.log.warn("DNS server for network could not start; its containers use the host's resolvers", { network: n.Name, address: gw, err });
    }
  }

  private stopDNS(id: string): void {
    this.dns.get(id)?.close();
    this.dns.delete(id);
  }

  /** Live endpoints on a network: [container state, endpoint]. */
  private *liveOn(networkId: string): Generator<[ContainerNet, LiveEndpoint]> {
    for (const st of this.containers.values()) {
      if (!st.sandbox || this.closing.has(st.id)) continue;
      for (const ep of st.sandbox.endpoints) if (ep.networkId === networkId) yield [st, ep];
    }
  }

  /**
   * Names on the networks of the asking container (found by its address on `networkId`), as
   * Docker's resolver answers: the server's own network first, then the container's others.
   */
  private dnsLookup(networkId: string, name: string, client?: string): string[] | undefined {
    const nets = [networkId];
    let asker: ContainerNet | undefined;
    if (client) {
      for (const [st, ep] of this.liveOn(networkId)) {
        if (ep.ip !== client) continue;
        asker = st;
        for (const other of st.sandbox!.endpoints) if (!nets.includes(other.networkId) && this.isUserBridge(this.records.get(other.networkId)!)) nets.push(other.networkId);
      }
    }
    // A client that is not on this network (it reached the gateway through another way) gets
    // no names of it: only the relay to the upstream servers.
    if (client && !asker) {
      this.log.debug("dns: query from an address not on the network", { network: networkId, client, name });
      return undefined;
    }
    for (const id of nets) {
      // A link on a user network is an alias only the linking container sees (libnetwork's
      // endpoint aliases): "--link db:dbalias" makes dbalias mean db for it alone.
      const target = asker && linkTarget(asker.configs.find((c) => c.networkId === id)?.links, name);
      const found = (target && this.lookupOn(id, target)) || this.lookupOn(id, name);
      if (found) return found;
    }
    return undefined;
  }

  private lookupOn(networkId: string, name: string): string[] | undefined {
    const net = this.records.get(networkId);
    const names = [name];
    if (net && name.endsWith(`.${net.Name.toLowerCase()}`)) names.push(name.slice(0, -net.Name.length - 1));
    const out: string[] = [];
    for (const [st, ep] of this.liveOn(networkId)) {
      const conf = st.configs.find((c) => c.networkId === networkId);
      const known = [st.name, st.id.slice(0, 12), ...(conf?.aliases ?? [])].map((s) => s.toLowerCase());
      if (names.some((x) => known.includes(x))) out.push(ep.ip);
    }
    return out.length ? out : undefined;
  }

  private dnsReverse(networkId: string, addr: string, client?: string): string | undefined {
    if (client && ![...this.liveOn(networkId)].some(([, ep]) => ep.ip === client)) return undefined;
    for (const [st, ep] of this.liveOn(networkId)) {
      if (ep.ip === addr) return `${st.name}.${this.records.get(networkId)?.Name ?? ""}`;
    }
    return undefined;
  }

  private upstreamsFor(client: string): Upstream[] {
    for (const st of this.containers.values()) {
      if (st.sandbox?.dns.length && st.sandbox.endpoints.some((e) => e.ip === client)) {
        return st.sandbox.dns.map((h) => ({ host: h, port: 53 }));
      }
    }
    const now = Date.now();
    if (!this.upstreamCache || now - this.upstreamCache.at > 5000) {
      let list: Upstream[] = [];
      try {
        list = parseResolvConf(readFileSync(this.o.resolvConf ?? "/etc/resolv.conf", "utf8"));
      } catch {
        /* no resolv.conf: no upstreams */
      }
      this.upstreamCache = { at: now, list };
    }
    return this.upstreamCache.list;
  }

  // ------------------------------------------------------------------ networks (API)

  list(): NetworkResource[] {
    return [...this.records.values()].map((n) => this.view(n, false));
  }

  /** By ID, name, or unique ID prefix (with its Containers). */
  get(ref: string): NetworkResource {
    return this.view(this.find(ref), true);
  }

  private find(ref: string): NetworkRecord {
    const exact = this.records.get(ref) ?? [...this.records.values()].find((n) => n.Name === ref);
    if (exact) return exact;
    const byPrefix = [...this.records.values()].filter((n) => n.Id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw invalidParameter(`network ${ref} is ambiguous (${byPrefix.length} matches found on name)`);
    throw notFound(`network ${ref} not found`);
  }

  private view(n: NetworkRecord, withContainers: boolean): NetworkResource {
    const { pier: _p, Containers: _c, ...pub } = n;
    const containers: Record<string, NetworkContainer> = {};
    if (withContainers) {
      const pool = this.pools.get(n.Id);
      for (const [st, ep] of this.liveOn(n.Id)) {
        containers[st.id] = { Name: st.name, EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: `${ep.ip}/${pool?.subnet.bits ?? 32}`, IPv6Address: "" };
      }
      if (n.Name === "host" || n.Name === "none") {
        for (const id of this.activeShared) {
          const st = this.containers.get(id);
          if (st?.mode === n.Name) containers[id] = { Name: st.name, EndpointID: "", MacAddress: "", IPv4Address: "", IPv6Address: "" };
        }
      }
    }
    let config = pub.IPAM.Config ?? [];
    const guess = this.tentative.get(n.Id);
    if (!config.length && guess) config = [{ Subnet: guess, Gateway: formatIPv4(parsePrefix(guess).base + 1) }];
    return { ...pub, IPAM: { ...pub.IPAM, Config: config }, Containers: containers };
  }

  /** name → ID, for the NetworkID of container endpoints. */
  ids(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const n of this.records.values()) out[n.Name] = n.Id;
    return out;
  }

  /** Whether a network has containers connected and running. */
  inUse(ref: string): boolean {
    const n = this.find(ref);
    return !this.liveOn(n.Id).next().done;
  }

  async create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? "";
    if (!name) throw invalidParameter("network name is required");
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidParameter(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if ([...this.records.values()].some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = req.Driver || "bridge";
    if (driver === "host" || driver === "null") throw forbidden(`only one instance of "${driver}" network is allowed`);
    if (driver !== "bridge") throw notFound(`plugin "${driver}" not found`);
    if (req.Scope && req.Scope !== "local") throw invalidParameter(`scope ${req.Scope} is not supported: only "local" networks exist on this engine`);
    if (req.EnableIPv6) throw invalidParameter("IPv6 networks are not supported by this engine");
    if (req.Ingress) throw forbidden("ingress networks need a swarm, which this engine does not have");
    if (req.ConfigOnly || req.ConfigFrom?.Network) throw invalidParameter("config-only networks are not supported by this engine");
    const ipamDriver = req.IPAM?.Driver || "default";
    if (ipamDriver !== "default") throw notFound(`IPAM driver "${ipamDriver}" not found`);
    const opts = { ...(req.Options ?? {}) };
    for (const [k, v] of Object.entries(opts)) {
      if (k.endsWith(".enable_icc") || k.endsWith(".enable_ip_masquerade")) {
        if (!["true", "false", "1", "0"].includes(v)) throw invalidParameter(`invalid value for ${k}: ${v}`);
      }
    }
    const cfgs = (req.IPAM?.Config ?? []).filter((c) => c && (c.Subnet || c.Gateway || c.IPRange));
    if (cfgs.some((c) => [c.Subnet, c.Gateway, c.IPRange].some((x) => x?.includes(":")))) throw invalidParameter("IPv6 subnets are not supported by this engine");
    if (cfgs.length > 1) throw invalidParameter("only one IPv4 subnet per network is supported by this engine");
    const id = newID();
    const bridge = opts["com.docker.network.bridge.name"] ?? `pier-${id.slice(0, 10)}`;
    checkBridgeName(bridge);
    if ([...this.records.values()].some((n) => n.Driver === "bridge" && this.bridgeOf(n) === bridge)) throw conflict(`bridge name ${bridge} is already used by another network`);
    // Never take over (and later delete) an interface that is not ours.
    if (opts["com.docker.network.bridge.name"] && (await ipLinks()).some((l) => l.ifname === bridge)) {
      throw conflict(`cannot use bridge name ${bridge}: an interface of that name already exists on the host`);
    }

    let config: { Subnet?: string; IPRange?: string; Gateway?: string }[] = [];
    const c = cfgs[0];
    if (c) {
      if (!c.Subnet) throw invalidParameter("a gateway or ip-range needs a subnet (--subnet)");
      const subnet = parsePrefix(c.Subnet, "subnet", true);
      if (subnet.bits > 30) throw invalidParameter(`invalid subnet ${c.Subnet}: too small for a gateway and a container`);
      for (const other of this.records.values()) {
        for (const oc of other.IPAM.Config ?? []) {
          if (oc.Subnet && overlaps(parsePrefix(oc.Subnet), subnet)) throw forbidden(`invalid pool request: Pool overlaps with other one on this address space`);
        }
      }
      let range: Prefix | undefined;
      if (c.IPRange) {
        range = parsePrefix(c.IPRange, "ip-range", true);
        if (!contains(subnet, range.base) || !contains(subnet, range.base + 2 ** (32 - range.bits) - 1)) throw invalidParameter(`no matching subnet for range ${c.IPRange}`);
      }
      let gw = subnet.base + 1;
      if (c.Gateway) {
        const g = parseIPv4(c.Gateway);
        if (g === undefined) throw invalidParameter(`invalid gateway ${c.Gateway}`);
        if (!contains(subnet, g)) throw invalidParameter(`no matching subnet for gateway ${c.Gateway}`);
        gw = g;
      }
      config = [{ Subnet: formatPrefix(subnet), ...(range ? { IPRange: formatPrefix(range) } : {}), Gateway: formatIPv4(gw) }];
    }
    const n: NetworkRecord = {
      Name: name,
      Id: id,
      Created: rfc3339Nano(Date.now()),
      Scope: "local",
      Driver: "bridge",
      EnableIPv6: false,
      IPAM: { Driver: "default", Options: req.IPAM?.Options && Object.keys(req.IPAM.Options).length ? req.IPAM.Options : {}, Config: config },
      Internal: !!req.Internal,
      Attachable: !!req.Attachable,
      Ingress: false,
      ConfigFrom: { Network: "" },
      ConfigOnly: false,
      Options: opts,
      Labels: req.Labels ?? {},
      pier: { bridge, userSubnet: config.length > 0 },
    };
    // Recorded first: a crash while the bridge is being made leaves a network that init() completes.
    await this.records.put(id, n);
    try {
      if (config.length) this.buildPool(n);
      await this.ensureHost();
      await this.ensureBridges([n]);
      await this.firewall.sync();
      await this.startDNS(n);
    } catch (err) {
      this.stopDNS(id);
      this.pools.delete(id);
      await this.records.delete(id);
      await deleteLinks([bridge]).catch(() => {});
      await this.firewall.sync().catch(() => {});
      throw err;
    }
    this.o.events?.publish({ Type: "network", Action: "create", ID: id, Attributes: { name, type: "bridge" } });
    return { Id: id, Warning: "" };
  }

  async remove(ref: string): Promise<void> {
    const n = this.find(ref);
    if ((PREDEFINED as readonly string[]).includes(n.Name)) throw forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    // A container that ended is still being taken off the network (its links, rules and
    // addresses go in the background): wait for it, so its disconnect comes first and names
    // the network, as in Docker, where the release precedes the container's end.
    const leaving = [...this.containers.values()].filter((st) => this.closing.has(st.id) && st.sandbox?.endpoints.some((e) => e.networkId === n.Id));
    await Promise.all(leaving.map((st) => this.serial(st.id, async () => {})));
    if (!this.liveOn(n.Id).next().done) throw conflict(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
    this.stopDNS(n.Id);
    await this.records.delete(n.Id);
    this.pools.delete(n.Id);
    await this.firewall.sync();
    await deleteLinks([this.bridgeOf(n)]);
    this.o.events?.publish({ Type: "network", Action: "destroy", ID: n.Id, Attributes: { name: n.Name, type: n.Driver } });
  }

  /** Remove user networks without running containers that the filter selects. */
  async prune(filter: (n: NetworkResource) => boolean = () => true): Promise<string[]> {
    const out: string[] = [];
    for (const n of [...this.records.values()]) {
      if ((PREDEFINED as readonly string[]).includes(n.Name)) continue;
      if (!this.liveOn(n.Id).next().done) continue;
      if (!filter(this.view(n, false))) continue;
      await this.remove(n.Id);
      out.push(n.Name);
    }
    return out;
  }

  // ------------------------------------------------------------------ containers

  /** At container create: which networks it will join, checked now so a bad name fails create. */
  async configure(id: string, o: ConfigureOptions): Promise<void> {
    let st: ContainerNet;
    try {
      st = this.makeState(id, o);
    } catch (err) {
      // dockerd creates a container whose network does not exist (yet) and fails its start
      // with 404 "network … not found". A 404 at create would also make the docker CLI think
      // the image is missing and try to pull it.
      const mode = o.networkMode && o.networkMode !== "default" ? o.networkMode : "bridge";
      if (!isKind(err, "NotFound") || !this.isMissingNetwork(mode)) throw err;
      st = { id, name: o.name, mode, configs: [], unresolved: true, endpointsConfig: o.endpointsConfig ?? null };
    }
    // A state that the mode and name alone give (no aliases, addresses, links, MAC: a plain
    // `docker run`) is what attach() makes again when a crash loses the record: two fsyncs
    // less on every such create.
    await this.containers.put(id, st, { durable: !this.isPlainState(st) });
  }

  private isPlainState(st: ContainerNet): boolean {
    if (st.unresolved) return false;
    try {
      return JSON.stringify(this.makeState(st.id, { name: st.name, networkMode: st.mode })) === JSON.stringify(st);
    } catch {
      return false;
    }
  }

  private isMissingNetwork(ref: string): boolean {
    try {
      this.find(ref);
      return false;
    } catch (err) {
      return isKind(err, "NotFound");
    }
  }

  private makeState(id: string, o: ConfigureOptions): ContainerNet {
    let mode = o.networkMode && o.networkMode !== "default" ? o.networkMode : "bridge";
    const configs: EndpointConfig[] = [];
    // The CLI names the default network "default" (NetworkMode and EndpointsConfig alike).
    const eps: Record<string, EndpointSettingsInput | null> = {};
    for (const [k, v] of Object.entries(o.endpointsConfig ?? {})) eps[k === "default" ? mode : k] = v;
    if (mode === "host" || mode === "none" || mode.startsWith("container:")) {
      if (mode.startsWith("container:") && mode.length === "container:".length) throw invalidParameter("invalid network mode: container: needs a container name or ID");
      for (const k of Object.keys(eps)) {
        const n = this.find(k);
        if (n.Name !== mode) throw invalidParameter(`conflicting options: container cannot be connected to network ${n.Name} in network mode ${mode.split(":")[0]}`);
      }
      return { id, name: o.name, mode, configs };
    }
    if (mode === "bridge" && this.noDefaultBridge) return { id, name: o.name, mode, configs };
    const primary = this.find(mode);
    if (primary.Driver !== "bridge") throw invalidParameter(`network mode ${mode} cannot be used here`);
    mode = primary.Name;
    const seen = new Set<string>();
    const add = (n: NetworkRecord, e: EndpointSettingsInput | null | undefined) => {
      if (seen.has(n.Id)) return;
      seen.add(n.Id);
      configs.push(this.endpointConfig(n, e));
    };
    const primaryInput = eps[primary.Name] ?? eps[primary.Id] ?? Object.entries(eps).find(([k]) => primary.Id.startsWith(k))?.[1];
    add(primary, primaryInput);
    for (const [k, e] of Object.entries(eps)) {
      const n = this.find(k);
      if (n.Driver !== "bridge") throw invalidParameter(`container cannot be connected to network ${n.Name} together with ${mode}`);
      add(n, e);
    }
    return { id, name: o.name, mode, configs };
  }

  private endpointConfig(n: NetworkRecord, e: EndpointSettingsInput | null | undefined): EndpointConfig {
    const user = this.isUserBridge(n);
    const aliases = (e?.Aliases ?? []).filter(Boolean);
    const ipv4 = e?.IPAMConfig?.IPv4Address || undefined;
    if (e?.IPAMConfig?.IPv6Address) throw invalidParameter("IPv6 addresses are not supported by this engine");
    if (!user && aliases.length) throw invalidParameter("network-scoped alias is supported only for containers in user defined networks");
    if (ipv4) {
      if (!user) throw invalidParameter("user specified IP address is supported on user defined networks only");
      if (!n.pier?.userSubnet) throw invalidParameter("user specified IP address is supported only when connecting to networks with user configured subnets");
      const v = parseIPv4(ipv4);
      if (v === undefined) throw invalidParameter(`invalid IPv4 address: ${ipv4}`);
      const pool = this.pools.get(n.Id);
      if (pool && !contains(pool.subnet, v)) throw invalidParameter(`no configured subnet or ip-range contain the IP address ${ipv4}`);
    }
    const mac = e?.MacAddress || undefined;
    if (mac && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw invalidParameter(`invalid MAC address: ${mac}`);
    return { networkId: n.Id, aliases, ...(ipv4 ? { ipv4 } : {}), ...(user && e?.Links?.length ? { links: e.Links } : {}), ...(mac ? { mac: mac.toLowerCase() } : {}) };
  }

  /**
   * At container start, before the runtime: make its network namespace, connect it to its
   * networks, publish its ports. Undone completely on failure.
   */
  attach(id: string, o: AttachOptions): Promise<AttachResult> {
    return this.serial(id, async () => {
      let st = this.containers.get(id);
      if (!st) {
        st = this.makeState(id, { name: o.name, networkMode: o.networkMode });
        await this.containers.put(id, st);
      }
      if (st.sandbox) await this.teardown(st);
      st.name = o.name;
      if (st.unresolved) {
        // Its network may have been made since the create; if not, this is the start's 404.
        st = this.makeState(id, { name: o.name, networkMode: st.mode, endpointsConfig: st.endpointsConfig ?? null });
        await this.containers.put(id, st);
      }
      if (st.mode === "bridge" && (this.noDefaultBridge ? st.configs.length > 0 : st.configs.some((c) => !this.records.get(c.networkId)))) {
        // The default bridge was disabled or made anew (pierd --bridge) since the container was created.
        st = this.makeState(id, { name: o.name, networkMode: "bridge" });
        await this.containers.put(id, st);
      }
      if (st.mode === "host" || st.mode === "none" || st.mode.startsWith("container:") || (st.mode === "bridge" && this.noDefaultBridge)) {
        // (pierd --bridge none: a "bridge" container gets a namespace with loopback only, as with dockerd -b none.)
        if (st.mode !== "bridge") this.activeShared.add(id);
        const mode = st.mode.startsWith("container:") ? "container" : st.mode === "bridge" ? "none" : (st.mode as "host" | "none");
        return { mode, addresses: [], ready: Promise.resolve(), ...(mode === "container" ? { containerRef: st.mode.slice("container:".length) } : {}) };
      }
      await this.ensureHost();
      const nets = st.configs.map((c) => {
        const n = this.records.get(c.networkId);
        if (!n) throw notFound(`network ${c.networkId} not found`);
        return n;
      });
      const sb: Sandbox = { id: newID(), key: path.join(this.netnsDir, id), endpoints: [], ports: [], dns: (o.dns ?? []).filter((d) => parseIPv4(d) !== undefined) };
      const links: Link[] = [];
      let gotRoute = false;
      try {
        st.configs.forEach((conf, i) => {
          const n = nets[i]!;
          links.push(this.allocate(st!, sb, n, conf, `eth${i}`, !gotRoute && !n.Internal));
          if (!n.Internal) gotRoute = true;
        });
        const ext = sb.endpoints.find((e) => !this.records.get(e.networkId)!.Internal);
        const reqs = portRequests(o.portBindings, !!o.publishAllPorts, o.exposedPorts, this.hostBindingIP(ext?.networkId));
        if (ext && reqs.length) {
          const mapped = await this.reservations.reserve(reqs, ext.ip).catch((err: unknown) => {
            if (err instanceof ForeignPortError) throw conflict(`driver failed programming external connectivity on endpoint ${o.name} (${ext.endpointId}): ${err.message}`);
            throw err;
          });
          sb.ports = mapped.map((m) => ({ ...m, networkId: ext.networkId, containerIP: ext.ip }));
        }
      } catch (err) {
        this.releaseAddresses(st, sb);
        throw err;
      }
      st.sandbox = sb;
      const failed = (what: string) => async (err: unknown): Promise<never> => {
        await this.teardown(st!).catch((e) => this.log.warn("cleanup after failed attach failed", { id, err: e }));
        throw systemError(`failed to set up the network of container ${id.slice(0, 12)}: ${what}${(err as Error).message}`, err);
      };
      // The namespace now (the runtime needs its path); its links and rules meanwhile, while
      // the container is being created: that took the ~10 ms of configuration off the start path.
      try {
        createNetns(sb.key!);
      } catch (err) {
        await failed("")(err);
      }
      const ready = Promise.all([
        this.containers.put(id, st),
        setupSandbox(sb.key!, links),
        sb.ports.length ? this.firewall.sync("nat") : undefined,
      ]).then(() => {
        for (const e of sb.endpoints) this.emitNet("connect", e.networkId, id);
      }, failed(""));
      ready.catch(() => {}); // the caller awaits it; a start that failed earlier may not
      // Whatever comes next for this container (a detach) waits for the configuration.
      void this.serial(id, () => ready.catch(() => {}));
      const embedded = this.embeddedDNS(id);
      return {
        mode: "path" as const,
        netnsPath: sb.key,
        addresses: sb.endpoints.map((e) => e.ip),
        ready,
        ...(embedded ? { dnsServers: [embedded] } : {}),
      };
    });
  }

  /**
   * The address of the DNS server a running container asks: Pier's server of its first user
   * network (undefined when it is on none; then the host's resolvers are used).
   */
  embeddedDNS(id: string): string | undefined {
    const sb = this.containers.get(id)?.sandbox;
    const firstUser = sb?.endpoints.find((e) => this.isUserBridge(this.records.get(e.networkId)!));
    return firstUser ? this.dns.get(firstUser.networkId)?.address : undefined;
  }

  /** Take an address on `n` for the container and describe the link to make. */
  private allocate(st: ContainerNet, sb: Sandbox, n: NetworkRecord, conf: EndpointConfig, ifname: string, defaultRoute: boolean): Link {
    const pool = this.pools.get(n.Id);
    if (!pool) throw systemError(`network ${n.Name} has no address pool`);
    const want = conf.ipv4 ? ip(conf.ipv4) : undefined;
    const addr = pool.take(st.id, want);
    const endpointId = newID();
    const ep: LiveEndpoint = { networkId: n.Id, endpointId, ip: formatIPv4(addr), mac: conf.mac ?? macForIP(addr), ifname, hostIf: `pierv${endpointId.slice(0, 10)}` };
    sb.endpoints.push(ep);
    return { ifname, hostIf: ep.hostIf, bridge: this.bridgeOf(n), mac: ep.mac, ip: ep.ip, prefixLen: pool.subnet.bits, gateway: formatIPv4(pool.gateway), mtu: this.mtuOf(n), defaultRoute };
  }

  private releaseAddresses(st: ContainerNet, sb: Sandbox): void {
    for (const e of sb.endpoints) this.pools.get(e.networkId)?.release(ip(e.ip), st.id);
    this.reservations.release(sb.ports);
  }

  private hostBindingIP(networkId: string | undefined): string {
    const n = networkId ? this.records.get(networkId) : undefined;
    const v = n?.Options["com.docker.network.bridge.host_binding_ipv4"] ?? "";
    return v === "0.0.0.0" ? "" : v;
  }

  /**
   * The container stopped: release its namespace, addresses and ports. What the API shows
   * changes at once; the returned promise settles when the host objects are gone (the caller
   * need not wait: a later attach of the same container waits for it).
   */
  detach(id: string): Promise<void> {
    this.activeShared.delete(id);
    if (this.containers.get(id)?.sandbox) this.closing.add(id);
    // Queued behind an attach still in flight (a start that failed elsewhere), so whatever
    // that attach makes is taken down too.
    return this.serial(id, async () => {
      this.activeShared.delete(id);
      const cur = this.containers.get(id);
      if (cur?.sandbox) await this.teardown(cur);
    });
  }

  private async teardown(st: ContainerNet): Promise<void> {
    const sb = st.sandbox;
    if (!sb) return;
    this.closing.add(st.id);
    try {
      this.reservations.release(sb.ports);
      // Rules and links go together; the addresses are free only once both are gone.
      await Promise.all([
        sb.ports.length ? this.firewall.sync("nat").catch((e) => this.log.warn("firewall update failed", { err: e })) : undefined,
        teardownSandbox(sb.key, sb.endpoints.map((e) => e.hostIf)),
      ]);
      for (const e of sb.endpoints) {
        this.pools.get(e.networkId)?.release(ip(e.ip), st.id);
        this.emitNet("disconnect", e.networkId, st.id);
      }
      st.sandbox = undefined;
      if (this.containers.get(st.id) === st) await this.containers.put(st.id, st);
    } finally {
      this.closing.delete(st.id);
    }
  }

  /** The container is removed: release and forget it. */
  async forget(id: string): Promise<void> {
    await this.detach(id);
    await this.serial(id, async () => {
      await this.containers.delete(id);
    });
  }

  async rename(id: string, newName: string): Promise<void> {
    const st = this.containers.get(id);
    if (!st) return;
    st.name = newName.replace(/^\//, "");
    await this.containers.put(id, st);
  }

  /** `docker network connect`: a running container gets the new link at once. */
  connect(ref: string, c: { id: string; name: string; running: boolean; networkMode?: string }, e: EndpointSettingsInput | null | undefined): Promise<void> {
    const n = this.find(ref);
    return this.serial(c.id, async () => {
      let st = this.containers.get(c.id);
      if (!st) st = this.makeState(c.id, { name: c.name, networkMode: c.networkMode });
      if (st.mode === "host" || n.Name === "host") throw forbidden("container cannot be disconnected from host network or connected to host network");
      if (st.mode === "none" || st.mode.startsWith("container:") || n.Name === "none") {
        throw forbidden("container sharing network namespace with another container or host cannot be connected to any other network");
      }
      if (st.configs.some((x) => x.networkId === n.Id)) throw forbidden(`endpoint with name ${c.name} already exists in network ${n.Name}`);
      const conf = this.endpointConfig(n, e);
      if (c.running && st.sandbox) {
        const sb = st.sandbox;
        const used = new Set(sb.endpoints.map((x) => x.ifname));
        let i = 0;
        while (used.has(`eth${i}`)) i++;
        const hasRoute = sb.endpoints.some((x) => !this.records.get(x.networkId)?.Internal);
        const link = this.allocate(st, sb, n, conf, `eth${i}`, !hasRoute && !n.Internal);
        const ep = sb.endpoints[sb.endpoints.length - 1]!;
        st.configs.push(conf);
        try {
          await this.containers.put(c.id, st);
          await connectLinks(sb.key!, [link]);
        } catch (err) {
          sb.endpoints.pop();
          st.configs.pop();
          this.pools.get(n.Id)?.release(ip(ep.ip), c.id);
          await deleteLinks([ep.hostIf]).catch(() => {});
          await this.containers.put(c.id, st).catch(() => {});
          throw err;
        }
        this.emitNet("connect", n.Id, c.id);
        return;
      }
      st.configs.push(conf);
      await this.containers.put(c.id, st);
    });
  }

  /** `docker network disconnect`. */
  disconnect(ref: string, c: { id: string; name: string }, force = false): Promise<void> {
    const n = this.find(ref);
    return this.serial(c.id, async () => {
      const st = this.containers.get(c.id);
      if (st?.mode === "host" || (n.Name === "host" && !st)) throw forbidden("container cannot be disconnected from host network or connected to host network");
      const idx = st ? st.configs.findIndex((x) => x.networkId === n.Id) : -1;
      if (!st || idx < 0) {
        if (force) return;
        throw forbidden(`container ${c.id} is not connected to network ${n.Name}`);
      }
      const sb = st.sandbox;
      const ep = sb?.endpoints.find((x) => x.networkId === n.Id);
      if (sb && ep) {
        await deleteLinks([ep.hostIf]);
        sb.endpoints = sb.endpoints.filter((x) => x !== ep);
        const hadPorts = sb.ports.some((p) => p.networkId === n.Id);
        const gone = sb.ports.filter((p) => p.networkId === n.Id);
        sb.ports = sb.ports.filter((p) => p.networkId !== n.Id);
        this.reservations.release(gone);
        if (hadPorts) await this.firewall.sync("nat");
        this.pools.get(n.Id)?.release(ip(ep.ip), c.id);
        this.emitNet("disconnect", n.Id, c.id);
      }
      st.configs.splice(idx, 1);
      if (st.mode === n.Name) st.mode = st.configs[0] ? this.records.get(st.configs[0].networkId)?.Name ?? st.mode : st.mode;
      await this.containers.put(c.id, st);
    });
  }

  // ------------------------------------------------------------------ views for the container API

  /** The netns file of a running container (for another's `--network container:<id>`). */
  sandboxPath(id: string): string | undefined {
    const st = this.containers.get(id);
    return st?.sandbox && !this.closing.has(id) ? st.sandbox.key : undefined;
  }

  /** The address `host-gateway` means in --add-host: the default bridge's gateway. */
  hostGatewayIP(): string | undefined {
    const n = [...this.records.values()].find((x) => x.Name === "bridge");
    return n ? this.view(n, false).IPAM.Config?.[0]?.Gateway : undefined;
  }

  /** The container's address on a network (for --link's /etc/hosts lines). */
  addressOf(id: string, networkName = "bridge"): string | undefined {
    const st = this.containers.get(id);
    const n = [...this.records.values()].find((x) => x.Name === networkName);
    return st?.sandbox?.endpoints.find((e) => e.networkId === n?.Id)?.ip;
  }

  /** NetworkSettings of a container's inspect document. */
  settings(id: string, opts: { networkMode?: string; exposedPorts?: Record<string, unknown> | null; portBindings?: PortBindings | null } = {}): NetworkSettings {
    const st = this.containers.get(id);
    const sb = st && !this.closing.has(id) ? st.sandbox : undefined;
    const mode = st?.mode ?? (opts.networkMode && opts.networkMode !== "default" ? opts.networkMode : "bridge");
    const networks: Record<string, EndpointSettings> = {};
    if (st && st.configs.length) {
      for (const conf of st.configs) {
        const n = this.records.get(conf.networkId);
        if (!n) continue;
        networks[n.Name] = this.endpointSettings(st, n, conf, sb?.endpoints.find((e) => e.networkId === n.Id));
      }
    } else if (!mode.startsWith("container:")) {
      const n = [...this.records.values()].find((x) => x.Name === mode);
      if (n) networks[n.Name] = emptyEndpoint(n.Id);
      else if (mode === "bridge" && this.noDefaultBridge) networks.bridge = emptyEndpoint("");
    }
    const bridgeNet = [...this.records.values()].find((x) => x.Name === "bridge");
    const def = bridgeNet ? networks["bridge"] : undefined;
    const ports: PortMap = {};
    if (sb) {
      for (const key of [...Object.keys(opts.exposedPorts ?? {}), ...Object.keys(opts.portBindings ?? {})]) {
        try {
          const { port, proto } = parsePortKey(key);
          ports[`${port}/${proto}`] ??= null;
        } catch {
          /* not a port */
        }
      }
      for (const p of sb.ports) {
        const k = `${p.containerPort}/${p.proto}`;
        (ports[k] ??= []).push({ HostIp: p.hostIP || "0.0.0.0", HostPort: String(p.hostPort) });
      }
    }
    return {
      Bridge: "",
      SandboxID: sb?.id ?? "",
      SandboxKey: sb?.key ?? "",
      Ports: ports,
      HairpinMode: false,
      LinkLocalIPv6Address: "",
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: def?.EndpointID ?? "",
      Gateway: def?.Gateway ?? "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      IPAddress: def?.IPAddress ?? "",
      IPPrefixLen: def?.IPPrefixLen ?? 0,
      IPv6Gateway: "",
      MacAddress: def?.MacAddress ?? "",
      Networks: networks,
    };
  }

  /** Ports and Networks of a container in `GET /containers/json`. */
  summary(id: string, opts: { networkMode?: string; exposedPorts?: Record<string, unknown> | null } = {}): { Ports: SummaryPort[]; NetworkSettings: { Networks: Record<string, EndpointSettings> } } {
    const s = this.settings(id, opts);
    const ports: SummaryPort[] = [];
    for (const [key, binds] of Object.entries(s.Ports)) {
      const { port, proto } = parsePortKey(key);
      if (!binds) ports.push({ PrivatePort: port, Type: proto });
      else for (const b of binds) ports.push({ IP: b.HostIp, PrivatePort: port, PublicPort: Number(b.HostPort), Type: proto });
    }
    if (!ports.length) {
      // A stopped container lists its exposed ports without host ports, as Docker does.
      for (const key of Object.keys(opts.exposedPorts ?? {})) {
        try {
          const { port, proto } = parsePortKey(key);
          ports.push({ PrivatePort: port, Type: proto });
        } catch {
          /* skip */
        }
      }
    }
    // moby's list (container snapshot) copies only the addressing of each endpoint: Aliases,
    // Links, DriverOpts and DNSNames are null there, whatever inspect shows.
    const networks: Record<string, EndpointSettings> = {};
    for (const [name, ep] of Object.entries(s.Networks)) networks[name] = { ...ep, Aliases: null, Links: null, DriverOpts: null, DNSNames: null };
    return { Ports: ports, NetworkSettings: { Networks: networks } };
  }

  private endpointSettings(st: ContainerNet, n: NetworkRecord, conf: EndpointConfig, ep: LiveEndpoint | undefined): EndpointSettings {
    const pool = this.pools.get(n.Id);
    const user = this.isUserBridge(n);
    return {
      IPAMConfig: conf.ipv4 ? { IPv4Address: conf.ipv4 } : null,
      Links: conf.links ?? null,
      Aliases: conf.aliases.length ? [...conf.aliases] : null,
      MacAddress: ep?.mac ?? "",
      DriverOpts: null,
      NetworkID: n.Id,
      EndpointID: ep?.endpointId ?? "",
      Gateway: ep && pool ? formatIPv4(pool.gateway) : "",
      IPAddress: ep?.ip ?? "",
      IPPrefixLen: ep && pool ? pool.subnet.bits : 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      DNSNames: user ? [st.name, ...conf.aliases, st.id.slice(0, 12)] : null,
    };
  }

  // ------------------------------------------------------------------ helpers

  private fwState(): FwState {
    const state: FwState = { networks: [], ports: [] };
    for (const n of this.records.values()) {
      if (n.Driver !== "bridge" || !n.IPAM.Config?.[0]?.Subnet) continue;
      state.networks.push({
        bridge: this.bridgeOf(n),
        subnet: n.IPAM.Config[0].Subnet,
        internal: n.Internal,
        masquerade: !isFalse(n.Options["com.docker.network.bridge.enable_ip_masquerade"]),
        icc: !isFalse(n.Options["com.docker.network.bridge.enable_icc"]),
      });
    }
    for (const st of this.containers.values()) {
      if (!st.sandbox || this.closing.has(st.id)) continue;
      for (const p of st.sandbox.ports) {
        if (!this.records.get(p.networkId)) continue;
        state.ports.push({ proto: p.proto, hostIP: p.hostIP, hostPort: p.hostPort, containerIP: p.containerIP, containerPort: p.containerPort });
      }
    }
    return state;
  }

  private emitNet(action: "connect" | "disconnect", networkId: string, containerId: string): void {
    const n = this.records.get(networkId);
    this.o.events?.publish({ Type: "network", Action: action, ID: networkId, Attributes: { container: containerId, name: n?.Name ?? "", type: n?.Driver ?? "bridge" } });
  }

  /** Operations on one container's networking run one after another. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.ops.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.ops.set(id, next);
    const cleanup = () => {
      if (this.ops.get(id) === next) this.ops.delete(id);
    };
    next.then(cleanup, cleanup);
    return next;
  }
}

function ip(s: string): number {
  const v = parseIPv4(s);
  if (v === undefined) throw invalidParameter(`invalid IPv4 address: ${s}`);
  return v;
}

/** The container a link alias names ("name:alias" or "/name:/parent/alias"), lower-cased. */
function linkTarget(links: string[] | undefined, alias: string): string | undefined {
  for (const l of links ?? []) {
    const parts = l.split(":");
    const target = parts[0]!.replace(/^\//, "");
    const a = parts.length > 1 ? parts[1]!.slice(parts[1]!.lastIndexOf("/") + 1) : target;
    if (a.toLowerCase() === alias) return target.toLowerCase();
  }
  return undefined;
}

function emptyEndpoint(networkId: string): EndpointSettings {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: "", DriverOpts: null, NetworkID: networkId, EndpointID: "",
    Gateway: "", IPAddress: "", IPPrefixLen: 0, IPv6Gateway: "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

function isFalse(v: string | undefined): boolean {
  return v === "false" || v === "0";
}

function checkBridgeName(name: string): void {
  if (!/^[a-zA-Z0-9_-]{1,15}$/.test(name)) throw invalidParameter(`invalid bridge name "${name}": at most 15 characters of [a-zA-Z0-9_-]`);
}
