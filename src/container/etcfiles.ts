import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { writeFileReplace as writeFileAtomic } from "../lib/index.js";

/**
 * /etc/hostname, /etc/hosts and /etc/resolv.conf for a container, written under its directory
 * and bind-mounted in, as Docker does, so the image's own files are never changed.
 */
export async function writeEtcFiles(dir: string, o: { hostname: string; domainname?: string; networkMode: string; extraHosts: string[]; linkHosts?: string[]; dns: string[]; dnsSearch: string[]; dnsOptions: string[]; addresses?: string[]; dnsServers?: string[]; hostGateway?: string }): Promise<{ hostnamePath: string; hostsPath: string; resolvConfPath: string }> {
  const hostnamePath = path.join(dir, "hostname");
  const hostsPath = path.join(dir, "hosts");
  const resolvConfPath = path.join(dir, "resolv.conf");
  await writeFileAtomic(hostnamePath, `${o.hostname}\n`);

  if (o.networkMode === "host") {
    await copyOrEmpty("/etc/hosts", hostsPath);
  } else {
    const lines = [
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      "fe00::0\tip6-localnet",
      "ff00::0\tip6-mcastprefix",
      "ff02::1\tip6-allnodes",
      "ff02::2\tip6-allrouters",
    ];
    for (const h of o.extraHosts) {
      const i = h.indexOf(":");
      if (i <= 0) continue;
      let addr = h.slice(i + 1);
      if (addr === "host-gateway") addr = o.hostGateway ?? "";
      if (addr) lines.push(`${addr}\t${h.slice(0, i)}`);
    }
    lines.push(...(o.linkHosts ?? []));
    const fqdn = o.domainname ? `${o.hostname}.${o.domainname}\t` : "";
    if (o.addresses?.[0]) lines.push(`${o.addresses[0]}\t${fqdn}${o.hostname}`);
    await writeFileAtomic(hostsPath, lines.join("\n") + "\n");
  }
  const resolv = await resolvConfText({ dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions, embedded: o.dnsServers?.[0] });
  await writeFileAtomic(resolvConfPath, resolv);
  return { hostnamePath, hostsPath, resolvConfPath };
}

async function copyOrEmpty(src: string, dst: string) {
  let data = "";
  try {
    data = await fsp.readFile(src, "utf8");
  } catch {
    /* a host without the file gives the container an empty one */
  }
  await writeFileAtomic(dst, data);
}

/**
 * A container's resolv.conf by Docker's rules (libnetwork's sandbox_dns_unix.go). On a user
 * network (`embedded`: the address of Pier's DNS server for it) the only nameserver is that
 * server, which relays other names to --dns or the host's servers, with the user's options and
 * then ndots:0 (unless an ndots was given). Elsewhere: --dns, or the host's nameservers without
 * loopback ones (unreachable from a container) and without IPv6 ones (Pier has no IPv6), or
 * Google's public DNS when none is left. --dns-search and --dns-option replace the host's.
 */
export async function resolvConfText(o: { dns: string[]; dnsSearch: string[]; dnsOptions: string[]; embedded?: string }, hostFile = "/etc/resolv.conf"): Promise<string> {
  let host = "";
  try {
    host = await fsp.readFile(hostFile, "utf8");
  } catch {
    /* none */
  }
  const lines = host.split("\n");
  const last = (re: RegExp) => lines.map((l) => re.exec(l)?.[1]?.trim()).filter(Boolean).pop();
  const searchLine = o.dnsSearch.length ? o.dnsSearch.join(" ") : last(/^\s*search\s+(.*)$/);
  let options = o.dnsOptions.length ? o.dnsOptions : (last(/^\s*options\s+(.*)$/) ?? "").split(/\s+/).filter(Boolean);
  let servers: string[];
  if (o.embedded) {
    servers = [o.embedded];
    if (!options.some((x) => x.startsWith("ndots:"))) options = [...options, "ndots:0"];
  } else if (o.dns.length) {
    servers = o.dns;
  } else {
    servers = lines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => !!s && !s.startsWith("127.") && !s.includes(":"));
    if (!servers.length) servers = ["8.8.8.8", "8.8.4.4"];
  }
  const out: string[] = [];
  if (searchLine && searchLine !== ".") out.push(`search ${searchLine}`);
  for (const s of servers) out.push(`nameserver ${s}`);
  if (options.length) out.push(`options ${options.join(" ")}`);
  return out.join("\n") + "\n";
}

/** Replace a bind-mounted /etc file's content in place (a rename would not reach the container). */
export async function rewriteInPlace(file: string, text: string): Promise<void> {
  const cur = await fsp.readFile(file, "utf8").catch(() => undefined);
  if (cur !== text) await fsp.writeFile(file, text);
}

/**
 * Replace the address of the hosts line with the same names as `line` ("<ip>\t<names>"), or
 * add it. The file is bind-mounted into a running container, so it is rewritten in place (a
 * rename would leave the container with the old file).
 */
export async function updateHostsEntry(file: string, line: string): Promise<void> {
  const names = line.slice(line.indexOf("\t") + 1);
  const text = await fsp.readFile(file, "utf8");
  const lines = text.split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
  const i = lines.findIndex((l) => l.slice(l.indexOf("\t") + 1) === names);
  if (i >= 0 && lines[i] === line) return;
  if (i >= 0) lines[i] = line;
  else lines.push(line);
  await fsp.writeFile(file, lines.join("\n") + "\n");
}
