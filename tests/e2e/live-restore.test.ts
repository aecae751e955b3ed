// Live restore, in the style of moby's TestDaemonRestartKillContainers: {no policy, always,
// unless-stopped, on-failure} × {pierd kill -9, graceful stop} × {container still running,
// container exited while pierd was down}. After pierd is back, each container's state, real
// exit code and finish time, RestartCount and logs are what Docker shows; `logs -f`, `wait`,
// `stop` and `exec` work on restored containers; restart policies and --rm act at daemon start
// as moby's restore() does (a user stop of an unless-stopped container survives the restart,
// an always container comes back, a --rm container that ended meanwhile is removed).
// Containers are driven through files in a bind-mounted directory, so each knows when pierd
// is down; containers run in parallel to keep the file quick.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import { DOCKER, startEngine, type Engine, type RunResult } from "../harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLICIES = ["no", "always", "unless-stopped", "on-failure"] as const;
/** A distinct exit code per policy, so no exit is taken for another's. */
const EXIT_CODE: Record<(typeof POLICIES)[number], number> = { no: 3, always: 4, "unless-stopped": 5, "on-failure": 6 };

/**
 * Runs until stopped: prints "up", then "while-down" once the test says pierd is down, then
 * "followed" when asked (for `logs -f` after the restart); a stop (SIGTERM) ends it with 7.
 */
const RUNNING = `trap 'echo term; exit 7' TERM
echo up
while [ ! -f /ctl/down ]; do sleep 0.05; done
echo while-down
touch /ctl/ack
while [ ! -f /ctl/follow ]; do sleep 0.05; done
echo followed
while :; do sleep 0.05; done`;

/** Ends while pierd is down with the given code; a second run (a restart) stays up. */
const ENDING = (code: number) => `if [ -f /ctl/ran ]; then echo again; while :; do sleep 0.1; done; fi
touch /ctl/ran
echo up
while [ ! -f /ctl/down ]; do sleep 0.05; done
echo while-down
exit ${code}`;

