// Networking under stress, through the real docker CLI: quick stop/start cycles never leave a
// second veth or a stale address (a start waits for the previous exit's teardown, which runs in
// the background), 50 containers started at once on one user network all reach each other by
// name, a host port another program holds gives Docker's error and leaves nothing behind, and so
// does a start whose second network cannot be set up (its bridge was deleted behind the engine).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { startEngine, type Engine, dockerOk } from "../harness.js";

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "";

describe("network robustness", () => {
  let e: Engine;
  const ok = (args: string[]) => dockerOk(e, args);
  /** Host ends of veths on one of this engine's bridges. */
  const veths = (bridge: string) => sh("ip", ["-o", "link", "show", "master", bridge]).split("\n").filter(Boolean);

  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("keeps one link and a working address through quick restarts", async () => {
    const bridge = await ok(["network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge"]);
    await ok(["run", "-d", "--name", "cycler", "busybox", "sleep", "600"]);
    await ok(["run", "-d", "--name", "target", "busybox", "sleep", "600"]);
    const targetIP = await ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "target"]);
    for (let i = 0; i < 6; i++) {
      // kill, then start at once: the start must wait for the teardown of the exit before.
      await ok(["kill", "cycler"]);
      await ok(["start", "cycler"]);
      const out = await ok(["exec", "cycler", "sh", "-c", `ip -o -4 addr show | grep -c 'inet ' ; ping -c1 -W3 ${targetIP} >/dev/null && echo reach`]);
      assert.equal(out, "2\nreach", `cycle ${i}: lo and eth0, and the neighbour answers`);
    }
    if (e.execRoot) {
      // Pier only: no veth or namespace file of an earlier run is left.
      assert.equal(veths(bridge).length, 2, veths(bridge).join("\n"));
      assert.equal(readdirSync(path.join(e.execRoot, "netns")).length, 2);
    }
    await ok(["rm", "-f", "cycler", "target"]);
  });

  // Every container resolves every name, and reaches two others by name. Not all 2,450 pairs:
  // the kernel's neighbour (ARP) table is one table for all namespaces, and its default hard
  // limit (net.ipv4.neigh.default.gc_thresh3 = 1024) is below 50 × 49 entries, so an all-pairs
  // ping loses packets with "neighbor table overflow" on any engine (dockerd too).
  it("starts 50 containers at once on one user network and they all reach each other by name", async () => {
    await ok(["network", "create", "crowd"]);
    const names = Array.from({ length: 50 }, (_, i) => `crowd${i}`);
    const runs = await Promise.all(names.map((n) => e.docker(["run", "-d", "--name", n, "--network", "crowd", "busybox", "sleep", "600"], { timeoutMs: 240_000 })));
    for (const [i, r] of runs.entries()) assert.equal(r.code, 0, `${names[i]}: ${r.stderr}`);
    const ips = new Map<string, string>();
    for (const n of names) ips.set(n, await ok(["inspect", "-f", "{{.NetworkSettings.Networks.crowd.IPAddress}}", n]));
    assert.equal(new Set(ips.values()).size, 50, "fifty different addresses");
    const all = names.join(" ");
    // Five containers at a time (the machine has two cores).
    for (let i = 0; i < names.length; i += 5) {
      const batch = names.slice(i, i + 5);
      const outs = await Promise.all(batch.map((n, j) => {
        const k = i + j;
        const peers = [names[(k + 1) % 50], names[(k + 25) % 50]].join(" ");
        const script = `for h in ${all}; do nslookup $h 2>/dev/null | grep -A1 "^Name:" | tail -1 | sed "s/^Address: *//; s/^/$h /"; done; ` +
          `for h in ${peers}; do n=0; until ping -c1 -W2 $h >/dev/null 2>&1; do n=$((n+1)); if [ $n -ge 10 ]; then echo "cannot reach $h"; break; fi; done; done`;
        return e.docker(["exec", n, "sh", "-c", script], { timeoutMs: 300_000 });
      }));
      for (const [j, r] of outs.entries()) {
        const answers = new Map(r.stdout.trim().split("\n").filter((l) => !l.startsWith("cannot")).map((l) => l.split(" ") as [string, string]));
        for (const n of names) assert.equal(answers.get(n), ips.get(n), `${batch[j]} resolves ${n}: ${r.stdout}${r.stderr}`);
        assert.doesNotMatch(r.stdout, /cannot reach/, `${batch[j]}: ${r.stdout}${r.stderr}`);
      }
    }
    await ok(["rm", "-f", ...names]);
    await ok(["network", "rm", "crowd"]);
  });

  it("refuses a host port another program holds with Docker's error, leaving nothing behind", async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(18977, "0.0.0.0", r));
    try {
      const bridge = await ok(["network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge"]);
      const before = veths(bridge).length;
      const r = await e.docker(["run", "-d", "--name", "blocked", "-p", "18977:80", "busybox", "sleep", "600"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, /driver failed programming external connectivity on endpoint blocked \([0-9a-f]+\): Error starting userland proxy: listen tcp4 0\.0\.0\.0:18977: bind: address already in use/);
      assert.equal(await ok(["inspect", "-f", "{{.State.Status}} {{.State.Running}}", "blocked"]), "created false");
      assert.equal(veths(bridge).length, before, "no veth left");
      if (e.execRoot) {
        assert.equal(existsSync(path.join(e.execRoot, "netns", await ok(["inspect", "-f", "{{.Id}}", "blocked"]))), false, "no namespace file left");
        assert.doesNotMatch(sh("iptables-save", ["-t", "nat"]), /--dport 18977 /, "no port rule left");
      }
      // The address it had is free: the engine still starts containers (and this one, once the port is free).
      holder.close();
      await ok(["start", "blocked"]);
      assert.match(await ok(["port", "blocked"]), /80\/tcp -> 0\.0\.0\.0:18977/);
      await ok(["rm", "-f", "blocked"]);
    } finally {
      holder.close();
    }
  });

  it("fails a start whose second network cannot be set up, and takes the first one down again", async () => {
    const tag = Math.random().toString(36).slice(2, 7);
    const [b1, b2] = [`pnlok${tag}`, `pnlgone${tag}`];
    await ok(["network", "create", "-o", `com.docker.network.bridge.name=${b1}`, `keep${tag}`]);
    await ok(["network", "create", "-o", `com.docker.network.bridge.name=${b2}`, `gone${tag}`]);
    try {
      await ok(["create", "--name", `half${tag}`, "--network", `keep${tag}`, "busybox", "sleep", "600"]);
      await ok(["network", "connect", `gone${tag}`, `half${tag}`]);
      // Someone deletes the second network's bridge behind the engine's back.
      spawnSync("ip", ["link", "del", b2]);
      const r = await e.docker(["start", `half${tag}`]);
      assert.notEqual(r.code, 0, "the start fails");
      assert.match(r.stderr, /\S/, "with a message");
      assert.equal(await ok(["inspect", "-f", "{{.State.Running}}", `half${tag}`]), "false");
      assert.deepEqual(veths(b1), [], "the first network's veth is gone again");
      if (e.execRoot) {
        const id = await ok(["inspect", "-f", "{{.Id}}", `half${tag}`]);
        assert.match(r.stderr, new RegExp(`failed to set up the network of container ${id.slice(0, 12)}: find bridge ${b2}: no such device`));
        assert.equal(existsSync(path.join(e.execRoot, "netns", id)), false, "no namespace file left");
      }
      // The engine goes on: without the broken network the container starts.
      await ok(["network", "disconnect", `gone${tag}`, `half${tag}`]);
      await ok(["start", `half${tag}`]);
      assert.equal(veths(b1).length, 1);
    } finally {
      await e.docker(["rm", "-f", `half${tag}`]);
      await e.docker(["network", "rm", `keep${tag}`, `gone${tag}`]);
      spawnSync("ip", ["link", "del", b2]);
    }
  });
});
