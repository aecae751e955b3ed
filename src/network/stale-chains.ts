import { ownerAlive, parseOwner } from "./owner.js";

// Other pierds' chains on the same host (each pierd has its own prefix, PIER-<tag>; firewall.ts).
// A pierd killed with SIGKILL leaves its chains and their jumps behind. Once its bridge is gone
// its subnet looks free, and a pierd that takes it meets the dead one's
// "-s <subnet> ! -o <old bridge> -j MASQUERADE": its containers' own traffic (even between two
// containers of one bridge, through br_netfilter) comes out masqueraded. So, as dockerd cleans
// its chains at start, a pierd removes the chain sets whose owner is provably gone (the owner is
// in the jumps' comment: owner.ts), and keeps out of the subnets that the sets it cannot judge
// (a live pierd's, an older pierd's without an owner, another pid namespace's) still name.

export type Table = "nat" | "filter";

export interface ChainSet {
  prefix: string;
  chains: { table: Table; name: string }[];
  /** Rules of other chains (the built-in ones) that jump into the set. */
  jumps: { table: Table; chain: string; rule: string }[];
  /** The source subnets its rules name (loopback aside). */
  sources: string[];
  /** The interfaces its rules name (`-i`/`-o`): its pierd's bridges. */
  interfaces: string[];
}

/** The endings chainNames() gives a prefix's chains beside the bare prefix (the DNAT chain). */
const SUFFIXES = ["-POSTROUTING", "-FORWARD", "-ISOLATE-1", "-ISOLATE-2", "-INPUT"];

/** The prefix of one of Pier's chains ("PIER", "PIER-1A2B3C"), or undefined for another's. */
export function prefixOf(chain: string): string | undefined {
  if (!/^PIER(-|$)/.test(chain)) return undefined;
  for (const s of SUFFIXES) if (chain.endsWith(s)) return chain.slice(0, -s.length);
  return chain;
}

/** Every Pier chain set in iptables-save outputs, by prefix. */
export function chainSets(saved: Record<Table, string>): Map<string, ChainSet> {
  const sets = new Map<string, ChainSet>();
  const setOf = (prefix: string) => {
    let s = sets.get(prefix);
    if (!s) sets.set(prefix, (s = { prefix, chains: [], jumps: [], sources: [], interfaces: [] }));
    return s;
  };
  for (const table of ["nat", "filter"] as const) {
    const lines = saved[table].split("\n");
    for (const line of lines) {
      const m = /^:(\S+) /.exec(line);
      const prefix = m && prefixOf(m[1]!);
      if (prefix) setOf(prefix).chains.push({ table, name: m[1]! });
    }
    for (const line of lines) {
      const m = /^-A (\S+) (.*)$/.exec(line);
      if (!m) continue;
      const [, chain, rule] = m as unknown as [string, string, string];
      const own = prefixOf(chain);
      if (own) {
        for (const s of rule.matchAll(/(?:^| )-s (\S+)/g)) {
          if (!s[1]!.startsWith("127.") && !setOf(own).sources.includes(s[1]!)) setOf(own).sources.push(s[1]!);
        }
        for (const i of rule.matchAll(/(?:^| )-[io] (\S+)/g)) {
          if (!setOf(own).interfaces.includes(i[1]!)) setOf(own).interfaces.push(i[1]!);
        }
      }
      const target = /(?:^| )-[jg] (\S+)/.exec(rule)?.[1];
      const into = target && prefixOf(target);
      if (into && into !== own) setOf(into).jumps.push({ table, chain, rule });
    }
  }
  return sets;
}

/**
 * "gone" only when every jump into the set names an owner and none of them runs. A set without
 * jumps, or with a jump without an owner (a pierd older than the owner comments, which may well
 * run), or whose owner cannot be judged from here, is "unknown": never removed.
 */
export function ownerState(s: ChainSet, alive: typeof ownerAlive = ownerAlive): "gone" | "live" | "unknown" {
  if (!s.jumps.length) return "unknown";
  let unknown = false;
  for (const j of s.jumps) {
    const o = parseOwner(j.rule);
    const a = o && alive(o);
    if (a === true) return "live";
    if (a === undefined) unknown = true;
  }
  return unknown ? "unknown" : "gone";
}

/** iptables-restore --noflush input that removes these sets: their jumps, then the chains. */
export function removalText(sets: ChainSet[]): string {
  let text = "";
  for (const table of ["nat", "filter"] as const) {
    const chains = sets.flatMap((s) => s.chains.filter((c) => c.table === table).map((c) => c.name));
    const jumps = sets.flatMap((s) => s.jumps.filter((j) => j.table === table));
    if (!chains.length && !jumps.length) continue;
    // Declaring a chain flushes it (so the set's chains no longer refer to each other).
    const lines = [...chains.map((c) => `:${c} - [0:0]`), ...jumps.map((j) => `-D ${j.chain} ${j.rule}`), ...chains.map((c) => `-X ${c}`)];
    text += `*${table}\n${lines.join("\n")}\nCOMMIT\n`;
  }
  return text;
}
