// pierd itself: the socket's mode, one daemon per data root, daemon.json, logs as JSON lines.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ROOT, startEngine, type Engine } from "../harness.js";

const PIERD = path.join(ROOT, "bin/pierd.js");

describe("pierd", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "tests pierd itself" }, () => {
  let e: Engine;
  let tmp: string;
  before(async () => {
    e = await startEngine({ busybox: false });
    tmp = mkdtempSync("/var/tmp/pier-daemon-test-");
  });
  after(async () => {
    await e?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("creates its socket with mode 0660", () => {
    const st = statSync(e.host.replace("unix://", ""));
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  it("refuses a second daemon on the same data root with a clear error", () => {
    const r = spawnSync(process.execPath, [PIERD, "-H", `unix://${tmp}/other.sock`, "--data-root", e.dataRoot!, "--exec-root", path.join(tmp, "run")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /another pierd \(pid \d+\) is already using data root/);
  });

  it("refuses to take over a socket another daemon serves", () => {
    const r = spawnSync(process.execPath, [PIERD, "-H", e.host, "--data-root", path.join(tmp, "data2"), "--exec-root", path.join(tmp, "run2")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /in use by another daemon/);
  });

  it("reads daemon.json, and rejects a broken one and unknown flags", async () => {
    const bad = path.join(tmp, "bad.json");
    writeFileSync(bad, "{not json");
    const r = spawnSync(process.execPath, [PIERD, "--config-file", bad], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unable to configure the Pier daemon with file/);
    const flag = spawnSync(process.execPath, [PIERD, "--no-such-flag"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(flag.status, 1);
    assert.match(flag.stderr, /unknown flag: --no-such-flag/);

    const good = path.join(tmp, "daemon.json");
    const sock = path.join(tmp, "cfg.sock");
    writeFileSync(good, JSON.stringify({ hosts: [`unix://${sock}`], "data-root": path.join(tmp, "cfgdata"), "exec-root": path.join(tmp, "cfgrun"), "log-level": "debug" }));
    const child = spawn(process.execPath, [PIERD, "--config-file", good], { stdio: ["ignore", "ignore", "pipe"] });
    let logs = "";
    child.stderr.on("data", (d) => (logs += d));
    try {
      for (let i = 0; i < 100; i++) {
        const v = spawnSync("/usr/local/bin/docker", ["-H", `unix://${sock}`, "version", "--format", "{{.Server.APIVersion}}"], { encoding: "utf8" });
        if (v.status === 0) {
          assert.equal(v.stdout.trim(), "1.45");
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(statSync(path.join(tmp, "cfgdata")).isDirectory(), "data-root from daemon.json");
      // Debug level logs one JSON line per request (stderr arrives a moment later).
      for (let i = 0; i < 50 && !/"msg":"request"/.test(logs); i++) await new Promise((r) => setTimeout(r, 50));
      const lines = logs.trim().split("\n").map((l) => JSON.parse(l));
      assert.ok(lines.some((l) => l.msg === "request" && /version|_ping/.test(l.url) && typeof l.status === "number"), logs);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });

  it("prints its version", () => {
    const r = spawnSync(process.execPath, [PIERD, "--version"], { encoding: "utf8" });
    assert.match(r.stdout, /^Pier version \d+\.\d+\.\d+/);
  });
});