describe("live restore", () => {
  let e: Engine;
  let tmp: string;
  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-live-restore-");
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  const ok = async (args: string[]): Promise<RunResult> => {
    const r = await e.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const inspect = async (ref: string): Promise<any> => JSON.parse((await ok(["inspect", "--type", "container", ref])).stdout)[0];
  const until = async (what: string, fn: () => Promise<boolean>, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const ctl = (name: string) => path.join(tmp, name);
  /** `docker run -d` with the container's control directory at /ctl. */
  const runCtl = async (name: string, opts: string[], script: string): Promise<string> => {
    await fsp.mkdir(ctl(name), { recursive: true });
    return (await ok(["run", "-d", "--name", name, "-v", `${ctl(name)}:/ctl`, ...opts, "busybox", "sh", "-c", script])).stdout.trim();
  };
  const logs = async (name: string) => (await ok(["logs", name])).stdout;
  const untilLogs = (name: string, want: string) => until(`${name} to print ${JSON.stringify(want)}`, async () => (await logs(name)) === want);
  const exitFile = (id: string) => path.join(e.execRoot!, "exits", id);
  /** The exit codes of `die` events of one container, through `docker events` with a window. */
  const dieCodes = async (name: string, sinceSec: number): Promise<string[]> => {
    const r = await ok(["events", "--since", sinceSec.toFixed(3), "--until", (Date.now() / 1000).toFixed(3), "--filter", `container=${name}`, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}"]);
    return r.stdout.split("\n").filter(Boolean);
  };

  /** `docker logs -f` in the background; resolves with its output once it ends. */
  const follow = (name: string) => {
    const child = spawn(DOCKER, ["logs", "-f", name], { env: { ...process.env, DOCKER_HOST: e.host }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const done = new Promise<string>((resolve) => child.on("close", () => resolve(out)));
    return { output: () => out, done };
  };

  for (const signal of ["SIGKILL", "SIGTERM"] as const) {
    it(`restores every policy's containers after ${signal === "SIGKILL" ? "kill -9 of pierd" : "a graceful stop of pierd"}`, async (t) => {
      if (!e.restart) return t.skip("only for a pierd the harness started");
      const tag = signal === "SIGKILL" ? "k9" : "term";
      const started = Date.now() / 1000;
      const policyArgs = (p: string) => (p === "no" ? [] : ["--restart", p]);
      const running = new Map<string, { id: string; pid: number }>();
      const ending = new Map<string, { id: string; policy: (typeof POLICIES)[number] }>();
      await Promise.all(POLICIES.flatMap((p) => [
        (async () => {
          const name = `${tag}-${p}-running`;
          const id = await runCtl(name, policyArgs(p), RUNNING);
          running.set(name, { id, pid: 0 });
        })(),
        (async () => {
          const name = `${tag}-${p}-ending`;
          const id = await runCtl(name, policyArgs(p), ENDING(EXIT_CODE[p]));
          ending.set(name, { id, policy: p });
        })(),
      ]));
      for (const name of [...running.keys(), ...ending.keys()]) await untilLogs(name, "up\n");
      for (const [name, r] of running) r.pid = (await inspect(name)).State.Pid;

      let downFrom = 0;
      let downTo = 0;
      await e.restart(signal, async () => {
        downFrom = Date.now();
        // Every container learns that pierd is down: the running ones print a line, the
        // others end with their code; both happen while nothing of pierd runs.
        for (const name of [...running.keys(), ...ending.keys()]) await fsp.writeFile(path.join(ctl(name), "down"), "");
        await until("the running containers to print while pierd is down", async () => [...running.keys()].every((n) => existsSync(path.join(ctl(n), "ack"))));
        await until("the monitors to record the exits", async () => [...ending.values()].every((c) => existsSync(exitFile(c.id))));
        downTo = Date.now();
      });

      await Promise.all([
        ...[...running].map(async ([name, { id, pid }]) => {
          // Still the same process, managed again: state, logs (with what it printed while
          // pierd was down), logs -f, exec, wait and stop.
          const c = await inspect(name);
          assert.equal(c.State.Status, "running", name);
          assert.equal(c.State.Pid, pid, `${name} keeps its process`);
          assert.equal(c.RestartCount, 0, name);
          assert.equal(await logs(name), "up\nwhile-down\n", name);
          const exec = await ok(["exec", name, "sh", "-c", "echo exec-ok"]);
          assert.equal(exec.stdout, "exec-ok\n", `${name}: exec output (stderr: ${JSON.stringify(exec.stderr)})`);
          const f = follow(name);
          await until(`${name}: logs -f to replay`, async () => f.output() === "up\nwhile-down\n");
          await fsp.writeFile(path.join(ctl(name), "follow"), "");
          await until(`${name}: logs -f to follow new output`, async () => f.output() === "up\nwhile-down\nfollowed\n");
          const wait = e.docker(["wait", id]);
          await ok(["stop", "-t", "10", name]);
          assert.equal((await wait).stdout, "7\n", `${name}: wait reports the real exit code`);
          assert.equal(await f.done, "up\nwhile-down\nfollowed\nterm\n", `${name}: logs -f ends with the container`);
          const s = await inspect(name);
          assert.equal(s.State.Status, "exited", name);
          assert.equal(s.State.ExitCode, 7, name);
          assert.equal(s.RestartCount, 0, `${name}: a user stop restarts nothing`);
          await ok(["rm", name]);
        }),
        ...[...ending].map(async ([name, { id, policy }]) => {
          const code = EXIT_CODE[policy];
          const c = await inspect(name);
          // FinishedAt is when the process really ended, not when pierd noticed.
          const finished = Date.parse(c.State.FinishedAt);
          assert.ok(finished >= downFrom - 1000 && finished <= downTo + 1000, `${name}: FinishedAt ${c.State.FinishedAt} within the time pierd was down`);
          assert.deepEqual(await dieCodes(name, started), [String(code)], `${name}: the die event has the real exit code`);
          assert.equal(c.RestartCount, 0, `${name}: a restart at daemon start begins a new count (moby)`);
          if (policy === "no") {
            assert.equal(c.State.Status, "exited", name);
            assert.equal(c.State.ExitCode, code, name);
            assert.equal(await logs(name), "up\nwhile-down\n", name);
            assert.equal((await ok(["wait", id])).stdout, `${code}\n`, name);
            await ok(["start", name]); // a restored exited container starts again
            await untilLogs(name, "up\nwhile-down\nagain\n");
          } else {
            // always, unless-stopped (not stopped by the user) and on-failure (non-zero) come back.
            assert.equal(c.State.Status, "running", `${name} comes back at daemon start`);
            await untilLogs(name, "up\nwhile-down\nagain\n");
          }
          await ok(["rm", "-f", name]);
        }),
      ]);
    });
  }

  it("applies restart policies and --rm at daemon start as moby does", async (t) => {
    if (!e.restart) return t.skip("only for a pierd the harness started");
    const forever = "while :; do sleep 0.1; done";
    // Stopped by the user: unless-stopped stays stopped, always comes back (Docker's rule).
    await Promise.all([
      runCtl("us-stopped", ["--restart", "unless-stopped"], forever),
      runCtl("always-stopped", ["--restart", "always"], forever),
      runCtl("onfail-ok", ["--restart", "on-failure"], "exit 0"),
      runCtl("onfail-spent", ["--restart", "on-failure:1"], "echo run; exit 9"),
      runCtl("rm-running", ["--rm"], forever),
      runCtl("rm-ending", ["--rm"], "while [ ! -f /ctl/down ]; do sleep 0.05; done; exit 2"),
      ok(["create", "--name", "rm-created", "--rm", "busybox", "true"]),
      ok(["create", "--name", "always-created", "--restart", "always", "busybox", "true"]),
    ]);
    await Promise.all([ok(["stop", "-t", "1", "us-stopped"]), ok(["stop", "-t", "1", "always-stopped"])]);
    await until("on-failure:1 to spend its retry", async () => {
      const c = await inspect("onfail-spent");
      return c.State.Status === "exited" && c.RestartCount === 1;
    });
    await ok(["wait", "onfail-ok"]);
    const rmEnding = (await inspect("rm-ending")).Id;

    await e.restart("SIGKILL", async () => {
      await fsp.writeFile(path.join(ctl("rm-ending"), "down"), "");
      await until("rm-ending to end", async () => existsSync(exitFile(rmEnding)));
    });

    const state = async (n: string) => {
      const c = await inspect(n);
      return `${c.State.Status} ${c.State.ExitCode} ${c.RestartCount}`;
    };
    assert.equal(await state("us-stopped"), "exited 137 0", "unless-stopped: the user's stop survives a pierd restart");
    assert.equal(await state("always-stopped"), "running 0 0", "always: back at daemon start even after a user stop");
    assert.equal(await state("onfail-ok"), "exited 0 0", "on-failure: a clean exit stays exited");
    assert.equal(await state("onfail-spent"), "exited 9 1", "on-failure:1: no retries left");
    assert.equal(await logs("onfail-spent"), "run\nrun\n");
    assert.equal(await state("always-created"), "created 0 0", "a container never started is not started by its policy");
    assert.equal(await state("rm-running"), "running 0 0", "a running --rm container is kept");
    for (const gone of ["rm-ending", "rm-created"]) {
      const r = await e.docker(["inspect", gone]);
      assert.notEqual(r.code, 0, `${gone}: a --rm container that is not running is removed at daemon start`);
      assert.match(r.stderr, /No such object|No such container/);
    }
    // A start by the user clears the user's stop of the unless-stopped container.
    await ok(["start", "us-stopped"]);
    assert.equal(await state("us-stopped"), "running 0 0");
    // --rm still applies to the restored running one.
    await ok(["stop", "-t", "1", "rm-running"]);
    await until("rm-running to be removed", async () => (await e.docker(["inspect", "rm-running"])).code !== 0);
    await ok(["rm", "-f", "us-stopped", "always-stopped", "onfail-ok", "onfail-spent", "always-created"]);
  });
});
