// End-to-end checks of the pier binary against a real daemon (pierd or dockerd).
// Runs only when PIER_TEST_HOST names its socket (e.g. unix:///tmp/d.sock); the image
// PIER_TEST_IMAGE (default busybox:latest) must already be there and contain sh, echo, cat.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it as itLive } from "node:test";

const HOST = process.env["PIER_TEST_HOST"];
const IMAGE = process.env["PIER_TEST_IMAGE"] ?? "busybox:latest";
const BIN = fileURLToPath(new URL("../../../bin/pier.js", import.meta.url));

function pier(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, PIER_HOST: HOST }, input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("pier against a live daemon", () => {
  const it = HOST ? itLive : itLive.skip;
  const name = `pier-e2e-${process.pid}`;
  after(() => {
    if (HOST) pier(["rm", "-f", name]);
  });

  it("run --rm streams stdout and stderr apart and returns the exit code", () => {
    const r = pier(["run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    assert.equal(r.code, 7);
  });

  it("run -i passes stdin through", () => {
    const r = pier(["run", "--rm", "-i", IMAGE, "cat"], "hello stdin\n");
    assert.equal(r.stdout, "hello stdin\n");
    assert.equal(r.code, 0);
  });

  it("a missing executable exits 127", () => {
    const r = pier(["run", "--rm", IMAGE, "/nonexistent"]);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /^pier: Error response from daemon: /);
  });

  it("create, start, wait, logs, ps, inspect, rm", () => {
    const created = pier(["create", "--name", name, "-l", "e2e=1", IMAGE, "sh", "-c", "echo logged; exit 2"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal(pier(["start", name]).stdout, `${name}\n`);
    assert.equal(pier(["wait", name]).stdout, "2\n");
    assert.equal(pier(["logs", name]).stdout, "logged\n");
    const ps = pier(["ps", "-a", "--filter", "label=e2e=1", "--filter", `name=${name}`, "--format", "{{.Names}} {{.State}} {{.Label \"e2e\"}}"]);
    assert.equal(ps.stdout, `${name} exited 1\n`);
    assert.equal(pier(["inspect", "-f", "{{.State.ExitCode}} {{.Config.Image}}", name]).stdout, `2 ${IMAGE}\n`);
    assert.equal(pier(["rm", name]).stdout, `${name}\n`);
    const gone = pier(["inspect", name]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `Error: No such object: ${name}\n`);
  });

  it("volume create, ls -q, rm", () => {
    const vol = `${name}-vol`;
    assert.equal(pier(["volume", "create", vol]).stdout, `${vol}\n`);
    assert.ok(pier(["volume", "ls", "-q"]).stdout.split("\n").includes(vol));
    assert.equal(pier(["volume", "rm", vol]).stdout, `${vol}\n`);
  });
});
