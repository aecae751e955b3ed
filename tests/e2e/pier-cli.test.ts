// The same everyday scenarios through `pier` instead of the docker CLI.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

describe("pier CLI", () => {
  let e: Engine;
  let tmp: string;
  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-cli-test-");
  });
  after(async () => {
    await e?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("runs in the foreground with docker's exit codes", async () => {
    const r = await e.pier(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    assert.equal(r.code, 5);
    const missing = await e.pier(["run", "--rm", "busybox", "nope-cmd"]);
    assert.equal(missing.code, 127);
    const noImage = await e.pier(["run", "--rm", "--pull", "never", "missing:1"]);
    assert.equal(noImage.code, 125);
    assert.match(noImage.stderr, /No such image: missing:1/);
  });

  it("manages a detached container: ps, logs, inspect, stop, rm", async () => {
    const id = (await e.pier(["run", "-d", "--name", "cli-web", "-l", "tier=front", "busybox", "sh", "-c", "echo ready; sleep 300"])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await e.pier(["ps"]);
    assert.match(ps.stdout.split("\n")[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c 'echo ready; …"\\s+.*Up .*cli-web$`, "m"));
    const q = await e.pier(["ps", "-q", "--filter", "label=tier=front"]);
    assert.equal(q.stdout.trim(), id.slice(0, 12));
    let logs = "";
    for (let i = 0; i < 50 && logs === ""; i++) {
      logs = (await e.pier(["logs", "cli-web"])).stdout;
      if (logs === "") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, "ready\n");
    const fmt = await e.pier(["inspect", "-f", "{{.Name}} {{.State.Running}} {{index .Config.Labels \"tier\"}}", "cli-web"]);
    assert.equal(fmt.stdout, "/cli-web true front\n");
    assert.equal((await e.pier(["stop", "-t", "0", "cli-web"])).stdout.trim(), "cli-web");
    assert.equal((await e.pier(["rm", "cli-web"])).stdout.trim(), "cli-web");
    const gone = await e.pier(["inspect", "cli-web"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: cli-web/);
  });

  it("lists images, saves and loads them", async () => {
    const images = await e.pier(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert.match(images.stdout, /^busybox:latest$/m);
    const file = path.join(tmp, "bb.tar");
    assert.equal((await e.pier(["save", "-o", file, "busybox"])).code, 0);
    assert.equal((await e.pier(["tag", "busybox", "copy:1"])).code, 0);
    assert.match((await e.pier(["rmi", "copy:1"])).stdout, /Untagged: copy:1/);
    const load = await e.pier(["load", "-i", file]);
    assert.match(load.stdout, /Loaded image: busybox:latest/);
  });

  it("manages volumes and shows networks, info and version", async () => {
    assert.equal((await e.pier(["volume", "create", "cli-vol"])).stdout.trim(), "cli-vol");
    assert.match((await e.pier(["volume", "ls"])).stdout, /^local\s+cli-vol$/m);
    assert.equal((await e.pier(["volume", "rm", "cli-vol"])).stdout.trim(), "cli-vol");
    const nets = await e.pier(["network", "ls", "--format", "{{.Name}}"]);
    assert.deepEqual(nets.stdout.trim().split("\n").sort(), ["bridge", "host", "none"]);
    const info = await e.pier(["info", "--format", "{{.Driver}} {{.OSType}}"]);
    assert.equal(info.stdout.trim(), "overlay2 linux");
    const version = await e.pier(["version", "--format", "{{.Server.APIVersion}}"]);
    assert.equal(version.stdout.trim(), "1.45");
  });

  it("reports unknown commands and flags as docker does", async () => {
    const r = await e.pier(["run", "--no-such-flag", "busybox"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /unknown flag: --no-such-flag/);
  });
});
