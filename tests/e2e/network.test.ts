// Networking end to end through the real docker CLI: the default bridge, published ports (TCP
// and UDP, from loopback, from the host's own address, from another container), user networks
// with DNS, connect/disconnect, isolation, status codes, and 50 concurrent starts.
// Traffic only goes to loopback, to the host's own address and to the containers' namespaces.
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as dgram from "node:dgram";
import { existsSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { startEngine, type Engine } from "../harness.js";
import { assertMatchesSpec, specAvailable } from "../apispec.js";

const UDPECHO = "/var/tmp/pier-test-udpecho";

/** A static UDP echo server for the busybox image (its nc has no -u): replies "echo:<data>". */
function udpEcho(): string {
  if (!existsSync(UDPECHO)) {
    const src = `${UDPECHO}.c`;
    writeFileSync(src, `#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int c, char **v) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET; a.sin_port = htons(atoi(v[1])); a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(s, (struct sockaddr *)&a, sizeof a)) return 1;
  for (;;) {
    char b[1500]; struct sockaddr_in p; socklen_t l = sizeof p;
    ssize_t n = recvfrom(s, b + 5, sizeof b - 5, 0, (struct sockaddr *)&p, &l);
    if (n < 0) continue;
    memcpy(b, "echo:", 5);
    sendto(s, b, n + 5, 0, (struct sockaddr *)&p, l);
  }
}
`);
    const r = spawnSync("gcc", ["-static", "-O2", "-o", `${UDPECHO}.tmp`, src], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cannot build the UDP echo helper: ${r.stderr}`);
    spawnSync("mv", [`${UDPECHO}.tmp`, UDPECHO]);
  }
  return UDPECHO;
}

function api(e: Engine, method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: e.host.replace(/^unix:\/\//, ""), method, path: p, headers: data ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d) => chunks.push(d));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown = text;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** The host's own (non-loopback) IPv4 address, and its interface. */
function hostAddress(): string {
  const r = spawnSync("ip", ["-j", "-4", "addr", "show", "scope", "global"], { encoding: "utf8" });
  for (const l of JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string }[] }[]) {
    if (l.ifname.startsWith("pier") || l.ifname.startsWith("docker") || l.ifname.startsWith("br-")) continue;
    if (l.addr_info[0]) return l.addr_info[0].local;
  }
  throw new Error("no global IPv4 address on this host");
}

function udpAsk(host: string, port: number, msg: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP reply from ${host}:${port}`));
    }, timeoutMs);
    s.on("message", (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m.toString());
    });
    s.send(msg, port, host);
  });
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("networking", () => {
  let e: Engine;
  let wired = false;
  let tag = "";
  const docker = (args: string[]) => e.docker(args);
  const ok = async (args: string[]) => {
    const r = await e.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** An httpd container answering "<text>" at /. */
  const web = (name: string, text: string, extra: string[] = []) =>
    ok(["run", "-d", "--name", name, ...extra, "busybox", "sh", "-c", `mkdir -p /w && echo ${text} > /w/index.html && exec httpd -f -p 80 -h /w`]);
  const skipUnlessWired = (t: TestContext) => {
    if (!wired) t.skip("container networking is not wired into the container service yet");
    return !wired;
  };

  before(async () => {
    e = await startEngine();
    // Until the container service calls the network module, bridge containers have loopback only.
    const probe = await e.docker(["run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    wired = probe.code === 0 && /inet /.test(probe.stdout);
    tag = e.execRoot ? createHash("sha256").update(e.execRoot).digest("hex").slice(0, 6) : "";
  });
  after(async () => {
    await e?.stop();
  });

  it("gives bridge containers an address, a route and outbound NAT on Pier's own bridge", async (t) => {
    if (skipUnlessWired(t)) return;
    const bridge = JSON.parse(await ok(["network", "inspect", "bridge"]))[0];
    const brName = bridge.Options["com.docker.network.bridge.name"];
    assert.match(brName, /^pier0/);
    const { Subnet, Gateway } = bridge.IPAM.Config[0];
    assert.match(Subnet, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    const out = await ok(["run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0; ip route; cat /etc/hosts"]);
    const prefix = Subnet.split(".").slice(0, 2).join(".");
    assert.match(out, new RegExp(`inet ${prefix.replace(/\./g, "\\.")}\\.\\d+\\.\\d+/${Subnet.split("/")[1]}`));
    assert.match(out, new RegExp(`^default via ${Gateway.replace(/\./g, "\\.")} dev eth0`, "m"));
    // The bridge is Pier's, never docker0; the NAT rule names it.
    const link = spawnSync("ip", ["-o", "link", "show", brName], { encoding: "utf8" });
    assert.equal(link.status, 0, `bridge ${brName} exists`);
    const nat = spawnSync("iptables-save", ["-t", "nat"], { encoding: "utf8" }).stdout;
    assert.match(nat, new RegExp(`-A PIER\\S*-POSTROUTING -s ${Subnet.replace(/[./]/g, "\\$&")} ! -o ${brName} -j MASQUERADE`));
    assert.equal(spawnSync("sysctl", ["-n", "net.ipv4.ip_forward"], { encoding: "utf8" }).stdout.trim(), "1");
    // Two containers on the default bridge reach each other by address (names do not resolve there).
    await web("b1", "b1-ok");
    const ip = await ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "b1"]);
    assert.match(ip, new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.`));
    assert.equal(await ok(["run", "--rm", "busybox", "wget", "-qO-", `http://${ip}/`]), "b1-ok");
    // (--dns 127.0.0.1: the lookup must not leave the machine.)
    const byName = await docker(["run", "--rm", "--dns", "127.0.0.1", "busybox", "wget", "-qO-", "http://b1/"]);
    assert.notEqual(byName.code, 0, "names do not resolve on the default bridge");
    // --add-host host-gateway is the bridge's gateway.
    const hosts = await ok(["run", "--rm", "--add-host", "gw:host-gateway", "busybox", "cat", "/etc/hosts"]);
    assert.match(hosts, new RegExp(`^${Gateway.replace(/\./g, "\\.")}\\s+gw$`, "m"));
    await ok(["rm", "-f", "b1"]);
  });

  it("publishes TCP and UDP ports on loopback, the host's address and to other containers", async (t) => {
    if (skipUnlessWired(t)) return;
    const echo = udpEcho();
    const me = hostAddress();
    // httpd and a UDP echo in one container.
    await ok(["run", "-d", "--name", "pub", "-p", "18481:80", "-p", "127.0.0.1:18482:80", "-p", "80", "-p", "18483:5353/udp", "-v", `${echo}:/udpecho:ro`, "--expose", "9999",
      "busybox", "sh", "-c", "mkdir -p /w && echo pub-ok > /w/index.html && httpd -p 80 -h /w && exec /udpecho 5353"]);
    const port = await ok(["port", "pub"]);
    assert.match(port, /^80\/tcp -> 0\.0\.0\.0:18481$/m);
    assert.match(port, /^80\/tcp -> 127\.0\.0\.1:18482$/m);
    assert.match(port, /^5353\/udp -> 0\.0\.0\.0:18483$/m);
    const random = Number(/^80\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(port.split("\n").filter((l) => !/:1848[12]$/.test(l)).join("\n"))?.[1]);
    assert.ok(random > 1024, `a random host port: ${port}`);
    const ports = JSON.parse(await ok(["inspect", "-f", "{{json .NetworkSettings.Ports}}", "pub"]));
    assert.deepEqual(ports["9999/tcp"], null, "exposed, not published");
    assert.deepEqual(ports["5353/udp"], [{ HostIp: "0.0.0.0", HostPort: "18483" }]);
    assert.match(await ok(["ps", "--format", "{{.Ports}}", "-f", "name=pub"]), /0\.0\.0\.0:18481->80\/tcp/);
    if (specAvailable()) {
      assertMatchesSpec("GET /containers/{id}/json", (await api(e, "GET", "/v1.45/containers/pub/json")).json);
      for (const c of (await api(e, "GET", "/v1.45/containers/json")).json as unknown[]) assertMatchesSpec("ContainerSummary", c);
    }
    let body = "";
    for (let i = 0; i < 20 && body === ""; i++) {
      body = await httpGet("http://127.0.0.1:18481/").catch(() => "");
      if (!body) await sleep(100);
    }
    assert.equal(body.trim(), "pub-ok", "loopback");
    assert.equal((await httpGet(`http://${me}:18481/`)).trim(), "pub-ok", "the host's own address");
    assert.equal((await httpGet("http://127.0.0.1:18482/")).trim(), "pub-ok", "bound to 127.0.0.1");
    await assert.rejects(httpGet(`http://${me}:18482/`), "a port bound to 127.0.0.1 is not on other addresses");
    assert.equal((await httpGet(`http://127.0.0.1:${random}/`)).trim(), "pub-ok", "random port");
    assert.equal(await udpAsk("127.0.0.1", 18483, "ping1"), "echo:ping1", "UDP on loopback");
    assert.equal(await udpAsk(me, 18483, "ping2"), "echo:ping2", "UDP on the host's address");
    // Hairpin: another container through the host's address.
    assert.equal(await ok(["run", "--rm", "busybox", "wget", "-qO-", `http://${me}:18481/`]), "pub-ok");
    // A taken host port is a clear error at start, and leaves nothing behind.
    const taken = await docker(["run", "-d", "--name", "taken", "-p", "18481:80", "busybox", "sleep", "30"]);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, /Bind for 0\.0\.0\.0:18481 failed: port is already allocated/);
    assert.equal(await ok(["inspect", "-f", "{{.State.Running}}", "taken"]), "false");
    await ok(["rm", "-f", "taken"]);
    // Stopping the container removes its rules: the port is free again.
    await ok(["rm", "-f", "pub"]);
    const nat = spawnSync("iptables-save", ["-t", "nat"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(nat, /--dport 1848[123] /);
    await ok(["run", "-d", "--name", "again", "-p", "18481:80", "busybox", "sleep", "30"]);
    await ok(["rm", "-f", "again"]);
    // -P publishes every exposed port on a random one.
    // (and ranges: the CLI sends one binding per port; a host range for one port takes a free one)
    await ok(["run", "-d", "--name", "all", "-P", "--expose", "7001", "--expose", "7002/udp", "-p", "18484-18486:7100-7102", "-p", "18487-18489:7200", "busybox", "sleep", "30"]);
    const allPorts = await ok(["port", "all"]);
    assert.match(allPorts, /^7001\/tcp -> 0\.0\.0\.0:\d+$/m);
    assert.match(allPorts, /^7002\/udp -> 0\.0\.0\.0:\d+$/m);
    for (const [c, h] of [[7100, 18484], [7101, 18485], [7102, 18486]]) assert.match(allPorts, new RegExp(`^${c}/tcp -> 0\\.0\\.0\\.0:${h}$`, "m"));
    assert.match(allPorts, /^7200\/tcp -> 0\.0\.0\.0:1848[789]$/m);
    await ok(["rm", "-f", "all"]);
  });

  it("resolves names, aliases and short IDs on a user network; disconnect cuts it off", async (t) => {
    if (skipUnlessWired(t)) return;
    const netID = await ok(["network", "create", "--subnet", "10.231.0.0/24", "--gateway", "10.231.0.254", "--ip-range", "10.231.0.128/25", "--label", "team=a", "--opt", `com.docker.network.bridge.name=pier-e2e${tag.slice(0, 4)}`, "--attachable", "appnet"]);
    assert.match(netID, /^[0-9a-f]{64}$/);
    const web1 = await web("app", "app-ok", ["--network", "appnet", "--network-alias", "api"]);
    // A static address, and DNS through Pier's server at the gateway.
    const out = await ok(["run", "--rm", "--network", "appnet", "--ip", "10.231.0.10", "busybox", "sh", "-c",
      `ip -o -4 addr show eth0; cat /etc/resolv.conf; wget -qO- http://app/; wget -qO- http://api/; wget -qO- http://${web1.slice(0, 12)}/; wget -qO- http://app.appnet/`]);
    assert.match(out, /inet 10\.231\.0\.10\/24/);
    assert.match(out, /^nameserver 10\.231\.0\.254$/m);
    assert.equal(out.split("\n").filter((l) => l === "app-ok").length, 4, out);
    const insp = JSON.parse(await ok(["network", "inspect", "appnet"]))[0];
    assert.deepEqual(insp.IPAM.Config, [{ Subnet: "10.231.0.0/24", IPRange: "10.231.0.128/25", Gateway: "10.231.0.254" }]);
    assert.equal(insp.Labels.team, "a");
    assert.equal(insp.Attachable, true);
    const ep = insp.Containers[web1];
    assert.equal(ep.Name, "app");
    assert.match(ep.IPv4Address, /^10\.231\.0\.(1[2-9]\d|2[0-4]\d|25[0-3])\/24$/, "from the ip-range");
    assert.equal(spawnSync("ip", ["link", "show", `pier-e2e${tag.slice(0, 4)}`]).status, 0, "the bridge has the name asked for");
    if (specAvailable()) {
      assertMatchesSpec("Network", (await api(e, "GET", "/v1.45/networks/appnet")).json);
      assertMatchesSpec("GET /containers/{id}/json", (await api(e, "GET", "/v1.45/containers/app/json")).json);
      const created = await api(e, "POST", "/v1.45/networks/create", { Name: "spec-net" });
      assert.equal(created.status, 201);
      assertMatchesSpec("POST /networks/create 201", created.json);
      assert.equal((await api(e, "DELETE", "/v1.45/networks/spec-net")).status, 204);
    }
    const cinsp = JSON.parse(await ok(["inspect", "app"]))[0].NetworkSettings.Networks.appnet;
    assert.deepEqual(cinsp.Aliases, ["api"]);
    assert.ok(cinsp.DNSNames.includes("app") && cinsp.DNSNames.includes(web1.slice(0, 12)));

    // A client on another user network: it reaches "app" by name only while connected to appnet
    // (Pier's DNS answers for every network of the asking container, as Docker's does).
    await ok(["network", "create", "side"]);
    await ok(["run", "-d", "--name", "client", "--network", "side", "busybox", "sh", "-c",
      // busybox-static wget -T segfaults; timeout(1) bounds a connect that would hang.
      "while true; do if timeout 2 wget -qO- http://api/ >/dev/null 2>&1; then echo up; else echo down; fi; sleep 0.2; done"]);
    const logsUntil = async (want: string) => {
      let l: string[] = [];
      for (let i = 0; i < 50; i++) {
        l = (await ok(["logs", "client"])).split("\n");
        if (l[l.length - 1] === want) return;
        await sleep(200);
      }
      assert.fail(`client never saw ${want}: ${l.slice(-5).join(" ")}`);
    };
    await logsUntil("down");
    await ok(["network", "connect", "--alias", "cl", "appnet", "client"]);
    await logsUntil("up");
    const cl = JSON.parse(await ok(["inspect", "client"]))[0].NetworkSettings.Networks;
    assert.deepEqual(Object.keys(cl).sort(), ["appnet", "side"]);
    assert.deepEqual(cl.appnet.Aliases, ["cl"]);
    await ok(["network", "disconnect", "appnet", "client"]);
    await logsUntil("down");
    assert.deepEqual(Object.keys(JSON.parse(await ok(["inspect", "client"]))[0].NetworkSettings.Networks), ["side"]);
    await ok(["rm", "-f", "client"]);
    await ok(["network", "rm", "side"]);

    // Removing a network in use is 409; the predefined ones are 403.
    const inUse = await api(e, "DELETE", "/v1.45/networks/appnet");
    assert.equal(inUse.status, 409);
    assert.match((inUse.json as { message: string }).message, /has active endpoints/);
    for (const n of ["bridge", "host", "none"]) {
      const r = await api(e, "DELETE", `/v1.45/networks/${n}`);
      assert.equal(r.status, 403, n);
      assert.match((r.json as { message: string }).message, /pre-defined network and cannot be removed/);
    }
    const dup = await docker(["network", "create", "appnet"]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /network with name appnet already exists/);
    const overlap = await api(e, "POST", "/v1.45/networks/create", { Name: "overlap", IPAM: { Config: [{ Subnet: "10.231.0.0/16" }] } });
    assert.equal(overlap.status, 403);
    await ok(["rm", "-f", "app"]);
    await ok(["network", "rm", "appnet"]);
    assert.notEqual(spawnSync("ip", ["link", "show", `pier-e2e${tag.slice(0, 4)}`]).status, 0, "the bridge is gone");
  });

  it("keeps networks apart, internal networks inside, and prunes unused ones", async (t) => {
    if (skipUnlessWired(t)) return;
    await ok(["network", "create", "neta"]);
    await ok(["network", "create", "netb"]);
    await ok(["network", "create", "--internal", "--label", "keep=no", "neti"]);
    const sa = JSON.parse(await ok(["network", "inspect", "neta"]))[0].IPAM.Config[0].Subnet as string;
    const sb = JSON.parse(await ok(["network", "inspect", "netb"]))[0].IPAM.Config[0].Subnet as string;
    assert.notEqual(sa, sb, "automatic subnets differ");
    await web("wa", "wa-ok", ["--network", "neta"]);
    const ipA = await ok(["inspect", "-f", "{{.NetworkSettings.Networks.neta.IPAddress}}", "wa"]);
    // From another network: neither the name nor the address is reachable.
    const fromB = await docker(["run", "--rm", "--network", "netb", "busybox", "sh", "-c", `timeout 2 wget -qO- http://${ipA}/ || echo blocked`]);
    assert.equal(fromB.stdout.trim(), "blocked");
    const fromBridge = await docker(["run", "--rm", "busybox", "sh", "-c", `timeout 2 wget -qO- http://${ipA}/ || echo blocked`]);
    assert.equal(fromBridge.stdout.trim(), "blocked");
    // Internal: no default route out; same-network traffic still flows.
    const internal = await ok(["run", "--rm", "--network", "neti", "busybox", "ip", "route"]);
    assert.doesNotMatch(internal, /^default/m);
    await ok(["rm", "-f", "wa"]);
    // prune with a label filter, then without.
    const p1 = await ok(["network", "prune", "-f", "--filter", "label=keep=no"]);
    assert.match(p1, /neti/);
    assert.doesNotMatch(p1, /neta/);
    const p2 = await ok(["network", "prune", "-f"]);
    assert.match(p2, /neta/);
    assert.match(p2, /netb/);
    const names = (await ok(["network", "ls", "--format", "{{.Name}}"])).split("\n").sort();
    assert.deepEqual(names, ["bridge", "host", "none"]);
  });

  it("creates a container on a network that does not exist yet; its start needs the network", async (t) => {
    if (skipUnlessWired(t)) return;
    // dockerd looks the network up at start: a 404 at create would send the CLI pulling the image.
    const early = await docker(["run", "--name", "early", "--network", "latenet", "busybox", "echo", "hi"]);
    assert.equal(early.code, 125, early.stderr);
    assert.match(early.stderr, /network latenet not found/);
    assert.doesNotMatch(early.stderr, /Unable to find image|Error waiting for container/);
    assert.equal(await ok(["inspect", "-f", "{{.State.Status}}", "early"]), "created");
    await ok(["network", "create", "latenet"]);
    assert.equal(await ok(["start", "-a", "early"]), "hi");
    await ok(["rm", "early"]);
    await ok(["network", "rm", "latenet"]);
  });

  it("shares a network namespace with --network container:", async (t) => {
    if (skipUnlessWired(t)) return;
    await web("owner", "owner-ok");
    const out = await ok(["run", "--rm", "--network", "container:owner", "busybox", "wget", "-qO-", "http://127.0.0.1/"]);
    assert.equal(out, "owner-ok");
    await ok(["rm", "-f", "owner"]);
  });

  it("never gives one address twice under 50 concurrent starts", async (t) => {
    if (skipUnlessWired(t)) return;
    await ok(["network", "create", "--subnet", "10.232.0.0/26", "many"]);
    const ids = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const c = await api(e, "POST", `/v1.45/containers/create?name=many${i}`, { Image: "busybox", Cmd: ["sleep", "60"], HostConfig: { NetworkMode: i % 2 ? "many" : "bridge" } });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      return (c.json as { Id: string }).Id;
    }));
    const starts = await Promise.all(ids.map((id) => api(e, "POST", `/v1.45/containers/${id}/start`)));
    for (const s of starts) assert.equal(s.status, 204, JSON.stringify(s.json));
    const addrs: string[] = [];
    for (const id of ids) {
      const c = (await api(e, "GET", `/v1.45/containers/${id}/json`)).json as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
      for (const n of Object.values(c.NetworkSettings.Networks)) addrs.push(n.IPAddress);
    }
    assert.equal(addrs.length, 50);
    assert.equal(new Set(addrs).size, 50, `duplicates in ${addrs.join(" ")}`);
    assert.ok(addrs.every((a) => a !== ""));
    const insp = JSON.parse(await ok(["network", "inspect", "many"]))[0];
    assert.equal(Object.keys(insp.Containers).length, 25);
    const rm = await docker(["rm", "-f", ...ids]);
    assert.equal(rm.code, 0, rm.stderr);
    await ok(["network", "rm", "many"]);
  });
});
