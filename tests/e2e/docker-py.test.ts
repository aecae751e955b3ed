// docker-py (installed on the machine) drives the engine: run, logs, wait, list, volumes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ROOT, startEngine, type Engine } from "../harness.js";

const hasDockerPy = spawnSync("python3", ["-c", "import docker"]).status === 0;

describe("docker-py", { skip: !hasDockerPy && "docker-py is not installed" }, () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("runs the common calls of the Python SDK", () => {
    const script = path.join(ROOT, "tests/e2e/py/docker_py_smoke.py");
    const r = spawnSync("python3", [script, e.host], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /docker-py ok/);
  });
});
