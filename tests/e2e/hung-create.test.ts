// A create that never returns (the runtime stopped here with SIGSTOP, as a mount source that
// blocks or a frozen process would leave it) must not wedge pierd: `docker ps` and other
// containers go on, `docker rm -f` of the stuck one ends it and cleans up, and a deadline
// (--create-timeout) ends the start by itself.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEngine, dockerOk, type Engine } from "../harness.js";

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/**
 * The runtime of the pierd under test: runc behind a wrapper that stops itself (SIGSTOP, as a
 * blocked mount source or a frozen process would leave it) on the next `create` once armed.
 * Deterministic: catching a real create in /proc by polling missed the fast ones.
 */
function stoppingRuntime(dir: string): { path: string; arm: () => void } {
  const flag = path.join(dir, "stop-next-create");
  const wrapper = path.join(dir, "runtime.sh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" create "*) if mv "${flag}" "${flag}.taken" 2>/dev/null; then kill -STOP $$; fi;; esac\nexec runc "$@"\n`,
    { mode: 0o755 },
  );
  return { path: wrapper, arm: () => writeFileSync(flag, "") };
}

/** The stopped runtime's pid, once the armed create has reached it. */
async function stoppedCreate(e: Engine): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      const cmd = cmdline(pid);
      if (!cmd.includes(" create ") || !cmd.includes(`--bundle ${e.execRoot}/containers/`)) continue;
      if (/^State:\s+T/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) return Number(pid);
    }
    await sleep(5);
  }
  throw new Error("no stopped runtime create was seen");
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
  let work = "";
  let runtime: { path: string; arm: () => void };
  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pier-hung-"));
    runtime = stoppingRuntime(work);
    // runc alone (through the wrapper): Pier's own runtime is not a program a test can swap.
    e = await startEngine({ daemonArgs: ["--create-timeout", "8s", "--runtime", runtime.path], daemonEnv: { PIER_RUNTIME: "runc" } });
  });
  after(async () => {
    await e?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("leaves pierd answering, and docker rm -f ends it and cleans up", async () => {
    runtime.arm();
    const run = e.docker(["run", "-d", "--name", "hung-rm", "busybox", "sleep", "300"]);
    const stopped = await stoppedCreate(e);
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
      while ((alive(stopped) || cgroupsOf(id).length) && Date.now() < deadline) await sleep(100);
      assert.equal(alive(stopped), false, "the stopped runtime was killed");
      assert.deepEqual(cgroupsOf(id), [], "no cgroup left");
      // The name is free and a container of it runs.
      await dockerOk(e, ["run", "-d", "--name", "hung-rm", "busybox", "sleep", "300"]);
      await dockerOk(e, ["rm", "-f", "hung-rm"]);
    } finally {
      try {
        process.kill(stopped, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  it("ends at the create deadline with an error, and the container starts later", async () => {
    runtime.arm();
    const run = e.docker(["run", "-d", "--name", "hung-deadline", "busybox", "sleep", "300"]);
    const stopped = await stoppedCreate(e);
    try {
      const r = await run;
      assert.equal(r.code, 125);
      assert.match(r.stderr, /did not create the container within 8 s/);
      assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Status}}", "hung-deadline"]), "created");
      const deadline = Date.now() + 30_000;
      while (alive(stopped) && Date.now() < deadline) await sleep(100);
      assert.equal(alive(stopped), false, "the stopped runtime was killed");
      await dockerOk(e, ["start", "hung-deadline"]);
      assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Running}}", "hung-deadline"]), "true");
      await dockerOk(e, ["rm", "-f", "hung-deadline"]);
    } finally {
      try {
        process.kill(stopped, "SIGKILL");
      } catch {
        // gone
      }
    }
  });
});
