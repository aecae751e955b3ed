import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp, existsSync, readlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as os from "node:os";
import * as path from "node:path";
import { createNetns, umount2, MNT_DETACH } from "./native.js";
import { connectLinks, deleteLinks, setupSandbox, teardownSandbox, type VethLink } from "./netlink.js";
import { PierError } from "../errdefs/index.js";

// Runs as root: real namespaces, bridges and veths, checked with ip(8)'s JSON output. Every
// name carries a random tag, so runs in parallel (or a run beside a pierd) never meet, and
// everything made is removed in t.after even when an assertion fails.

function ip(args: string[], netns?: string): unknown[] {
  const r = netns ? spawnSync("nsenter", [`--net=${netns}`, "ip", "-j", ...args], { encoding: "utf8" }) : spawnSync("ip", ["-j", ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout || "[]") as unknown[];
}

function sh(cmd: string, args: string[]): { status: number | null; stderr: string; stdout: string } {
  return spawnSync(cmd, args, { encoding: "utf8" });
}

interface LinkJson {
  ifname: string;
  address?: string;
  mtu?: number;
  master?: string;
  flags?: string[];
  operstate?: string;
  linkinfo?: { info_kind?: string };
}
interface AddrJson {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}
interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
}

/** A namespace file and two bridges with addresses, all removed after the test. */
async function lab(t: { after(fn: () => unknown): void }) {
  const tag = randomBytes(3).toString("hex");
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-netlink-"));
  const netns = path.join(dir, "ns");
  // 198.18.0.0/15 is for benchmarks (RFC 2544): never a real network here.
  const octet = 1 + (randomBytes(1)[0]! % 120);
  const bridges = [
    { name: `pnl${tag}a`, subnet: `198.18.${octet}`, prefixLen: 24 },
    { name: `pnl${tag}b`, subnet: `198.18.${octet + 128}`, prefixLen: 24 },
  ];
  const made: string[] = [];
  t.after(async () => {
    for (const h of made) sh("ip", ["link", "del", h]);
    for (const b of bridges) sh("ip", ["link", "del", b.name]);
    try {
      umount2(netns, MNT_DETACH);
    } catch {
      // not mounted (the test tore it down)
    }
    await fsp.rm(dir, { recursive: true, force: true });
  });
  for (const b of bridges) {
    for (const args of [["link", "add", b.name, "type", "bridge"], ["addr", "add", `${b.subnet}.1/${b.prefixLen}`, "dev", b.name], ["link", "set", b.name, "up"]]) {
      const r = sh("ip", args);
      assert.equal(r.status, 0, r.stderr);
    }
  }
  createNetns(netns);
  const link = (i: number, b: (typeof bridges)[number], defaultRoute: boolean, mtu = 1500): VethLink => {
    const hostIf = `pnl${tag}v${i}`;
    made.push(hostIf);
    return { ifname: `eth${i}`, hostIf, bridge: b.name, mac: `02:42:c6:12:${tag.slice(0, 2)}:0${i + 2}`, ip: `${b.subnet}.${i + 2}`, prefixLen: b.prefixLen, gateway: `${b.subnet}.1`, mtu, defaultRoute };
  };
  return { tag, netns, bridges, link, dir };
}

function hostLink(name: string): LinkJson | undefined {
  const r = sh("ip", ["-j", "-d", "link", "show", "dev", name]);
  return r.status === 0 ? (JSON.parse(r.stdout) as LinkJson[])[0] : undefined;
}

