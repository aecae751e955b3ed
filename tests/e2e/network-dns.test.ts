// resolv.conf as Docker writes it, through the real docker CLI: the host's servers on the default
// bridge (--dns, --dns-search, --dns-option in their place), one embedded server with ndots:0 on
// user networks, rewritten when a running container is connected to a user network and again
// when it leaves; and a user network's names are never told to containers outside it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startEngine, type Engine, dockerOk } from "../harness.js";

/** What Docker makes of the host's resolv.conf for the default bridge. */
function expectedBridgeServers(): string[] {
  const text = readFileSync("/etc/resolv.conf", "utf8");
  const servers = [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!).filter((s) => !s.startsWith("127.") && !s.includes(":"));
  return servers.length ? servers : ["8.8.8.8", "8.8.4.4"];
}

const servers = (resolv: string) => [...resolv.matchAll(/^nameserver\s+(\S+)$/gm)].map((m) => m[1]!);

describe("container DNS configuration", () => {
  let e: Engine;
  const ok = (args: string[]) => dockerOk(e, args);

  before(async () => {
    e = await startEngine();
    await ok(["network", "create", "dnsnet"]);
    await ok(["run", "-d", "--name", "peer", "--network", "dnsnet", "busybox", "sleep", "600"]);
  });
  after(async () => {
    await e?.stop();
  });

  it("gives the default bridge the host's servers, or the ones asked for", async () => {
    assert.deepEqual(servers(await ok(["run", "--rm", "busybox", "cat", "/etc/resolv.conf"])), expectedBridgeServers());
    const own = await ok(["run", "--rm", "--dns", "192.0.2.53", "--dns-search", "foo.example", "--dns-option", "attempts:2", "busybox", "cat", "/etc/resolv.conf"]);
    assert.equal(own, "search foo.example\nnameserver 192.0.2.53\noptions attempts:2");
  });

  it("gives user networks one embedded server with ndots:0 after the user's options", async () => {
    const plain = await ok(["run", "--rm", "--network", "dnsnet", "busybox", "cat", "/etc/resolv.conf"]);
    assert.equal(servers(plain).length, 1);
    assert.match(plain, /^options ndots:0$/m);
    const opts = await ok(["run", "--rm", "--network", "dnsnet", "--dns", "192.0.2.53", "--dns-search", "foo.example", "--dns-option", "attempts:2", "busybox", "cat", "/etc/resolv.conf"]);
    assert.deepEqual(servers(opts), servers(plain), "--dns becomes the embedded server's upstream, not a nameserver line");
    assert.match(opts, /^search foo\.example$/m);
    assert.match(opts, /^options attempts:2 ndots:0$/m);
    assert.match(await ok(["run", "--rm", "--network", "dnsnet", "--dns-option", "ndots:3", "busybox", "cat", "/etc/resolv.conf"]), /^options ndots:3$/m);
  });

  it("rewrites resolv.conf when a running container joins and leaves a user network", async () => {
    await ok(["run", "-d", "--name", "mover", "busybox", "sleep", "600"]);
    assert.deepEqual(servers(await ok(["exec", "mover", "cat", "/etc/resolv.conf"])), expectedBridgeServers());
    const lookup = () => e.docker(["exec", "mover", "nslookup", "peer"]);
    assert.notEqual((await lookup()).code, 0, "names of a network it is not on do not resolve");
    await ok(["network", "connect", "dnsnet", "mover"]);
    const joined = await ok(["exec", "mover", "cat", "/etc/resolv.conf"]);
    assert.equal(servers(joined).length, 1);
    assert.match(joined, /^options ndots:0$/m);
    const peerIP = await ok(["inspect", "-f", "{{.NetworkSettings.Networks.dnsnet.IPAddress}}", "peer"]);
    const found = await lookup();
    assert.equal(found.code, 0, found.stderr);
    assert.match(found.stdout, new RegExp(`Address:\\s+${peerIP.replace(/\./g, "\\.")}`));
    await ok(["network", "disconnect", "dnsnet", "mover"]);
    assert.notEqual((await lookup()).code, 0, "after disconnect the peer is unknown again");
    await ok(["rm", "-f", "mover"]);
  });

  it("tells a user network's names only to its own containers", async () => {
    const gw = await ok(["network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "dnsnet"]);
    // From the default bridge, straight at the user network's gateway.
    const r = await e.docker(["run", "--rm", "busybox", "nslookup", "peer", gw]);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /Name:\s+peer/);
  });
});
