import { shq } from "../sys/index.js";

// Shell scripts that configure and tear down a container's network namespace. Each is run with
// one spawn (`sh -ec`); pierd itself never enters a namespace. The namespace is a bind-mounted
// file (like `ip netns add`, but under the exec root), made beforehand by the addon's
// createNetns; `nsenter --net=<file> ip -batch` configures it from inside: the veth is created
// there, its host end moved out to pierd's namespace by `netns /proc/<pid>/ns/net`. A second
// `ip -batch` on the host puts the host end on the bridge.

export interface Link {
  /** Interface name inside the container (eth0, eth1, …). */
  ifname: string;
  /** The host end of the veth pair. */
  hostIf: string;
  bridge: string;
  mac: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mtu: number;
  /** Gives the default route (the first non-internal network). */
  defaultRoute: boolean;
}

function innerLines(links: Link[], hostNetns: string): string[] {
  const lines: string[] = [];
  for (const l of links) {
    lines.push(`link add ${l.ifname} address ${l.mac} mtu ${l.mtu} type veth peer name ${l.hostIf} mtu ${l.mtu} netns ${hostNetns}`);
    lines.push(`addr add ${l.ip}/${l.prefixLen} dev ${l.ifname}`);
    lines.push(`link set ${l.ifname} up`);
  }
  for (const l of links) if (l.defaultRoute) lines.push(`route add default via ${l.gateway} dev ${l.ifname}`);
  return lines;
}

function hostLines(links: Link[]): string[] {
  // Hairpin mode lets a container reach its own published port through the gateway: the DNAT
  // happens as the frame enters the bridge (br_netfilter), which then has to send it back out
  // of the port it came in by (dockerd turns it on too, where it DNATs containers' traffic).
  return links.flatMap((l) => [`link set ${l.hostIf} master ${l.bridge} up`, `link set ${l.hostIf} type bridge_slave hairpin on`]);
}

function heredoc(cmd: string, lines: string[]): string {
  return `${cmd} <<'PIER_EOF'\n${lines.join("\n")}\nPIER_EOF\n`;
}

/** Loopback up and the given links in the new (still empty) namespace at `netnsPath`. */
export function setupScript(netnsPath: string, links: Link[], hostNetns = `/proc/${process.pid}/ns/net`): string {
  let s = heredoc(`nsenter --net=${shq(netnsPath)} ip -batch -`, ["link set lo up", ...innerLines(links, hostNetns)]);
  if (links.length) s += heredoc("ip -batch -", hostLines(links));
  return s;
}

/** More links into an existing namespace (network connect of a running container). */
export function connectScript(netnsPath: string, links: Link[], hostNetns = `/proc/${process.pid}/ns/net`): string {
  let s = heredoc(`nsenter --net=${shq(netnsPath)} ip -batch -`, innerLines(links, hostNetns));
  s += heredoc("ip -batch -", hostLines(links));
  return s;
}

/** Remove links by their host ends (a veth pair dies with either end). Missing ones are fine. */
export function disconnectScript(hostIfs: string[]): string {
  return hostIfs.map((h) => `ip link del ${shq(h)} 2>/dev/null || true\n`).join("");
}

/**
 * Drop a namespace: unmount and remove its file (the kernel then frees it and the veths in it
 * once no process is left inside), and delete the host ends at once so nothing lingers on the
 * bridge even if something still holds the namespace.
 */
export function teardownScript(netnsPath: string | undefined, hostIfs: string[]): string {
  let s = "";
  if (netnsPath) {
    const ns = shq(netnsPath);
    s += `umount ${ns} 2>/dev/null || umount -l ${ns} 2>/dev/null || true\nrm -f ${ns}\n`;
  }
  return s + disconnectScript(hostIfs);
}

/** A bridge with its gateway address, up; idempotent. */
export function bridgeScript(b: { name: string; cidr: string; mtu: number }): string {
  const n = shq(b.name);
  return (
    `ip link show dev ${n} >/dev/null 2>&1 || ip link add name ${n} mtu ${b.mtu} type bridge\n` +
    `ip addr replace ${shq(b.cidr)} dev ${n}\n` +
    `ip link set dev ${n} up\n`
  );
}

/**
 * Under a machine-wide lock (two pierds starting together must not pick the same subnet), make a
 * bridge on the first candidate subnet no route overlaps. Prints the chosen candidate's index
 * (or "none").
 */
export function pickAndCreateBridgeScript(name: string, mtu: number, candidates: { subnet: string; cidr: string }[], lockDir: string): string {
  // The lock is on a directory that exists anyway, so no lock file is left behind.
  let s = `exec 9<${shq(lockDir)}\nflock 9\n`;
  s += `taken() { [ -n "$(ip -4 route show table all root "$1")" ] || ip -4 route show table all match "$1" | grep -v '^default' | grep -q . ; }\n`;
  candidates.forEach((c, i) => {
    s += `if ! taken ${shq(c.subnet)}; then\n${bridgeScript({ name, cidr: c.cidr, mtu })}echo ${i}\nexit 0\nfi\n`;
  });
  s += `echo none\n`;
  return s;
}

export function deleteBridgeScript(names: string[]): string {
  return names.map((n) => `ip link del dev ${shq(n)} 2>/dev/null || true\n`).join("");
}
