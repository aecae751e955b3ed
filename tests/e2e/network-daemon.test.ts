// pierd's networking options under Docker's names, each on a private pierd: --bip and
// --default-address-pool (and the same keys in daemon.json), --bridge with the admin's own
// bridge (used, never deleted) and --bridge none (no default network), --iptables=false (no
// rules; published ports reach the container through the userland proxy),
// --userland-proxy=false (the kernel's DNAT alone), and bad values. --ip-forward:
// network-forwarding.test.ts.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { ROOT, startEngine, type Engine, dockerOk } from "../harness.js";

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

/** The host's own (non-loopback) IPv4 address. */
function hostAddress(): string {
  const r = sh("ip", ["-j", "-4", "addr", "show", "scope", "global"]);
  for (const l of JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string }[] }[]) {
    if (/^(pier|docker|br-|netdk|pt)/.test(l.ifname)) continue;
    if (l.addr_info[0]) return l.addr_info[0].local;
  }
  throw new Error("no global IPv4 address on this host");
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

/** Rules of the pierd whose exec root is `execRoot` (its chains are PIER-<tag>). */
function rulesOf(execRoot: string): string[] {
  const tag = createHash("sha256").update(execRoot).digest("hex").slice(0, 6).toUpperCase();
  return ["nat", "filter"].flatMap((t) => sh("iptables-save", ["-t", t]).stdout.split("\n")).filter((l) => l.includes(`PIER-${tag}`));
}

