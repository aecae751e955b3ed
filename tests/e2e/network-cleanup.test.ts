// Networking survives a pierd crash, and nothing of it outlives its containers: after kill -9
// of pierd, a restart, and `rm -f` of everything, no veth, namespace file, rule or address is
// left; after pierd stops, no bridge or chain either (checked with ip, iptables-save and nft).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

async function until<T>(what: string, fn: () => T | Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await sleep(100);
    v = await fn();
  }
  assert.ok(ok(v), `${what}: ${JSON.stringify(v)}`);
  return v;
}

describe("network cleanup", () => {
  let e: Engine | undefined;
  after(async () => {
    await e?.stop();
  });

  it("keeps ports through a pierd crash, then leaves nothing behind", async (t) => {
    e = await startEngine();
    const eng = e;
    const ok = async (args: string[]) => {
      const r = await eng.docker(args);
      assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const probe = await eng.docker(["run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    if (probe.code !== 0 || !/inet /.test(probe.stdout)) {
      t.skip("container networking is not wired into the container service yet");
      return;
    }
    const tag = createHash("sha256").update(eng.execRoot!).digest("hex").slice(0, 6);
    const chainRe = new RegExp(`PIER-${tag.toUpperCase()}`);
    const defaultBridge = JSON.parse(await ok(["network", "inspect", "bridge"]))[0].Options["com.docker.network.bridge.name"] as string;
    assert.equal(defaultBridge, `pier0-${tag}`);

    await ok(["network", "create", "crashnet"]);
    const userBridge = `pier-${(await ok(["network", "inspect", "-f", "{{.Id}}", "crashnet"])).slice(0, 10)}`;
    const serve = (name: string, port: number, extra: string[]) =>
      ok(["run", "-d", "--name", name, "-p", `${port}:80`, ...extra, "busybox", "sh", "-c", `mkdir -p /w && echo ${name} > /w/index.html && exec httpd -f -p 80 -h /w`]);
    await serve("keep", 18581, []);
    await serve("keep2", 18582, ["--network", "crashnet"]);
    const dies = await ok(["run", "-d", "--name", "dies", "-p", "18583:80", "busybox", "sleep", "300"]);
    const diesPid = Number(await ok(["inspect", "-f", "{{.State.Pid}}", "dies"]));
    await until("keep answers", () => httpGet("http://127.0.0.1:18581/").catch(() => ""), (v) => v.trim() === "keep");
    const veths = () => sh("ip", ["-o", "link", "show"]).split("\n").filter((l) => l.includes(`master ${defaultBridge} `) || l.includes(`master ${userBridge} `));
    assert.equal(veths().length, 3);

    // pierd is frozen while a container ends, then killed with SIGKILL and started again.
    process.kill(eng.pid!, "SIGSTOP");
    process.kill(diesPid, "SIGKILL");
    await until("dies has ended", () => existsSync(`/proc/${diesPid}`), (v) => !v);
    await eng.restart!("SIGKILL");
    // The survivors still answer on their ports; the dead one is released.
    assert.equal((await httpGet("http://127.0.0.1:18581/")).trim(), "keep");
    assert.equal((await httpGet("http://127.0.0.1:18582/")).trim(), "keep2");
    assert.equal(await ok(["inspect", "-f", "{{.State.Status}}", dies]), "exited");
    await until("the dead container's veth is gone", () => veths().length, (n) => n === 2);
    const nat = sh("iptables-save", ["-t", "nat"]);
    assert.doesNotMatch(nat, /--dport 18583 /, "the dead container's port rule is gone");
    assert.match(nat, /--dport 18581 /);
    // Its host port is free again and can be published anew.
    await ok(["run", "-d", "--name", "reuse", "-p", "18583:80", "busybox", "sleep", "300"]);

    // rm -f of everything: no veth, namespace file, port rule or address in use.
    const all = (await ok(["ps", "-aq"])).split("\n").filter(Boolean);
    await ok(["rm", "-f", ...all]);
    await until("no veths left", () => veths().length, (n) => n === 0);
    const netnsDir = path.join(eng.execRoot!, "netns");
    assert.deepEqual(existsSync(netnsDir) ? readdirSync(netnsDir) : [], []);
    assert.doesNotMatch(sh("iptables-save", ["-t", "nat"]), /--dport 1858\d /);
    assert.equal(JSON.stringify(JSON.parse(await ok(["network", "inspect", "crashnet"]))[0].Containers), "{}");
    await ok(["network", "rm", "crashnet"]);
    assert.equal(sh("ip", ["-o", "link", "show", userBridge]), "");

    // Killed again with nothing running: the next pierd removes the bridge and rules at start.
    assert.match(sh("iptables-save", []), chainRe);
    await eng.restart!("SIGKILL");
    assert.doesNotMatch(sh("iptables-save", []), chainRe, "leftover chains removed at start");
    assert.equal(sh("ip", ["-o", "link", "show", defaultBridge]), "", "leftover bridge removed at start");
    // …and networking comes back on first use.
    assert.equal(await ok(["run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | wc -l"]), "1");

    // pierd stops: its bridge and every chain and jump of its own go too.
    await eng.stop();
    e = undefined;
    const links = sh("ip", ["-o", "link", "show"]);
    assert.doesNotMatch(links, new RegExp(`${defaultBridge}|${userBridge}`));
    assert.doesNotMatch(sh("iptables-save", []), chainRe);
    assert.doesNotMatch(sh("nft", ["list", "ruleset"]), chainRe);
    assert.doesNotMatch(sh("ip", ["-4", "route", "show", "table", "all"]), new RegExp(`${defaultBridge}|${userBridge}`));
  });
});
