// Chains another pierd left behind. A pierd killed with SIGKILL keeps its iptables chains; once
// its bridge is deleted its subnet is free, and a pierd that takes it met the dead one's
// "-s <subnet> ! -o <old bridge> -j MASQUERADE": traffic between two of its containers came out
// masqueraded (the peer saw the gateway, not the client; tests/e2e/network-peer-address broke so
// on this host). dockerd stays correct by cleaning its chains at start; a pierd removes the
// chains whose owner (named in their jumps) is gone, never those of a pierd that runs, and keeps
// out of the subnets of chains it cannot judge. Every pierd here runs in one network namespace
// made for the test (a `sleep` holds it), so the host's rules are never touched.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readlinkSync } from "node:fs";
import { dockerOk, startEngine, type Engine } from "../harness.js";

let holder: ChildProcess;
let netns = "";

function inNetns(cmd: string, args: string[]): string {
  const r = spawnSync("nsenter", [`--net=${netns}`, "--", cmd, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function natRules(): string {
  return inNetns("iptables-save", ["-t", "nat"]);
}

/** A pierd in the test's namespace (unshare's own namespace is left at once for it). */
function startInNetns(opts: { busybox?: boolean } = {}): Promise<Engine> {
  return startEngine({ ...opts, privateNetwork: true, netnsSetup: `exec nsenter --net=${netns} -- "$0" "$@"` });
}

async function killHard(e: Engine): Promise<void> {
  process.kill(e.pid!, "SIGKILL");
  const deadline = Date.now() + 30_000;
  while (spawnSync("kill", ["-0", String(e.pid)]).status === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function defaultBridge(e: Engine): Promise<{ subnet: string; bridge: string }> {
  const subnet = await dockerOk(e, ["network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "bridge"]);
  const bridge = await dockerOk(e, ["network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge"]);
  return { subnet, bridge };
}

/** The address a container of the default network is seen from by another one it dials. */
async function peerBetweenContainers(e: Engine): Promise<{ peer: string; client: string }> {
  await dockerOk(e, ["run", "-d", "--name", "reporter", "busybox", "nc", "-ll", "-p", "80", "-e", "netstat", "-tn"]);
  await dockerOk(e, ["run", "-d", "--name", "client", "busybox", "sleep", "300"]);
  const reporter = await dockerOk(e, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "reporter"]);
  const client = await dockerOk(e, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "client"]);
  let out = "";
  for (let i = 0; i < 20 && !/Foreign Address/.test(out); i++) {
    out = (await e.docker(["exec", "client", "sh", "-c", `echo | timeout 10 nc ${reporter} 80`])).stdout;
    if (!/Foreign Address/.test(out)) await new Promise((r) => setTimeout(r, 250));
  }
  const m = /:80\s+(?:::ffff:)?(\d+\.\d+\.\d+\.\d+):\d+\s+(?:ESTABLISHED|CLOSE_WAIT)/.exec(out);
  return { peer: m?.[1] ?? `(no peer in: ${out})`, client };
}

describe("iptables chains of other pierds", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "needs private pierds in one network namespace" }, () => {
  before(async () => {
    holder = spawn("unshare", ["--net", "sleep", "3600"], { stdio: "ignore" });
    const mine = readlinkSync("/proc/self/ns/net");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ns = (() => {
        try {
          return readlinkSync(`/proc/${holder.pid}/ns/net`);
        } catch {
          return mine;
        }
      })();
      if (ns !== mine) break;
      if (Date.now() > deadline) throw new Error("unshare --net did not make a namespace");
      await new Promise((r) => setTimeout(r, 20));
    }
    netns = `/proc/${holder.pid}/ns/net`;
    inNetns("ip", ["link", "set", "lo", "up"]);
  });
  after(() => {
    holder.kill("SIGKILL");
  });

  it("a pierd killed with SIGKILL leaves nothing that masquerades the containers of the next one on its subnet", async () => {
    const dead = await startInNetns();
    let next: Engine | undefined;
    try {
      await dockerOk(dead, ["run", "--rm", "busybox", "true"]);
      const old = await defaultBridge(dead);
      await killHard(dead);
      inNetns("ip", ["link", "del", old.bridge]);
      assert.match(natRules(), new RegExp(`-s ${old.subnet.replace(/\./g, "\\.")} ! -o ${old.bridge} -j MASQUERADE`), "the dead pierd's rules are there");

      next = await startInNetns();
      const { peer, client } = await peerBetweenContainers(next);
      assert.equal((await defaultBridge(next)).subnet, old.subnet, "the dead pierd's subnet is free again and taken");
      assert.equal(peer, client, "a container is seen by its own address by a neighbour on its bridge");
      assert.doesNotMatch(natRules(), new RegExp(`\\b${old.bridge}\\b`), "no rule of the dead pierd is left");
    } finally {
      await next?.stop();
      await dead.stop();
    }
  });

  it("removes the idle bridges of a pierd killed with SIGKILL, so their subnets are free again", async () => {
    const dead = await startInNetns();
    let next: Engine | undefined;
    try {
      await dockerOk(dead, ["run", "--rm", "busybox", "true"]);
      await dockerOk(dead, ["network", "create", "left-behind"]);
      const netId = await dockerOk(dead, ["network", "inspect", "-f", "{{.Id}}", "left-behind"]);
      const old = await defaultBridge(dead);
      await killHard(dead);
      const links = () => inNetns("ip", ["-o", "link", "show"]);
      assert.match(links(), new RegExp(`: ${old.bridge}:`), "the dead pierd's default bridge is still up");
      assert.match(links(), new RegExp(`: pier-${netId.slice(0, 10)}:`), "and its network's bridge");

      next = await startInNetns({ busybox: false });
      await dockerOk(next, ["network", "create", "next-one"]); // the host side is made on first use
      assert.doesNotMatch(links(), new RegExp(`: ${old.bridge}:`), "the default bridge of the pierd that is gone was removed");
      assert.doesNotMatch(links(), new RegExp(`: pier-${netId.slice(0, 10)}:`), "and its network's bridge");
      assert.equal((await defaultBridge(next)).subnet, old.subnet, "its subnet is taken by the next pierd");
    } finally {
      await next?.stop();
      await dead.stop();
    }
  });

  it("keeps a running pierd's chains, even with its bridge deleted, and keeps out of its subnet", async () => {
    const live = await startInNetns();
    let next: Engine | undefined;
    try {
      await dockerOk(live, ["run", "--rm", "busybox", "true"]);
      const theirs = await defaultBridge(live);
      inNetns("ip", ["link", "del", theirs.bridge]);

      next = await startInNetns();
      const { peer, client } = await peerBetweenContainers(next);
      assert.notEqual((await defaultBridge(next)).subnet, theirs.subnet);
      assert.equal(peer, client);
      assert.match(natRules(), new RegExp(`-s ${theirs.subnet.replace(/\./g, "\\.")} ! -o ${theirs.bridge} -j MASQUERADE`), "the running pierd's rules stay");
      // And it still works: a network it creates now gets its bridge and rules.
      await dockerOk(live, ["network", "create", "still-alive"]);
      const subnet = await dockerOk(live, ["network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "still-alive"]);
      assert.match(natRules(), new RegExp(`-s ${subnet.replace(/\./g, "\\.")} ! -o \\S+ -j MASQUERADE`));
    } finally {
      await next?.stop();
      await live.stop();
    }
  });

  it("keeps chains without an owner (an older pierd's, maybe running) and keeps out of their subnet", async () => {
    const restore = (text: string) => {
      const r = spawnSync("nsenter", [`--net=${netns}`, "--", "iptables-restore", "-w", "5", "--noflush"], { input: text, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    };
    restore("*nat\n:PIER-0LD000-POSTROUTING - [0:0]\n-A POSTROUTING -j PIER-0LD000-POSTROUTING\n-A PIER-0LD000-POSTROUTING -s 172.17.0.0/16 ! -o pier0-0ld000 -j MASQUERADE\nCOMMIT\n");
    const e = await startInNetns({ busybox: false });
    try {
      await dockerOk(e, ["network", "create", "after-old"]);
      const subnets = [(await defaultBridge(e)).subnet, await dockerOk(e, ["network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "after-old"])];
      assert.ok(!subnets.includes("172.17.0.0/16"), `subnets ${subnets.join(", ")}`);
      assert.match(natRules(), /-A PIER-0LD000-POSTROUTING -s 172\.17\.0\.0\/16 ! -o pier0-0ld000 -j MASQUERADE/);
    } finally {
      await e.stop();
      restore("*nat\n:PIER-0LD000-POSTROUTING - [0:0]\n-D POSTROUTING -j PIER-0LD000-POSTROUTING\n-X PIER-0LD000-POSTROUTING\nCOMMIT\n");
    }
  });
});
