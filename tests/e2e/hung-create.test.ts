// A create that never returns (the runtime stopped here with SIGSTOP, as a mount source that
// blocks or a frozen process would leave it) must not wedge pierd: `docker ps` and other
// containers go on, `docker rm -f` of the stuck one ends it and cleans up, and a deadline
// (--create-timeout) ends the start by itself.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { startEngine, dockerOk, type Engine } from "../harness.js";

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** SIGSTOP the runtime's first `create` under this engine's exec root; its pid. */
async function stopNextCreate(e: Engine): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      const cmd = cmdline(pid);
      if (!cmd.includes(" create ") || !cmd.includes(`--bundle ${e.execRoot}/containers/`)) continue;
      process.kill(Number(pid), "SIGSTOP");
      return Number(pid);
    }
    await sleep(5);
  }
  throw new Error("no runtime create was seen");
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

/** The container's cgroup directories that are left in any hierarchy. */
function cgroupsOf(id: string): string[] {
  return readdirSync("/sys/fs/cgroup")
    .map((h) => `/sys/fs/cgroup/${h}/pier/${id}`)
    .concat(`/sys/fs/cgroup/pier/${id}`)
    .filter((d) => existsSync(d));
}

describe("a create that hangs", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "stops the runtime of the pierd it started" }, () => {
  let e: Engine;
  before(async () => {
    e = await startEngine({ daemonArgs: ["--create-timeout", "8s"] });
  });
  after(async () => {
    await e?.stop();
  });

  it("leaves pierd answering, and docker rm -f ends it and cleans up", async () => {
    const run = e.docker(["run", "-d", "--name", "hung-rm", "busybox", "sleep", "300"]);
    const runtime = await stopNextCreate(e);
    try {
      const id = await dockerOk(e, ["inspect", "-f", "{{.Id}}", "hung-rm"]);
      // Meanwhile: listing, inspecting and other containers are served.
      assert.match(await dockerOk(e, ["ps", "-a", "--filter", "name=hung-rm", "--format", "{{.Names}} {{.Status}}"]), /^hung-rm Created$/);
      assert.equal(await dockerOk(e, ["run", "--rm", "busybox", "echo", "still served"]), "still served");
      await dockerOk(e, ["rm", "-f", "hung-rm"]);
      const r = await run;
      assert.equal(r.code, 125, "the stuck run fails");
      assert.match(r.stderr, /was removed while it was being created/);
      assert.equal(await dockerOk(e, ["ps", "-aq", "--filter", "name=hung-rm"]), "");
      const deadline = Date.now() + 30_000;
      while ((alive(runtime) || cgroupsOf(id).length) && Date.now() < deadline) await sleep(100);
      assert.equal(alive(runtime), false, "the stopped runtime was killed");
      assert.deepEqual(cgroupsOf(id), [], "no cgroup left");
      // The name is free and a container of it runs.
      await dockerOk(e, ["run", "-d", "--name", "hung-rm", "busybox", "sleep", "300"]);
      await dockerOk(e, ["rm", "-f", "hung-rm"]);
    } finally {
      try {
        process.kill(runtime, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  it("ends at the create deadline with an error, and the container starts later", async () => {
    const run = e.docker(["run", "-d", "--name", "hung-deadline", "busybox", "sleep", "300"]);
    const runtime = await stopNextCreate(e);
    try {
      const r = await run;
      assert.equal(r.code, 125);
      assert.match(r.stderr, /did not create the container within 8 s/);
      assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Status}}", "hung-deadline"]), "created");
      const deadline = Date.now() + 30_000;
      while (alive(runtime) && Date.now() < deadline) await sleep(100);
      assert.equal(alive(runtime), false, "the stopped runtime was killed");
      await dockerOk(e, ["start", "hung-deadline"]);
      assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Running}}", "hung-deadline"]), "true");
      await dockerOk(e, ["rm", "-f", "hung-deadline"]);
    } finally {
      try {
        process.kill(runtime, "SIGKILL");
      } catch {
        // gone
      }
    }
  });
});
