import { promises as fsp } from "node:fs";
import { iptablesRestore, iptablesSave } from "../sys/index.js";
import type { Logger } from "../lib/index.js";
import { ownerComment, selfOwner } from "./owner.js";
import { chainSets, ownerState, removalText, type ChainSet } from "./stale-chains.js";

// Pier's iptables rules. Everything lives in chains whose names start with the instance's
// prefix ("PIER" for the default pierd); the built-in chains only get one jump each. Every write
// regenerates the content of those chains from the engine's state and applies it with one
// `iptables-restore --noflush` (atomic; only our chains are flushed), so a rule can neither be
// left behind nor be missing, and cleanup never needs to parse or guess.

export interface FwNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  masquerade: boolean;
  icc: boolean;
}

export interface FwPort {
  proto: "tcp" | "udp" | "sctp";
  /** "" or "0.0.0.0": every host address. */
  hostIP: string;
  hostPort: number;
  containerIP: string;
  containerPort: number;
}

export interface FwState {
  networks: FwNetwork[];
  ports: FwPort[];
}

export interface Chains {
  dnat: string;
  postrouting: string;
  forward: string;
  isolate1: string;
  isolate2: string;
  input: string;
}

export function chainNames(prefix: string): Chains {
  return {
    dnat: prefix,
    postrouting: `${prefix}-POSTROUTING`,
    forward: `${prefix}-FORWARD`,
    isolate1: `${prefix}-ISOLATE-1`,
    isolate2: `${prefix}-ISOLATE-2`,
    input: `${prefix}-INPUT`,
  };
}

/**
 * The one jump per built-in chain. `owner` (owner.ts) goes into each jump's comment, so another
 * pierd can tell whether these chains belong to a process that still runs (stale-chains.ts).
 */
export function jumps(c: Chains, owner?: string): { table: "nat" | "filter"; chain: string; rule: string; first: boolean }[] {
  const tag = owner ? `-m comment --comment "${owner}" ` : "";
  return [
    { table: "nat", chain: "PREROUTING", rule: `-m addrtype --dst-type LOCAL ${tag}-j ${c.dnat}`, first: false },
    { table: "nat", chain: "OUTPUT", rule: `-m addrtype --dst-type LOCAL ${tag}-j ${c.dnat}`, first: false },
    { table: "nat", chain: "POSTROUTING", rule: `${tag}-j ${c.postrouting}`, first: false },
    { table: "filter", chain: "FORWARD", rule: `${tag}-j ${c.forward}`, first: true },
    { table: "filter", chain: "INPUT", rule: `${tag}-j ${c.input}`, first: true },
  ];
}

function ourChain(c: Chains, name: string): boolean {
  return Object.values(c).includes(name);
}

/** How host traffic to a published port is seen by the container, by Docker's --userland-proxy. */
export interface FwMode {
  /**
   * --userland-proxy=false (dockerd's "hairpin" mode): every connection the host itself makes to
   * a container is masqueraded (`-m addrtype --src-type LOCAL`), so the container sees the
   * gateway whichever host address was dialled, as with dockerd. With the proxy (default),
   * dockerd's docker-proxy makes 127.0.0.1 connections come from the gateway while a host
   * address is DNATed by the kernel and keeps the host's address; pier serves both by DNAT and
   * masquerades only 127.0.0.0/8 to look the same.
   */
  hairpin: boolean;
  /**
   * bridge-nf-call-iptables is on: frames bridged between two containers pass through
   * netfilter, so a reply from a container of the same network is un-DNATed on the bridge.
   * Only then can hairpin mode leave a container dialling a published port of its own network
   * its own address, as dockerd does (with a MASQUERADE of a container to itself, which needs
   * it); otherwise containers are masqueraded to the gateway as with the proxy, or the reply
   * would bypass conntrack and the connection fail.
   */
  bridgeNetfilter?: boolean;
}

