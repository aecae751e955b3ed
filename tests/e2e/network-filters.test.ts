// `docker ps` filters on networking, through the real docker CLI: network= (name or ID prefix),
// publish= (host ports) and expose= (container ports), with protocols and ranges, as dockerd
// 20.10 answers them (checked with PIER_TEST_DOCKER_HOST): both match the live ports of running
// containers, so a created or stopped container matches neither.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEngine, type Engine, dockerOk } from "../harness.js";

describe("ps network filters", () => {
  let e: Engine;
  const ok = (args: string[]) => dockerOk(e, args);
  const names = async (filter: string) => (await ok(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])).split("\n").filter(Boolean).sort().join(" ");

  before(async () => {
    e = await startEngine();
    await ok(["network", "create", "fnet"]);
    await ok(["run", "-d", "--name", "ca", "-p", "18931:80", "--expose", "90", "busybox", "sleep", "600"]);
    await ok(["run", "-d", "--name", "cb", "-p", "18941-18942:7000-7001/udp", "busybox", "sleep", "600"]);
    await ok(["create", "--name", "cc", "-p", "18951:80", "--expose", "91", "busybox", "sleep", "600"]);
    await ok(["run", "-d", "--name", "ce", "--network", "fnet", "busybox", "sleep", "600"]);
    await ok(["create", "--name", "cf", "--network", "fnet", "busybox", "true"]);
    await ok(["run", "-d", "--name", "cg", "busybox", "sleep", "600"]);
    await ok(["stop", "-t", "0", "cg"]);
    await ok(["network", "connect", "fnet", "cg"]);
  });
  after(async () => {
    await e?.stop();
  });

  it("matches publish= against host ports with protocol and ranges", async () => {
    assert.equal(await names("publish=18931"), "ca");
    assert.equal(await names("publish=18931/tcp"), "ca");
    assert.equal(await names("publish=80"), "", "the container port is not a published port");
    assert.equal(await names("publish=18951"), "", "a created container publishes nothing yet");
    assert.equal(await names("publish=18941/udp"), "cb");
    assert.equal(await names("publish=18941"), "", "tcp unless said otherwise");
    assert.equal(await names("publish=18940-18941/udp"), "cb");
    // An exposed port without a host port counts as host port 0.
    assert.equal(await names("publish=0"), "ca");
  });

  it("matches expose= against container ports of running containers", async () => {
    assert.equal(await names("expose=80"), "ca");
    assert.equal(await names("expose=90"), "ca");
    assert.equal(await names("expose=89-90"), "ca");
    assert.equal(await names("expose=91"), "");
    assert.equal(await names("expose=7001/udp"), "cb");
    assert.equal(await names("expose=7001"), "");
  });

  it("matches network= by name for every container and by ID prefix", async () => {
    assert.equal(await names("network=fnet"), "ce cf cg");
    assert.equal(await names("network=bridge"), "ca cb cc cg");
    assert.equal(await names("network=fn"), "", "a name matches whole");
    const id = await ok(["network", "inspect", "-f", "{{.Id}}", "fnet"]);
    assert.match(await names(`network=${id.slice(0, 6)}`), /\bce\b/);
    assert.equal(await names("network=none"), "");
  });

  it("refuses bad port filters with Docker's messages", async () => {
    const colon = await e.docker(["ps", "--filter", "publish=127.0.0.1:80"]);
    assert.notEqual(colon.code, 0);
    assert.match(colon.stderr, /filter for 'publish' should not contain ':': 127\.0\.0\.1:80/);
    const range = await e.docker(["ps", "--filter", "expose=9-1"]);
    assert.notEqual(range.code, 0);
    assert.match(range.stderr, /error while looking up for expose 9-1: Invalid range specified for the Port: 9-1/);
    const word = await e.docker(["ps", "--filter", "publish=x"]);
    assert.notEqual(word.code, 0);
    assert.match(word.stderr, /error while looking up for publish x/);
  });
});
