// Container removal: what `docker run --rm` and `docker rm` leave on the host (nothing, once the
// removal is finished), and a removal cut short by a crash, finished at the next start.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still not true after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function entries(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch(() => []);
}

describe("container removal", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e.stop();
  });

  it("run --rm leaves no container, mount, runc state or directory behind", { skip: !!process.env.PIER_TEST_DOCKER_HOST }, async () => {
    for (let i = 0; i < 3; i++) {
      const r = await e.docker(["run", "--rm", "busybox", "sh", "-c", "echo hi > /f"]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await e.docker(["ps", "-aq"])).stdout.trim(), "");
    const data = e.dataRoot!;
    const exec = e.execRoot!;
    await eventually("host objects of removed containers are gone", async () => {
      const mounts = (await fsp.readFile("/proc/self/mountinfo", "utf8")).split("\n").filter((l) => l.includes(path.join(data, "overlay2", "containers")));
      const left = [
        ...(await entries(path.join(data, "overlay2", "containers"))),
        ...(await entries(path.join(exec, "containers"))),
        ...(await entries(path.join(exec, "runc"))),
        ...(await entries(path.join(exec, "exits"))),
        ...(await entries(path.join(data, "containers"))).filter((n) => n !== "_meta"),
        ...(await entries(path.join(data, "containers", "_meta"))),
      ];
      return mounts.length === 0 && left.length === 0;
    });
  });

  it("a name is free again as soon as run --rm returns", async () => {
    const a = await e.docker(["run", "--rm", "--name", "again", "busybox", "true"]);
    assert.equal(a.code, 0, a.stderr);
    const b = await e.docker(["run", "--rm", "--name", "again", "busybox", "echo", "second"]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout.trim(), "second");
  });

  it("finishes a removal that a crash interrupted, and frees the name", { skip: !!process.env.PIER_TEST_DOCKER_HOST }, async () => {
    const id = (await e.docker(["create", "--name", "half-gone", "busybox", "true"])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    // What a crash between "removing" and the end of the removal leaves: the durable record
    // says "removing" and the container's directories are still there.
    // (pierd reads records only at start, so the record is edited under the running one.)
    const record = path.join(e.dataRoot!, "containers", "_meta", `${id}.json`);
    const rec = JSON.parse(await fsp.readFile(record, "utf8"));
    rec.State.Status = "removing";
    await fsp.writeFile(record, JSON.stringify(rec));
    await e.restart!("SIGKILL");
    const ps = await e.docker(["ps", "-a", "--format", "{{.Names}}"]);
    assert.ok(!ps.stdout.split("\n").includes("half-gone"), ps.stdout);
    const again = await e.docker(["create", "--name", "half-gone", "busybox", "true"]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(!existsSync(record), "the interrupted container's record is gone");
    assert.ok(!existsSync(path.join(e.dataRoot!, "containers", id)), "its directory is gone");
  });
});
