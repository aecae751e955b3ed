import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { writeFileReplace as writeFileAtomic } from "../lib/index.js";

/**
 * /etc/hostname, /etc/hosts and /etc/resolv.conf for a container, written under its directory
 * and bind-mounted in, as Docker does, so the image's own files are never changed.
 */
export async function writeEtcFiles(dir: string, o: { hostname: string; domainname?: string; networkMode: string; extraHosts: string[]; linkHosts?: string[]; dns: string[]; dnsSearch: string[]; dnsOptions: string[]; addresses?: string[]; dnsServers?: string[]; dnsOptionsNet?: string[]; hostGateway?: string }): Promise<{ hostnamePath: string; hostsPath: string; resolvConfPath: string }> {
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
  // On a user network the container asks Pier's DNS server (which relays to the --dns servers).
  const resolv = o.dnsServers?.length ? await resolvConf(o.dnsServers, o.dnsSearch, [...(o.dnsOptionsNet ?? []), ...o.dnsOptions]) : await resolvConf(o.dns, o.dnsSearch, o.dnsOptions);
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

/** The host's resolv.conf with loopback resolvers removed (unreachable from a container), or overrides. */
async function resolvConf(dns: string[], search: string[], options: string[]): Promise<string> {
  let host = "";
  try {
    host = await fsp.readFile("/etc/resolv.conf", "utf8");
  } catch {
    /* none */
  }
  const lines = host.split("\n");
  const servers = dns.length ? dns : lines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => !!s && !s.startsWith("127.") && s !== "::1");
  const searchLine = search.length ? search.join(" ") : lines.map((l) => /^\s*search\s+(.*)$/.exec(l)?.[1]).find(Boolean);
  const optionLine = options.length ? options.join(" ") : lines.map((l) => /^\s*options\s+(.*)$/.exec(l)?.[1]).find(Boolean);
  const out: string[] = [];
  if (searchLine) out.push(`search ${searchLine}`);
  for (const s of servers.length ? servers : ["8.8.8.8", "8.8.4.4"]) out.push(`nameserver ${s}`);
  if (optionLine) out.push(`options ${optionLine}`);
  return out.join("\n") + "\n";
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
