import { shq, type VethLink } from "../sys/index.js";

// Shell scripts that make bridges (rare: daemon start, network create), each run with one spawn
// (`sh -ec`); the route check and the subnet lock are shell's flock and ip(8)'s route match.
// A container's namespace and links, and removing bridges, go over rtnetlink instead
// (sys/netlink.ts): that path runs at every container start and stop.

/** A container's veth pair, as the network service describes it. */
export type Link = VethLink;

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
