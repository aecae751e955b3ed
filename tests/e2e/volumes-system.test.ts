// Volumes, networks and the system endpoints through the real docker CLI.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { startEngine, type Engine } from "../harness.js";

describe("volumes, networks and system", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("creates, lists, inspects and removes volumes, and refuses one in use", async () => {
    assert.equal((await e.docker(["volume", "create", "--label", "team=a", "vol1"])).stdout.trim(), "vol1");
    const ls = await e.docker(["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]);
    assert.match(ls.stdout, /^local vol1$/m);
    const filtered = await e.docker(["volume", "ls", "-q", "--filter", "label=team=a"]);
    assert.equal(filtered.stdout.trim(), "vol1");
    const insp = JSON.parse((await e.docker(["volume", "inspect", "vol1"])).stdout)[0];
    assert.equal(insp.Name, "vol1");
    assert.equal(insp.Driver, "local");
    assert.deepEqual(insp.Labels, { team: "a" });
    assert.ok(statSync(insp.Mountpoint).isDirectory());

    const write = await e.docker(["run", "--name", "writer", "-v", "vol1:/data", "busybox", "sh", "-c", "echo kept > /data/f"]);
    assert.equal(write.code, 0, write.stderr);
    const read = await e.docker(["run", "--rm", "-v", "vol1:/data", "busybox", "cat", "/data/f"]);
    assert.equal(read.stdout, "kept\n");
    const inUse = await e.docker(["volume", "rm", "vol1"]);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /volume is in use/);
    await e.docker(["rm", "writer"]);
    assert.equal((await e.docker(["volume", "rm", "vol1"])).code, 0);
    const gone = await e.docker(["volume", "inspect", "vol1"]);
    assert.match(gone.stderr, /no such volume/);
  });

  it("refuses invalid volume names", async () => {
    const bad = await e.docker(["volume", "create", "a/b"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /includes invalid characters for a local volume name/);
    const driver = await e.docker(["volume", "create", "--driver", "bogus", "withdriver"]);
    assert.equal(driver.code, 1);
    assert.match(driver.stderr, /create withdriver: error looking up volume plugin bogus: plugin "bogus" not found/);
  });

  it("prunes unused anonymous volumes", async () => {
    const run = await e.docker(["create", "-v", "/anon", "busybox", "true"]);
    const id = run.stdout.trim();
    const vol = (await e.docker(["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", id])).stdout.trim();
    assert.match(vol, /^[0-9a-f]{64}$/);
    await e.docker(["rm", id]);
    const prune = await e.docker(["volume", "prune", "-f"]);
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, new RegExp(vol));
    assert.equal((await e.docker(["volume", "ls", "-q"])).stdout.includes(vol), false);
  });

  it("lists the predefined networks and protects them", async () => {
    const ls = await e.docker(["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    for (const line of ["bridge bridge", "host host", "none null"]) assert.match(ls.stdout, new RegExp(`^${line}$`, "m"));
    const insp = JSON.parse((await e.docker(["network", "inspect", "bridge"])).stdout)[0];
    assert.equal(insp.Name, "bridge");
    assert.equal(insp.Driver, "bridge");
    const rm = await e.docker(["network", "rm", "bridge"]);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /bridge is a pre-defined network and cannot be removed/);
  });

  it("reports real figures in info and df", async () => {
    await e.docker(["run", "-d", "--name", "info-running", "busybox", "sleep", "60"]);
    await e.docker(["create", "--name", "info-created", "busybox", "true"]);
    const info = JSON.parse((await e.docker(["info", "--format", "{{json .}}"])).stdout);
    assert.equal(info.Containers, 2);
    assert.equal(info.ContainersRunning, 1);
    assert.equal(info.ContainersStopped, 1);
    assert.ok(info.Images >= 1);
    assert.equal(info.Driver, "overlay2");
    assert.ok(info.NCPU >= 1);
    assert.ok(info.MemTotal > 0);
    assert.match(info.CgroupVersion, /^[12]$/);
    assert.ok(info.KernelVersion.length > 0);
    const df = await e.docker(["system", "df"]);
    assert.equal(df.code, 0, df.stderr);
    assert.match(df.stdout, /^Images\s+\d+\s+\d+/m);
    assert.match(df.stdout, /^Containers\s+2\s+1/m);
    await e.docker(["rm", "-f", "info-running", "info-created"]);
  });

  it("streams events with since, until and filters", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await e.docker(["run", "--rm", "--label", "evt=yes", "busybox", "true"]);
    assert.equal(r.code, 0);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await e.docker(["events", "--since", String(since), "--until", String(until), "--filter", "type=container", "--filter", "label=evt=yes", "--format", "{{.Action}} {{.Actor.Attributes.image}}"]);
    assert.equal(ev.code, 0, ev.stderr);
    const actions = ev.stdout.trim().split("\n").map((l) => l.split(" ")[0]);
    for (const a of ["create", "start", "die", "destroy"]) assert.ok(actions.includes(a), `${a} in ${actions.join(",")}`);
    assert.match(ev.stdout, /^die busybox$/m);
    const json = await e.docker(["events", "--since", String(since), "--until", String(until), "--filter", "event=die", "--filter", "label=evt=yes", "--format", "{{json .}}"]);
    const die = JSON.parse(json.stdout.trim().split("\n")[0]!);
    assert.equal(die.Type, "container");
    assert.equal(die.Action, "die");
    assert.equal(die.Actor.Attributes.exitCode, "0");
    assert.equal(die.Actor.Attributes.evt, "yes");
    assert.ok(die.timeNano > 0);
  });

  it("prunes the system", async () => {
    await e.docker(["create", "--name", "to-prune", "busybox", "true"]);
    const r = await e.docker(["system", "prune", "-f"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Total reclaimed space/);
    assert.equal((await e.docker(["ps", "-aq"])).stdout.trim(), "");
  });
});