describe("pierd network options", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "needs private pierds" }, () => {
  let e: Engine | undefined;
  const tmp = mkdtempSync("/var/tmp/pier-test-netopts-");
  after(async () => {
    await e?.stop();
    sh("ip", ["link", "del", "ptbr0"]);
    rmSync(tmp, { recursive: true, force: true });
  });
  const ok = (args: string[]) => dockerOk(e!, args);
  const bridgeIPAM = async () => JSON.parse(await ok(["network", "inspect", "-f", "{{json .IPAM.Config}}", "bridge"]))[0];

  it("takes --bip and --default-address-pool from flags", async () => {
    e = await startEngine({ daemonArgs: ["--bip", "10.231.0.1/24", "--default-address-pool", "base=10.232.0.0/16,size=24"] });
    assert.deepEqual(await bridgeIPAM(), { Subnet: "10.231.0.0/24", Gateway: "10.231.0.1" });
    assert.match(await ok(["run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]), /inet 10\.231\.0\.\d+\/24/);
    await ok(["network", "create", "pooled"]);
    assert.match(JSON.parse(await ok(["network", "inspect", "-f", "{{json .IPAM.Config}}", "pooled"]))[0].Subnet, /^10\.232\.\d+\.0\/24$/);
    await e.stop();
    e = undefined;
  });

  it("takes bip and default-address-pools from daemon.json", async () => {
    const conf = path.join(tmp, "daemon.json");
    writeFileSync(conf, JSON.stringify({ bip: "10.234.0.1/24", "default-address-pools": [{ base: "10.235.0.0/16", size: 26 }] }));
    e = await startEngine({ daemonArgs: ["--config-file", conf] });
    assert.deepEqual(await bridgeIPAM(), { Subnet: "10.234.0.0/24", Gateway: "10.234.0.1" });
    await ok(["network", "create", "pooled"]);
    assert.match(JSON.parse(await ok(["network", "inspect", "-f", "{{json .IPAM.Config}}", "pooled"]))[0].Subnet, /^10\.235\.\d+\.\d+\/26$/);
    await e.stop();
    e = undefined;
  });

  it("uses the admin's bridge with --bridge and leaves it in place", async () => {
    sh("ip", ["link", "del", "ptbr0"]);
    assert.equal(sh("ip", ["link", "add", "name", "ptbr0", "type", "bridge"]).status, 0);
    sh("ip", ["addr", "add", "10.233.0.1/24", "dev", "ptbr0"]);
    sh("ip", ["link", "set", "ptbr0", "up"]);
    e = await startEngine({ daemonArgs: ["--bridge", "ptbr0"] });
    assert.equal(await ok(["network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge"]), "ptbr0");
    assert.deepEqual(await bridgeIPAM(), { Subnet: "10.233.0.0/24", Gateway: "10.233.0.1" });
    const out = await ok(["run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0 && ping -c1 -W3 10.233.0.1 >/dev/null && echo gw-ok"]);
    assert.match(out, /inet 10\.233\.0\.\d+\/24/);
    assert.match(out, /gw-ok/);
    await e.stop();
    e = undefined;
    const after = sh("ip", ["-o", "-4", "addr", "show", "dev", "ptbr0"]);
    assert.equal(after.status, 0, "the bridge is still there");
    assert.match(after.stdout, /10\.233\.0\.1\/24/);
    sh("ip", ["link", "del", "ptbr0"]);
  });

  it("has no default network with --bridge none", async () => {
    e = await startEngine({ daemonArgs: ["--bridge", "none"] });
    const nets = (await ok(["network", "ls", "--format", "{{.Name}}"])).split("\n").sort();
    assert.deepEqual(nets, ["host", "none"]);
    // As dockerd -b none: a default-network container runs with loopback only.
    const links = await ok(["run", "--rm", "busybox", "ip", "-o", "link"]);
    assert.deepEqual(links.split("\n").map((l) => l.split(":")[1]!.trim()), ["lo"]);
    // User networks still work.
    await ok(["network", "create", "usernet"]);
    assert.match(await ok(["run", "--rm", "--network", "usernet", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]), /inet /);
    await e.stop();
    e = undefined;
  });

  it("publishes ports through the userland proxy with --iptables=false", async () => {
    e = await startEngine({ daemonArgs: ["--iptables=false"] });
    await ok(["run", "-d", "--name", "web", "-p", "18781:80", "-p", "127.0.0.1:18782:80", "busybox", "sh", "-c", "mkdir -p /w && echo proxied > /w/index.html && exec httpd -f -p 80 -h /w"]);
    const tag = createHash("sha256").update(e.execRoot!).digest("hex").slice(0, 6).toUpperCase();
    for (const table of ["nat", "filter"]) {
      assert.doesNotMatch(sh("iptables-save", ["-t", table]).stdout, new RegExp(`PIER-${tag}`), `no rules of this pierd in ${table}`);
    }
    const port = await ok(["port", "web", "80/tcp"]);
    assert.match(port, /^0\.0\.0\.0:18781$/m);
    assert.match(port, /^127\.0\.0\.1:18782$/m);
    let body = "";
    for (let i = 0; i < 30 && body !== "proxied\n"; i++) {
      body = await httpGet("http://127.0.0.1:18781/").catch(() => "");
      if (body !== "proxied\n") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, "proxied\n");
    assert.equal(await httpGet("http://127.0.0.1:18782/"), "proxied\n");
    assert.equal(await httpGet(`http://${hostAddress()}:18781/`), "proxied\n");
    await ok(["rm", "-f", "web"]);
    // The port is free again once the container is gone.
    await assert.rejects(httpGet("http://127.0.0.1:18781/"));
    await e.stop();
    e = undefined;
  });

  it("with --userland-proxy=false reaches published ports through the kernel's DNAT alone, from loopback too", async () => {
    e = await startEngine({ daemonArgs: ["--userland-proxy=false"] });
    const execRoot = e.execRoot!;
    // The container's web server answers with the peer address it saw (busybox httpd's CGI).
    const peer = `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$REMOTE_ADDR"\n`;
    await ok(["run", "-d", "--name", "web", "-p", "18783:80", "-e", `PEER=${peer}`, "busybox", "sh", "-c", 'mkdir -p /w/cgi-bin && printf "%s" "$PEER" > /w/cgi-bin/peer && chmod +x /w/cgi-bin/peer && exec httpd -f -p 80 -h /w']);
    const bridge = await ok(["network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}', "bridge"]);
    const gateway = (await bridgeIPAM()).Gateway;
    const ctrIP = await ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    // httpd listens on IPv6 and shows "[::ffff:a.b.c.d]".
    const peerOf = (body: string) => /(\d+\.\d+\.\d+\.\d+)/.exec(body)?.[1] ?? body;
    // 127.0.0.1 is routed to the bridge (route_localnet, as dockerd sets without the proxy) and
    // masqueraded, so the container sees the gateway, as with dockerd.
    let seen = "";
    for (let i = 0; i < 50 && seen !== gateway; i++) {
      seen = peerOf(await httpGet("http://127.0.0.1:18783/cgi-bin/peer").catch((err) => `(${err})`));
      if (seen !== gateway) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(seen, gateway);
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, "utf8").trim(), "1");
    assert.match(peerOf(await httpGet(`http://${hostAddress()}:18783/cgi-bin/peer`)), /^\d+\.\d+\.\d+\.\d+$/);
    // The way in is the kernel's rule: the socket pierd holds on the port relays nothing.
    assert.ok(rulesOf(execRoot).some((l) => l.includes("--dport 18783 -j DNAT --to-destination " + ctrIP + ":80")), rulesOf(execRoot).join("\n"));
    // The port is still held, as dockerd's placeholder listener holds it: nobody else can take it.
    const taker = net.createServer();
    await assert.rejects(new Promise((resolve, reject) => taker.once("error", reject).listen(18783, "0.0.0.0", () => resolve(undefined))), /EADDRINUSE/);
    taker.close();
    // A port another program holds fails the start with dockerd's words for its placeholder:
    // there is no userland proxy to blame.
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(18784, "0.0.0.0", r));
    try {
      const r = await e.docker(["run", "--rm", "-p", "18784:80", "busybox", "true"]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /driver failed programming external connectivity on endpoint \S+ \([0-9a-f]{64}\): listen tcp4 0\.0\.0\.0:18784: bind: address already in use/);
      assert.doesNotMatch(r.stderr, /userland proxy/);
    } finally {
      other.close();
    }
    await ok(["rm", "-f", "web"]);
    await e.stop();
    e = undefined;
    assert.deepEqual(rulesOf(execRoot), [], "no rule of this pierd is left");
    assert.notEqual(sh("ip", ["link", "show", bridge]).status, 0, "its bridge is gone");
  });

  it("refuses bad networking options with clear messages", () => {
    const pierd = path.join(ROOT, "bin/pierd.js");
    const root = path.join(tmp, "never");
    const args = ["--data-root", root, "--exec-root", path.join(tmp, "never-run"), "-H", `unix://${tmp}/never.sock`];
    const bip = sh(pierd, [...args, "--bip", "banana"]);
    assert.equal(bip.status, 1);
    assert.match(bip.stderr, /invalid --bip banana/);
    const both = sh(pierd, [...args, "--bridge", "br0", "--bip", "10.1.0.1/24"]);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /You specified -b & --bip, mutually exclusive options/);
    const pool = sh(pierd, [...args, "--default-address-pool", "base=10.0.0.0/8,size=4"]);
    assert.equal(pool.status, 1);
    assert.match(pool.stderr, /invalid default address pool/);
    const flag = sh(pierd, [...args, "--iptables=maybe"]);
    assert.equal(flag.status, 1);
    assert.match(flag.stderr, /invalid boolean value "maybe" for --iptables/);
    const missing = sh(pierd, [...args, "--bridge", "ptnosuch0"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /bridge device with non default name ptnosuch0 must be created manually/);
  });
});
