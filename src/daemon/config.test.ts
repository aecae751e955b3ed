import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig, type DaemonConfig } from "./config.js";

async function load(argv: string[], daemonJSON?: object): Promise<DaemonConfig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pier-config-test-"));
  try {
    const file = path.join(dir, "daemon.json");
    writeFileSync(file, JSON.stringify(daemonJSON ?? {}));
    const cfg = await loadConfig([...argv, "--config-file", file]);
    assert.equal(typeof cfg, "object");
    return cfg as DaemonConfig;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the monitor: Pier's own by default, --monitor or --conmon (an alias) pick another", async () => {
  assert.equal((await load([])).monitorPath, undefined);
  assert.equal((await load(["--monitor", "/opt/mon"])).monitorPath, "/opt/mon");
  assert.equal((await load(["--conmon", "conmon"])).monitorPath, "conmon");
  assert.equal((await load(["--conmon=/usr/bin/conmon"])).monitorPath, "/usr/bin/conmon");
});

test("daemon.json names the monitor as monitor or conmon; a flag wins", async () => {
  assert.equal((await load([], { monitor: "/opt/mon" })).monitorPath, "/opt/mon");
  assert.equal((await load([], { conmon: "conmon" })).monitorPath, "conmon");
  assert.equal((await load(["--conmon", "conmon"], { monitor: "/opt/mon" })).monitorPath, "conmon");
});

test("a monitor flag without a value is refused", async () => {
  await assert.rejects(loadConfig(["--monitor"]), /flag needs an argument: --monitor/);
});
