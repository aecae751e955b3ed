import { promises as fsp } from "node:fs";
import { setSysctl } from "../sys/index.js";
import { dropForwardedByDefault } from "./firewall.js";

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

/**
 * Docker's --ip-forward, as libnetwork's bridge driver does it when dockerd starts: turn
 * net.ipv4.ip_forward on if it is off, and then (with iptables) set the filter FORWARD chain's
 * policy to DROP, so a host that did not route before does not start routing between all its
 * interfaces: only what a chain accepts (ours accept our bridges' traffic) is forwarded. A host
 * that already routed keeps its policy. If the policy cannot be set, forwarding is turned back
 * off, as dockerd does: never routing without it. Neither is undone when pierd stops (dockerd
 * leaves both too; something else may rely on them by then).
 */
export async function enableIPForwarding(opts: { iptables: boolean }): Promise<"was on" | "turned on"> {
  const current = (await fsp.readFile(IP_FORWARD, "utf8")).trim();
  if (current === "1") return "was on";
  await setSysctl("net.ipv4.ip_forward", "1");
  if (opts.iptables) {
    try {
      await dropForwardedByDefault();
    } catch (err) {
      await setSysctl("net.ipv4.ip_forward", current).catch(() => {});
      throw err;
    }
  }
  return "turned on";
}