const BRIDGE_NF_CALL_IPTABLES = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/** The content of our chains for a state: the body of an iptables-restore file. */
export function renderChains(c: Chains, s: FwState, mode: FwMode = { hairpin: false }): { nat: string[]; filter: string[] } {
  const nat: string[] = [`:${c.dnat} - [0:0]`, `:${c.postrouting} - [0:0]`];
  const filter: string[] = [`:${c.forward} - [0:0]`, `:${c.isolate1} - [0:0]`, `:${c.isolate2} - [0:0]`, `:${c.input} - [0:0]`];
  const keepContainerPeer = mode.hairpin && mode.bridgeNetfilter === true;

  for (const p of s.ports) {
    const dst = p.hostIP && p.hostIP !== "0.0.0.0" ? `-d ${p.hostIP}/32 ` : "";
    nat.push(`-A ${c.dnat} ${dst}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIP}:${p.containerPort}`);
  }
  for (const n of s.networks) {
    if (!n.internal && n.masquerade) nat.push(`-A ${c.postrouting} -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
    // Published ports reached from the host (its loopback through route_localnet on the bridge)
    // and from containers of the same network (hairpin): the container must answer through the
    // host. The host's own connections: see FwMode.
    if (mode.hairpin && !n.internal) nat.push(`-A ${c.postrouting} -o ${n.bridge} -m addrtype --src-type LOCAL -j MASQUERADE`);
    else nat.push(`-A ${c.postrouting} -s 127.0.0.0/8 -o ${n.bridge} -j MASQUERADE`);
    if (!keepContainerPeer) nat.push(`-A ${c.postrouting} -s ${n.subnet} -o ${n.bridge} -m conntrack --ctstate DNAT -j MASQUERADE`);
  }
  // A container dialling its own published port must still not see itself as the peer.
  if (keepContainerPeer) {
    const self = new Set(s.ports.map((p) => `-A ${c.postrouting} -s ${p.containerIP}/32 -d ${p.containerIP}/32 -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j MASQUERADE`));
    nat.push(...self);
  }

  filter.push(`-A ${c.forward} -j ${c.isolate1}`);
  for (const n of s.networks) {
    const b = n.bridge;
    if (n.internal) {
      filter.push(`-A ${c.forward} -i ${b} ! -o ${b} -j DROP`);
      filter.push(`-A ${c.forward} -o ${b} ! -i ${b} -j DROP`);
      filter.push(`-A ${c.forward} -i ${b} -o ${b} -j ${n.icc ? "ACCEPT" : "DROP"}`);
      continue;
    }
    filter.push(`-A ${c.forward} -o ${b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    filter.push(`-A ${c.forward} -o ${b} -m conntrack --ctstate DNAT -j ACCEPT`);
    if (!n.icc) filter.push(`-A ${c.forward} -i ${b} -o ${b} -j DROP`);
    filter.push(`-A ${c.forward} -i ${b} -j ACCEPT`);
    // Nothing else reaches a container from outside: only published ports and replies.
    filter.push(`-A ${c.forward} -o ${b} -j DROP`);
  }
  // Networks are isolated from each other, except through a published port.
  for (const n of s.networks) filter.push(`-A ${c.isolate1} -i ${n.bridge} ! -o ${n.bridge} -m conntrack ! --ctstate DNAT -j ${c.isolate2}`);
  for (const n of s.networks) filter.push(`-A ${c.isolate2} -o ${n.bridge} -j DROP`);
  // route_localnet lets 127.0.0.1 be routed to the bridge; never let a container reach the
  // host's loopback services through it.
  for (const n of s.networks) filter.push(`-A ${c.input} -i ${n.bridge} -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP`);
  return { nat, filter };
}

/** Rules of built-in chains that jump to one of our chains, from iptables-save output. */
export function findJumps(c: Chains, saved: string): { chain: string; rule: string }[] {
  const out: { chain: string; rule: string }[] = [];
  for (const line of saved.split("\n")) {
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m || ourChain(c, m[1]!)) continue;
    const target = /(?:^| )-[jg] (\S+)/.exec(m[2]!)?.[1];
    if (target && ourChain(c, target)) out.push({ chain: m[1]!, rule: m[2]! });
  }
  return out;
}

/** Our chains that exist in an iptables-save output. */
export function findChains(c: Chains, saved: string): string[] {
  const out: string[] = [];
  for (const line of saved.split("\n")) {
    const m = /^:(\S+) /.exec(line);
    if (m && ourChain(c, m[1]!)) out.push(m[1]!);
  }
  return out;
}

/**
 * The filter FORWARD chain's policy to DROP (see forwarding.ts). iptables-restore --noflush with
 * the built-in chain declared sets its policy and keeps its rules.
 */
export async function dropForwardedByDefault(): Promise<void> {
  await iptablesRestore(table("filter", [":FORWARD DROP [0:0]"]));
}

function table(name: string, lines: string[]): string {
  return lines.length ? `*${name}\n${lines.join("\n")}\nCOMMIT\n` : "";
}

/**
 * The engine's firewall. `sync()` asks for the rules to match the state; calls that come while a
 * write runs are folded into the next one, so 50 concurrent starts make a handful of writes.
 */
export class Firewall {
  readonly chains: Chains;
  private requested = 0;
  private written = 0;
  /** The filter table needs writing too (networks changed; ports only touch nat). */
  private filterDirty = false;
  private running: Promise<void> | undefined;
  private waiters: { gen: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private installed = false;

  constructor(
    prefix: string,
    private readonly state: () => FwState,
    private readonly log: Logger,
    readonly enabled = true,
    private readonly mode: FwMode = { hairpin: false },
  ) {
    this.chains = chainNames(prefix);
  }

  /** The mode with what the kernel does now (br_netfilter can be loaded or turned on later). */
  private async currentMode(): Promise<FwMode> {
    if (!this.mode.hairpin) return this.mode;
    const brnf = await fsp.readFile(BRIDGE_NF_CALL_IPTABLES, "utf8").catch(() => "0");
    return { ...this.mode, bridgeNetfilter: brnf.trim() === "1" };
  }

  /**
   * Put the jumps in place (removing duplicates and stale ones, those of this prefix's previous
   * owner included) and write the chains. Another pierd may remove that previous owner's jumps
   * between our read and our write (sweepForeign): the write then fails as a whole and is made
   * again from a fresh read.
   */
  async install(): Promise<void> {
    if (!this.enabled) return;
    const owner = ownerComment(selfOwner());
    for (let attempt = 1; ; attempt++) {
      const [nat, filter] = await Promise.all([iptablesSave("nat"), iptablesSave("filter")]);
      const r = renderChains(this.chains, this.state(), await this.currentMode());
      const natLines = [...r.nat];
      const filterLines = [...r.filter];
      for (const [saved, lines] of [[nat, natLines], [filter, filterLines]] as const) {
        for (const j of findJumps(this.chains, saved)) lines.push(`-D ${j.chain} ${j.rule}`);
      }
      for (const j of jumps(this.chains, owner)) {
        const lines = j.table === "nat" ? natLines : filterLines;
        lines.push(j.first ? `-I ${j.chain} 1 ${j.rule}` : `-A ${j.chain} ${j.rule}`);
      }
      try {
        await iptablesRestore(table("nat", natLines) + table("filter", filterLines));
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    this.installed = true;
  }

  /**
   * Remove the chains of other pierds that are gone (stale-chains.ts). Returns the source
   * subnets named by the other pierds' chains that stay (a subnet to keep out of, whoever's
   * bridge once had it), and the interfaces the removed chains named (the gone pierds' bridges).
   */
  async sweepForeign(): Promise<{ subnets: string[]; goneInterfaces: string[] }> {
    if (!this.enabled) return { subnets: [], goneInterfaces: [] };
    for (let attempt = 1; ; attempt++) {
      const [nat, filter] = await Promise.all([iptablesSave("nat"), iptablesSave("filter")]);
      const sets = [...chainSets({ nat, filter }).values()].filter((s) => s.prefix !== this.chains.dnat);
      const gone = sets.filter((s) => ownerState(s) === "gone");
      const kept = sets.filter((s) => !gone.includes(s));
      let removed: ChainSet[] = [];
      if (gone.length) {
        try {
          await iptablesRestore(removalText(gone));
          this.log.info("removed the iptables chains of pierds that are gone", { prefixes: gone.map((s) => s.prefix) });
          removed = gone;
        } catch (err) {
          // Another pierd removed some of them first, or a rule changed: judge again.
          if (attempt < 3) continue;
          this.log.warn("cannot remove the chains of pierds that are gone", { prefixes: gone.map((s) => s.prefix), err: (err as Error).message });
          kept.push(...gone);
        }
      }
      return { subnets: kept.flatMap((s) => s.sources), goneInterfaces: [...new Set(removed.flatMap((s) => s.interfaces))] };
    }
  }

  /** Remove every jump and chain of ours (when nothing of Pier's runs any more). */
  async uninstall(): Promise<void> {
    if (!this.enabled) return;
    await this.idle();
    const [nat, filter] = await Promise.all([iptablesSave("nat"), iptablesSave("filter")]);
    const text: string[] = [];
    for (const [name, saved] of [["nat", nat], ["filter", filter]] as const) {
      const chains = findChains(this.chains, saved);
      const lines = chains.map((ch) => `:${ch} - [0:0]`);
      for (const j of findJumps(this.chains, saved)) lines.push(`-D ${j.chain} ${j.rule}`);
      for (const ch of chains) lines.push(`-X ${ch}`);
      if (chains.length || lines.length) text.push(table(name, lines));
    }
    if (text.join("")) await iptablesRestore(text.join(""));
    this.installed = false;
  }

  /**
   * Resolves once a write that started after this call has finished. "nat" when only published
   * ports changed: the filter chains depend on the networks alone, and each table written costs
   * iptables-restore a fetch of that table.
   */
  sync(scope: "nat" | "all" = "all"): Promise<void> {
    if (!this.enabled || !this.installed) return Promise.resolve();
    if (scope === "all") this.filterDirty = true;
    const gen = ++this.requested;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ gen, resolve, reject }));
    if (!this.running) this.running = this.loop();
    return p;
  }

  private async loop(): Promise<void> {
    try {
      while (this.written < this.requested) {
        const gen = this.requested;
        const withFilter = this.filterDirty;
        this.filterDirty = false;
        const r = renderChains(this.chains, this.state(), await this.currentMode());
        let err: unknown;
        try {
          await iptablesRestore(table("nat", r.nat) + (withFilter ? table("filter", r.filter) : ""));
        } catch (e) {
          err = e;
          if (withFilter) this.filterDirty = true;
          this.log.error("firewall update failed", { err: (e as Error).message });
        }
        this.written = gen;
        const done = this.waiters.filter((w) => w.gen <= gen);
        this.waiters = this.waiters.filter((w) => w.gen > gen);
        for (const w of done) (err ? w.reject(err) : w.resolve());
      }
    } finally {
      this.running = undefined;
    }
  }

  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }
}
