import { getSystemErrorMap } from "node:util";
import { PierError, systemError } from "../errdefs/index.js";
import { netlinkConfigure, netlinkTeardown, type NetlinkVeth } from "./native.js";

// A container's network namespace, set up and taken down over rtnetlink by the addon
// (native/netlink.cc), with no process started: before this, each container cost an `sh`,
// `nsenter`, two `ip -batch` at start and an `sh`, `umount`, `rm`, `ip link del` at exit.
// The namespace itself is made beforehand by createNetns (a bind-mounted file under the exec
// root); the addon reaches it through a short-lived thread, never from a daemon thread.
// Each call runs on a short-lived thread of its own (deleting a veth waits tens of ms in the
// kernel for RCU grace periods: not on the event loop, nor on libuv's pool that fs calls need).
// Bridges (rare: daemon start, network create) are still made by scripts in network/sandbox.ts.

/** One veth pair of a container (fields documented on NetlinkVeth). */
export type VethLink = NetlinkVeth;

const IFNAME = /^[^\s/:]{1,15}$/;

function checkLinks(links: VethLink[]): void {
  for (const l of links) {
    for (const name of [l.ifname, l.hostIf, l.bridge]) {
      // The kernel refuses these too, but with a bare EINVAL that names no interface.
      if (!IFNAME.test(name)) throw systemError(`invalid interface name ${JSON.stringify(name)}: 1 to 15 characters, no spaces, '/' or ':'`);
    }
  }
}

/** The addon's errno error as a System error that says which step failed on what, and why. */
function netlinkError(err: unknown): PierError {
  const e = err as NodeJS.ErrnoException & { detail?: string };
  if (typeof e?.errno !== "number" || !e.syscall) return systemError(`netlink: ${(err as Error)?.message ?? String(err)}`, err);
  const why = getSystemErrorMap().get(e.errno)?.[1] ?? e.message;
  const kernel = e.detail ? ` (${e.detail})` : "";
  return systemError(`${e.syscall}${e.path ? ` ${e.path}` : ""}: ${why}${kernel} [${e.code}]`, err);
}

async function call(p: () => Promise<void>): Promise<void> {
  try {
    await p();
  } catch (err) {
    throw netlinkError(err);
  }
}

/**
 * Configure a new namespace (made by createNetns): loopback up, then each link — a veth pair
 * whose host end is on its bridge and up, whose container end has its MAC, MTU and address and
 * is up — then the default route. On failure, what was made is left for `teardownSandbox`.
 */
export async function setupSandbox(netnsPath: string, links: VethLink[]): Promise<void> {
  checkLinks(links);
  return call(() => netlinkConfigure(netnsPath, true, links));
}

/** More links into a configured namespace (`network connect` of a running container). */
export async function connectLinks(netnsPath: string, links: VethLink[]): Promise<void> {
  checkLinks(links);
  return call(() => netlinkConfigure(netnsPath, false, links));
}

/** Delete veth pairs by their host ends (a pair dies with either end); missing ones are fine. */
export function deleteLinks(hostIfs: string[]): Promise<void> {
  return call(() => netlinkTeardown("", hostIfs));
}

/**
 * Drop a namespace: unmount and remove its file (the kernel frees it, and the container ends in
 * it, once no process is left inside), and delete the host ends at once, so nothing lingers on
 * the bridge even if something still holds the namespace. Missing pieces are fine.
 */
export function teardownSandbox(netnsPath: string | undefined, hostIfs: string[]): Promise<void> {
  return call(() => netlinkTeardown(netnsPath ?? "", hostIfs));
}