test("setupSandbox: loopback, a veth on the bridge, address, MTU, MAC and default route, as ip(8) made them", async (t) => {
  const { netns, bridges, link } = await lab(t);
  const before = readlinkSync("/proc/self/ns/net");
  const l0 = link(0, bridges[0]!, true, 1400);
  await setupSandbox(netns, [l0]);
  assert.equal(readlinkSync("/proc/self/ns/net"), before, "pierd stays in its own namespace");

  const inside = ip(["-d", "link", "show"], netns) as LinkJson[];
  assert.deepEqual(inside.map((l) => l.ifname).sort(), ["eth0", "lo"]);
  const lo = inside.find((l) => l.ifname === "lo")!;
  assert.ok(lo.flags?.includes("UP"), "loopback is up");
  const eth0 = inside.find((l) => l.ifname === "eth0")!;
  assert.equal(eth0.address, l0.mac);
  assert.equal(eth0.mtu, 1400);
  assert.equal(eth0.linkinfo?.info_kind, "veth");
  assert.ok(eth0.flags?.includes("UP") && eth0.flags.includes("LOWER_UP"), `eth0 up with carrier: ${eth0.flags}`);

  const addrs = ip(["-4", "addr", "show", "dev", "eth0"], netns) as AddrJson[];
  assert.deepEqual(addrs[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`), [`${l0.ip}/24`]);
  // `ip -d` names every protocol, boot included (what `ip route add` gives a route).
  const routes = ip(["-d", "-4", "route", "show"], netns) as RouteJson[];
  assert.deepEqual(
    routes.map((r) => [r.dst, r.gateway, r.dev, r.protocol]),
    [
      ["default", l0.gateway, "eth0", "boot"],
      [`${bridges[0]!.subnet}.0/24`, undefined, "eth0", "kernel"],
    ],
  );

  const host = hostLink(l0.hostIf)!;
  assert.equal(host.master, bridges[0]!.name);
  assert.equal(host.mtu, 1400);
  assert.equal(host.linkinfo?.info_kind, "veth");
  assert.ok(host.flags?.includes("UP"), "host end up");

  // And it carries traffic: the container reaches its gateway over the bridge.
  // (busybox-static is installed by scripts/install-deps.sh; iputils-ping is not.)
  const ping = sh("nsenter", [`--net=${netns}`, "busybox", "ping", "-c", "1", "-W", "5", l0.gateway]);
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
});

test("connectLinks adds a link to a configured namespace; deleteLinks removes it, missing is fine", async (t) => {
  const { netns, bridges, link } = await lab(t);
  const l0 = link(0, bridges[0]!, true);
  const l1 = link(1, bridges[1]!, false);
  await setupSandbox(netns, [l0]);
  await connectLinks(netns, [l1]);
  const inside = ip(["-4", "addr", "show"], netns) as AddrJson[];
  assert.deepEqual(
    inside.map((a) => [a.ifname, a.addr_info.map((x) => `${x.local}/${x.prefixlen}`)]),
    [
      ["lo", ["127.0.0.1/8"]],
      ["eth0", [`${l0.ip}/24`]],
      ["eth1", [`${l1.ip}/24`]],
    ],
  );
  assert.equal(hostLink(l1.hostIf)?.master, bridges[1]!.name);
  const defaults = (ip(["-4", "route", "show", "default"], netns) as RouteJson[]).map((r) => r.dev);
  assert.deepEqual(defaults, ["eth0"], "a link without defaultRoute adds no default route");

  await deleteLinks([l1.hostIf, "pnlnosuchlink"]);
  assert.equal(hostLink(l1.hostIf), undefined);
  assert.deepEqual((ip(["link", "show"], netns) as LinkJson[]).map((l) => l.ifname).sort(), ["eth0", "lo"], "the pair died with its host end");
});

test("a setup that fails says which step failed on what; teardown then leaves nothing", async (t) => {
  const { netns, bridges, link, tag } = await lab(t);
  const l0 = link(0, bridges[0]!, true);
  const missing = { ...link(1, bridges[1]!, false), bridge: `pnl${tag}zz` };
  await assert.rejects(setupSandbox(netns, [l0, missing]), (e: unknown) => {
    assert.ok(e instanceof PierError && e.kind === "System", String(e));
    assert.match((e as Error).message, new RegExp(`^find bridge pnl${tag}zz: no such device \\[ENODEV\\]`));
    return true;
  });
  // The first pair was made before the failure; the caller's teardown removes it.
  assert.ok(hostLink(l0.hostIf));

  // A host end whose name is taken.
  const clash = { ...link(2, bridges[1]!, false), hostIf: l0.hostIf, ifname: "eth2" };
  await assert.rejects(connectLinks(netns, [clash]), /create veth .*: file already exists.*\[EEXIST\]/);
  await assert.rejects(setupSandbox(path.join(netns, "..", "nope"), [l0]), /open network namespace .*nope: no such file or directory \[ENOENT\]/);
  await assert.rejects(setupSandbox(netns, [{ ...l0, ifname: "a/b" }]), /invalid interface name "a\/b"/);

  await teardownSandbox(netns, [l0.hostIf, missing.hostIf]);
  assert.equal(existsSync(netns), false, "namespace file removed");
  assert.equal(hostLink(l0.hostIf), undefined, "host end removed");
  const left = (ip(["link", "show"]) as LinkJson[]).filter((l) => l.ifname.startsWith(`pnl${tag}`) && l.ifname !== bridges[0]!.name && l.ifname !== bridges[1]!.name);
  assert.deepEqual(left, []);
  // Idempotent: a second teardown (pierd restart, a retried detach) is fine.
  await teardownSandbox(netns, [l0.hostIf]);
});

test("teardownSandbox frees the namespace: its links and routes go with it", async (t) => {
  const { netns, bridges, link } = await lab(t);
  const links = [link(0, bridges[0]!, true), link(1, bridges[1]!, false)];
  await setupSandbox(netns, links);
  const ino = (await fsp.stat(netns)).ino;
  await teardownSandbox(netns, links.map((l) => l.hostIf));
  assert.equal(existsSync(netns), false);
  for (const l of links) assert.equal(hostLink(l.hostIf), undefined);
  const mounts = await fsp.readFile("/proc/self/mountinfo", "utf8");
  assert.ok(!mounts.includes(netns), "no mount left");
  assert.ok(!mounts.includes(`net:[${ino}]`), "no mount of that namespace left anywhere");
});

test("sixteen namespaces set up and torn down at once each get their own link", async (t) => {
  const { dir, bridges, tag } = await lab(t);
  const b = bridges[0]!;
  const made: { ns: string; link: VethLink }[] = [];
  t.after(async () => {
    for (const m of made) {
      sh("ip", ["link", "del", m.link.hostIf]);
      try {
        umount2(m.ns, MNT_DETACH);
      } catch {
        // torn down already
      }
    }
  });
  for (let i = 0; i < 16; i++) {
    const ns = path.join(dir, `ns${i}`);
    createNetns(ns);
    made.push({ ns, link: { ifname: "eth0", hostIf: `pnl${tag}m${i}`, bridge: b.name, mac: `02:42:c6:12:00:${(i + 2).toString(16).padStart(2, "0")}`, ip: `${b.subnet}.${i + 2}`, prefixLen: b.prefixLen, gateway: `${b.subnet}.1`, mtu: 1500, defaultRoute: true } });
  }
  await Promise.all(made.map((m) => setupSandbox(m.ns, [m.link])));
  for (const m of made) {
    const addrs = ip(["-4", "addr", "show", "dev", "eth0"], m.ns) as AddrJson[];
    assert.deepEqual(addrs[0]!.addr_info.map((a) => a.local), [m.link.ip]);
    assert.equal(hostLink(m.link.hostIf)?.master, b.name);
  }
  await Promise.all(made.map((m) => teardownSandbox(m.ns, [m.link.hostIf])));
  for (const m of made) {
    assert.equal(existsSync(m.ns), false);
    assert.equal(hostLink(m.link.hostIf), undefined);
  }
});
