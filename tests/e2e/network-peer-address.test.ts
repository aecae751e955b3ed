// Which source address a container sees when the host itself connects to one of its published
// ports, as dockerd shows it (measured with dockerd 20.10 in a network namespace of its own):
// - with the userland proxy (the default), a connection to 127.0.0.1 comes from the network's
//   gateway (docker-proxy dials the container from it) and one to a host address keeps that
//   address (the kernel's DNAT, no masquerade);
// - with --userland-proxy=false, every connection the host makes comes from the gateway
//   (`-o <bridge> -m addrtype --src-type LOCAL -j MASQUERADE`, route_localnet for 127.0.0.1).
// The container tells what it saw: busybox nc runs netstat on each connection.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { dockerOk, withEngine, type Engine } from "../harness.js";

/** The address this host uses towards the world: what a client dialling "the host" would use. */
function hostAddress(): string {
  const r = spawnSync("ip", ["-j", "-4", "route", "get", "192.0.2.1"], { encoding: "utf8" });
  const src = (JSON.parse(r.stdout || "[]") as { prefsrc?: string }[])[0]?.prefsrc;
  if (!src) throw new Error(`no route with a source address on this host: ${r.stderr}`);
  return src;
}

/** Connect, and return the output the container's listener wrote (netstat), or undefined. */
function dial(host: string, port: number): Promise<{ localPort: number; text: string } | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let text = "";
    let localPort = 0;
    const timer = setTimeout(() => sock.destroy(), 10_000);
    sock.on("connect", () => (localPort = sock.localPort ?? 0));
    sock.on("data", (d) => (text += d.toString()));
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(text.includes("Foreign Address") ? { localPort, text } : undefined);
    });
    sock.on("error", () => {});
  });
}

/**
 * The peer of a connection to port 80 in a listener's netstat output: the line whose peer port
 * is the client's own (masquerading keeps it), or else the only one still open, ESTABLISHED or
 * half-closed by a client with nothing to send (docker-proxy dials from a port of its own; the
 * connections dialled before are in TIME_WAIT by then).
 */
function peerIn(netstat: string, clientPort?: number): string {
  const peers = netstat.split("\n").flatMap((line) => {
    const m = /:80\s+(?:::ffff:)?(\d+\.\d+\.\d+\.\d+):(\d+)\s+(?:ESTABLISHED|CLOSE_WAIT)/.exec(line);
    return m ? [{ ip: m[1]!, port: Number(m[2]) }] : [];
  });
  const mine = peers.find((p) => p.port === clientPort) ?? (peers.length === 1 ? peers[0] : undefined);
  return mine?.ip ?? `(no peer for port ${clientPort} in:\n${netstat})`;
}

/** The peer address the container saw for a connection from the host to host:port. */
async function peerSeen(host: string, port: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await dial(host, port);
    if (r) return peerIn(r.text, r.localPort);
    if (Date.now() > deadline) return "(the published port never answered)";
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** What the reporter saw of a connection from a container of its network, through the gateway. */
async function peerSeenFromContainer(e: Engine, gateway: string, port: number): Promise<{ peer: string; client: string }> {
  await dockerOk(e, ["run", "-d", "--name", "client", "busybox", "sleep", "300"]);
  const client = await dockerOk(e, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "client"]);
  const r = await e.docker(["exec", "client", "sh", "-c", `echo | timeout 10 nc ${gateway} ${port}`]);
  await dockerOk(e, ["rm", "-f", "client"]);
  return { peer: peerIn(r.stdout), client };
}

async function publishPeerReporter(e: Engine, name: string, hostPort: number): Promise<string> {
  await dockerOk(e, ["run", "-d", "--name", name, "-p", `${hostPort}:80`, "busybox", "nc", "-ll", "-p", "80", "-e", "netstat", "-tn"]);
  const nets = JSON.parse(await dockerOk(e, ["network", "inspect", "-f", "{{json .IPAM.Config}}", "bridge"])) as { Gateway: string }[];
  return nets[0]!.Gateway;
}

describe("the source address of host connections to published ports", () => {
  it("with the userland proxy (default): 127.0.0.1 and the network's containers come from the gateway, a host address as itself", () =>
    withEngine({}, async (e) => {
      const gateway = await publishPeerReporter(e, "peer-proxy", 18795);
      assert.equal(await peerSeen("127.0.0.1", 18795), gateway);
      const host = hostAddress();
      assert.equal(await peerSeen(host, 18795), host);
      // A container of the same network: docker-proxy dials from the gateway.
      assert.equal((await peerSeenFromContainer(e, gateway, 18795)).peer, gateway);
    }));

  // dockerd serves this in both modes (docker-proxy; without it, hairpin mode on the container's
  // bridge port and a MASQUERADE of the container to itself). pier DNATs as the frame enters
  // the bridge (br_netfilter), which then bridges it back out of the port it came in by: the
  // port's hairpin mode must be on (native/netlink.cc SetHairpin). Without it: a timeout.
  it("lets a container reach its own published port through its gateway", () =>
    withEngine({}, async (e) => {
      const gateway = await publishPeerReporter(e, "peer-self", 18799);
      const r = await e.docker(["exec", "peer-self", "sh", "-c", `echo | timeout 10 nc ${gateway} 18799`]);
      assert.match(r.stdout, /Foreign Address/, `${r.stdout}${r.stderr}`);
    }));

  it("with --userland-proxy=false: every host connection comes from the gateway, the network's containers as themselves", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "needs a daemon started with --userland-proxy=false" }, () =>
    withEngine({ daemonArgs: ["--userland-proxy=false"] }, async (e) => {
      const gateway = await publishPeerReporter(e, "peer-hairpin", 18796);
      for (const host of ["127.0.0.1", hostAddress(), gateway]) {
        assert.equal(await peerSeen(host, 18796), gateway, `connecting to ${host}`);
      }
      // A container of the same network keeps its own address (no masquerade; the reply is
      // un-DNATed on the bridge, which needs br_netfilter: without it pier masquerades it).
      const brnf = readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim() === "1";
      const { peer, client } = await peerSeenFromContainer(e, gateway, 18796);
      assert.equal(peer, brnf ? client : gateway);
    }));
});
