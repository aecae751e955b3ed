import { promises as fsp } from "node:fs";
import { systemError } from "../errdefs/index.js";
import { run } from "./exec.js";

// Host networking primitives: ip(8), iptables-restore/-save, sysctls. The network module
// decides what to do; these only run the programs. Whatever `iptables` is on the host
// (Debian 12: iptables-nft) is used, the same one Docker uses, so Pier's chains sit in the
// same tables as Docker's and neither drops the other's traffic.

/** Run a shell script (`sh -ec`), with positional arguments as $1… . One spawn, however many commands. */
export async function netScript(script: string, args: string[] = [], opts: { input?: string; allowFailure?: boolean; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("sh", ["-ec", script, "pier-net", ...args], { input: opts.input, allowFailure: opts.allowFailure, timeoutMs: opts.timeoutMs ?? 30_000 });
}

/** Quote a value for a shell script. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface IPRoute {
  dst: string;
  dev?: string;
  type?: string;
  table?: string;
}

/** Every IPv4 route of every table (`ip -j -4 route show table all`). */
export async function ipRoutes(): Promise<IPRoute[]> {
  const r = await run("ip", ["-j", "-4", "route", "show", "table", "all"]);
  return JSON.parse(r.stdout || "[]") as IPRoute[];
}

export interface IPLink {
  ifname: string;
  master?: string;
  link_type?: string;
  operstate?: string;
}

export async function ipLinks(): Promise<IPLink[]> {
  const r = await run("ip", ["-j", "link", "show"]);
  return JSON.parse(r.stdout || "[]") as IPLink[];
}

/** The IPv4 addresses ("a.b.c.d/len") of an interface; undefined when it does not exist. */
export async function ipv4Addresses(dev: string): Promise<string[] | undefined> {
  const r = await run("ip", ["-j", "-4", "addr", "show", "dev", dev], { allowFailure: true });
  if (r.code !== 0) return undefined;
  const links = JSON.parse(r.stdout || "[]") as { addr_info?: { local: string; prefixlen: number }[] }[];
  return (links[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

/** `iptables-save` of some tables (empty string for a table that does not exist yet). */
export async function iptablesSave(table: "nat" | "filter"): Promise<string> {
  const r = await run("iptables-save", ["-t", table], { allowFailure: true });
  if (r.code !== 0) {
    // A missing table is not an error for us: nothing of ours can be in it.
    if (/does not exist|Table does not exist|can't initialize/i.test(r.stderr)) return "";
    throw systemError(`iptables-save -t ${table}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/**
 * Apply rules atomically with `iptables-restore --noflush`: only the chains the text declares
 * are flushed and refilled; everything else (Docker's, the admin's) is left as it is.
 * Concurrent writers (another pierd, Docker) can make a commit fail; it is retried.
 */
export async function iptablesRestore(text: string): Promise<void> {
  let last = "";
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await run("iptables-restore", ["-w", "5", "--noflush"], { input: text, allowFailure: true, timeoutMs: 30_000 });
    if (r.code === 0) return;
    last = r.stderr.trim();
    if (!/resource temporarily unavailable|busy|try again|another app|xtables lock/i.test(last)) break;
    await new Promise((res) => setTimeout(res, 20 * (attempt + 1)));
  }
  throw systemError(`iptables-restore: ${last}\n--- rules ---\n${text}`);
}

/** Write a sysctl through /proc/sys (pierd is in the host's network namespace). */
export async function setSysctl(key: string, value: string): Promise<void> {
  const file = `/proc/sys/${key.replace(/\./g, "/")}`;
  const cur = await fsp.readFile(file, "utf8").catch(() => undefined);
  if (cur?.trim() === value) return;
  await fsp.writeFile(file, value);
}
