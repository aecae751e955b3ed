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

test("containers' default logging: json-file without options unless told", async () => {
  assert.deepEqual((await load([])).logConfig, { Type: "json-file", Config: {} });
  assert.deepEqual((await load([], { "log-driver": "local", "log-opts": { "max-size": "10m" } })).logConfig, { Type: "local", Config: { "max-size": "10m" } });
  assert.deepEqual((await load(["--log-driver", "none"], { "log-driver": "local" })).logConfig, { Type: "none", Config: {} });
  assert.deepEqual((await load(["--log-opt", "max-size=1m", "--log-opt=max-file=3"], { "log-opts": { "max-size": "5m" } })).logConfig, { Type: "json-file", Config: { "max-size": "1m", "max-file": "3" } });
});

test("a default logging setup no container could use stops pierd, in dockerd's words", async () => {
  await assert.rejects(load(["--log-opt", "bogus=1"]), /failed to set log opts: unknown log opt 'bogus' for json-file log driver/);
  await assert.rejects(load([], { "log-driver": "local", "log-opts": { labels: "a" } }), /failed to set log opts: unknown log opt 'labels' for log driver local/);
  await assert.rejects(load(["--log-driver", "bogus"]), /failed to set log opts: error looking up logging plugin bogus: plugin "bogus" not found/);
  await assert.rejects(load(["--log-driver", "syslog"]), /logging driver "syslog" is not supported by Pier/);
  await assert.rejects(load(["--log-opt", "max-size=bogus"]), /failed to set log opts: invalid size: 'bogus'/);
  await assert.rejects(load(["--log-opt", "max-file=0"]), /max-file cannot be less than 1/);
  await assert.rejects(load(["--log-opt", "nokey"]), /invalid key value pair format/);
  await assert.rejects(load([], { "log-opts": { "max-size": 5 } }), /log-opts must be a map of strings/);
});

test("--create-timeout / daemon.json create-timeout: a Go duration, 0 for no limit, 4m by default", async () => {
  assert.equal((await load([])).createTimeoutMs, 240_000);
  assert.equal((await load(["--create-timeout", "90s"])).createTimeoutMs, 90_000);
  assert.equal((await load(["--create-timeout=0"])).createTimeoutMs, 0);
  assert.equal((await load([], { "create-timeout": "1m30s" })).createTimeoutMs, 90_000);
  assert.equal((await load(["--create-timeout", "10s"], { "create-timeout": "1m" })).createTimeoutMs, 10_000);
  await assert.rejects(load(["--create-timeout", "soon"]), /invalid duration "soon" for --create-timeout/);
});
