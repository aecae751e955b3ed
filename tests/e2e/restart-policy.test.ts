// Restart policies: on-failure with a limit, always, and a user stop that turns them off.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEngine, type Engine } from "../harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("restart policies", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  const state = async (name: string) => (await e.docker(["inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", name])).stdout.trim();

  it("on-failure:2 restarts a failing container twice, then leaves it exited", async () => {
    assert.equal((await e.docker(["run", "-d", "--name", "onfail", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3"])).code, 0);
    let s = "";
    for (let i = 0; i < 60 && s !== "exited 2 3"; i++) {
      await sleep(100);
      s = await state("onfail");
    }
    assert.equal(s, "exited 2 3");
    assert.equal((await e.docker(["logs", "onfail"])).stdout, "run\nrun\nrun\n");
    const policy = await e.docker(["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "onfail"]);
    assert.equal(policy.stdout.trim(), "on-failure:2");
  });

  it("on-failure leaves a container that exits 0 alone", async () => {
    await e.docker(["run", "-d", "--name", "onfail-ok", "--restart", "on-failure", "busybox", "true"]);
    await e.docker(["wait", "onfail-ok"]);
    await sleep(500);
    assert.equal(await state("onfail-ok"), "exited 0 0");
  });

  it("always restarts until the user stops it; a start resets the count", async () => {
    await e.docker(["run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2"]);
    let count = 0;
    for (let i = 0; i < 60 && count < 2; i++) {
      await sleep(100);
      count = Number((await state("always")).split(" ")[1]);
    }
    assert.ok(count >= 2, `restarted ${count} times`);
    const rm = await e.docker(["rm", "always"]);
    assert.notEqual(rm.code, 0, "a restarting or running container is not removed without -f");
    assert.equal((await e.docker(["stop", "always"])).code, 0);
    const stopped = await state("always");
    await sleep(1500);
    assert.equal(await state("always"), stopped, "no restart after a user stop");
    assert.match(stopped, /^exited /);
    assert.equal((await e.docker(["start", "always"])).code, 0);
    assert.match(await state("always"), /^(running|restarting|exited) [01] /);
    assert.equal((await e.docker(["rm", "-f", "always"])).code, 0);
  });

  it("refuses unknown policies and --rm with a policy", async () => {
    const bad = await e.docker(["run", "-d", "--restart", "sometimes", "busybox", "true"]);
    assert.notEqual(bad.code, 0);
    const rm = await e.docker(["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /cannot specify both --restart and --rm|restart policy/);
  });
});
