import { test } from "node:test";
import assert from "node:assert/strict";
import { kindOf } from "../errdefs/index.js";
import { attachBypassesLog, effectiveLogConfig, logPolicy, validateLogConfig } from "./logconfig.js";

const daemon = { Type: "json-file", Config: { "max-size": "10m" } };

test("the effective LogConfig: the daemon's driver and, for that driver, its options under the container's", () => {
  assert.deepEqual(effectiveLogConfig(undefined, daemon), { Type: "json-file", Config: { "max-size": "10m" } });
  assert.deepEqual(effectiveLogConfig({ Type: "", Config: null }, daemon), { Type: "json-file", Config: { "max-size": "10m" } });
  assert.deepEqual(effectiveLogConfig({ Type: "json-file", Config: { "max-size": "1m", "max-file": "2" } }, daemon), { Type: "json-file", Config: { "max-size": "1m", "max-file": "2" } });
  assert.deepEqual(effectiveLogConfig({ Type: "local" }, daemon), { Type: "local", Config: {} });
});

test("names are checked at create with dockerd's words; none takes anything", () => {
  const bad = (Type: string, Config: Record<string, string>, msg: RegExp) => {
    assert.throws(() => validateLogConfig({ Type, Config }), (e: Error) => msg.test(e.message) && kindOf(e) === "InvalidParameter");
  };
  bad("bogus", {}, /^error looking up logging plugin bogus: plugin "bogus" not found$/);
  bad("json-file", { bogus: "1" }, /^unknown log opt 'bogus' for json-file log driver$/);
  bad("local", { tag: "x" }, /^unknown log opt 'tag' for log driver local$/);
  bad("json-file", { mode: "fast" }, /^logger: logging mode not supported: fast$/);
  bad("json-file", { "max-buffer-size": "1m" }, /only supported with 'mode=non-blocking'/);
  bad("syslog", {}, /^logging driver "syslog" is not supported by Pier/);
  validateLogConfig({ Type: "none", Config: { "max-size": "1k", anything: "x" } });
  validateLogConfig({ Type: "json-file", Config: { "max-size": "1k", "max-file": "3", labels: "a", "labels-regex": "^a", env: "A", "env-regex": "^A", tag: "{{.Name}}", mode: "non-blocking", "max-buffer-size": "4m" } });
});

test("values are read at start: sizes are go-units' decimal sizes, max-file 1 unless rotating", () => {
  assert.deepEqual(logPolicy({ Type: "json-file", Config: {} }), { driver: "json-file", maxSize: undefined, maxFiles: 1, compress: false });
  assert.deepEqual(logPolicy({ Type: "json-file", Config: { "max-size": "1k", "max-file": "3" } }), { driver: "json-file", maxSize: 1000, maxFiles: 3, compress: false });
  assert.deepEqual(logPolicy({ Type: "json-file", Config: { "max-size": "1.5KiB" } }), { driver: "json-file", maxSize: 1500, maxFiles: 1, compress: false });
  assert.deepEqual(logPolicy({ Type: "json-file", Config: { "max-file": "3" } }), { driver: "json-file", maxSize: undefined, maxFiles: 1, compress: false });
  assert.deepEqual(logPolicy({ Type: "json-file", Config: { "max-size": "1k", "max-file": "2", compress: "true" } }), { driver: "json-file", maxSize: 1000, maxFiles: 2, compress: true });
  // local's defaults (moby daemon/logger/local): 20 MiB files, 5 of them, compressed.
  assert.deepEqual(logPolicy({ Type: "local", Config: {} }), { driver: "local", maxSize: 20 * 1024 * 1024, maxFiles: 5, compress: true });
  assert.deepEqual(logPolicy({ Type: "local", Config: { compress: "false", "max-file": "1" } }), { driver: "local", maxSize: 20 * 1024 * 1024, maxFiles: 1, compress: false });
  assert.deepEqual(logPolicy({ Type: "none", Config: { "max-size": "bogus" } }), { driver: "none", maxFiles: 1, compress: false });
  const bad = (Config: Record<string, string>, msg: string, Type = "json-file", kind = "System") => {
    assert.throws(() => logPolicy({ Type, Config }), (e: Error) => e.message === msg && kindOf(e) === kind);
  };
  bad({ "max-size": "bogus" }, "failed to initialize logging driver: invalid size: 'bogus'");
  bad({ "max-size": "-1" }, "failed to initialize logging driver: invalid size: '-1'");
  bad({ "max-size": "0" }, "failed to initialize logging driver: max-size must be a positive number");
  bad({ "max-file": "x" }, 'failed to initialize logging driver: strconv.Atoi: parsing "x": invalid syntax');
  bad({ "max-size": "1k", "max-file": "0" }, "failed to initialize logging driver: max-file cannot be less than 1");
  bad({ compress: "maybe" }, 'failed to initialize logging driver: strconv.ParseBool: parsing "maybe": invalid syntax');
  bad({ "max-file": "2", compress: "true" }, "failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set");
  bad({ "env-regex": "(" }, "failed to initialize logging driver: error parsing regexp: missing closing ): `(`");
  bad({ "labels-regex": "a[b" }, "failed to initialize logging driver: error parsing regexp: missing closing ]: `[b`");
  bad({ tag: "{{.Nope}}" }, 'failed to initialize logging driver: template: log-tag:1:2: executing "log-tag" at <.Nope>: can\'t evaluate field Nope in type *logger.Info');
  bad({ tag: "x{{.Name" }, "failed to initialize logging driver: template: log-tag:1: unclosed action");
  bad({ "max-size": "x" }, "failed to initialize logging driver: invalid value for max-size: x: invalid size: 'x'", "local");
  bad({ "max-file": "1" }, "failed to initialize logging driver: compression cannot be enabled when max file count is 1", "local");
  bad({ compress: "x" }, 'failed to initialize logging driver: error reading compress log option: strconv.ParseBool: parsing "x": invalid syntax', "local");
});

test("attach bypasses the log when there is none or it rotates", () => {
  assert.equal(attachBypassesLog({ Type: "json-file", Config: {} }), false);
  assert.equal(attachBypassesLog({ Type: "json-file", Config: { "max-size": "1m" } }), true);
  assert.equal(attachBypassesLog({ Type: "local", Config: {} }), true);
  assert.equal(attachBypassesLog({ Type: "none", Config: {} }), true);
  assert.equal(attachBypassesLog(undefined), false);
});
