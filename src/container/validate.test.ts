import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { validateCreateRequest } from "./validate.js";
import { parseRFC3339Ns, rfc3339FromNs, nowNs } from "./clock.js";

describe("create request types", () => {
  it("refuses wrongly typed fields with Go's wording and a 400 kind", () => {
    const bad: [Record<string, unknown>, Record<string, unknown>, RegExp][] = [
      [{ Image: 5 }, {}, /cannot unmarshal number into Go struct field ContainerConfigWrapper\.Image of type string/],
      [{ Env: "A=1" }, {}, /cannot unmarshal string into Go struct field ContainerConfigWrapper\.Env of type \[\]string/],
      [{ Labels: { a: 1 } }, {}, /Labels of type map\[string\]string/],
      [{}, { Memory: "1g" }, /HostConfig\.HostConfig\.Memory of type int64/],
      [{}, { Memory: 1.5 }, /cannot unmarshal number 1\.5 into Go struct field HostConfig\.HostConfig\.Memory/],
      [{}, { RestartPolicy: { Name: 1 } }, /RestartPolicy\.Name of type string/],
      [{}, { Mounts: [{ Type: "bind", ReadOnly: "yes" }] }, /Mounts\[0\]\.ReadOnly of type bool/],
      [{}, { Mounts: {} }, /Mounts of type \[\]struct/],
      [{ WorkingDir: "a/../b" }, {}, /^the working directory 'a\/\.\.\/b' is invalid, it needs to be an absolute path$/],
      [{ StopSignal: "BOGUS" }, {}, /^Invalid signal: BOGUS$/],
      [{ StopSignal: "0" }, {}, /^Invalid signal: 0$/],
      [{ Env: ["A=1", "=foo"] }, {}, /^invalid environment variable: =foo$/],
      [{ Env: [""] }, {}, /^invalid environment variable: $/],
    ];
    for (const [config, hc, re] of bad) {
      assert.throws(() => validateCreateRequest(config, hc), (err: Error & { kind?: string }) => err.kind === "InvalidParameter" && re.test(err.message), JSON.stringify([config, hc]));
    }
  });

  it("accepts nulls and turns a string Cmd or Entrypoint into a one-element list", () => {
    const config: Record<string, unknown> = { Image: "busybox", Cmd: "echo hi", Entrypoint: null, Env: null };
    validateCreateRequest(config, { Memory: 0, Binds: null });
    assert.deepEqual(config.Cmd, ["echo hi"]);
    assert.equal(config.Entrypoint, null);
  });

  it("accepts the stop signals and variables dockerd accepts", () => {
    for (const StopSignal of ["SIGTERM", "term", "SIGRTMIN+3", "9", "99"]) validateCreateRequest({ StopSignal }, {});
    validateCreateRequest({ Env: ["A", "A=", "A==b"] }, {});
    const wd: Record<string, unknown> = { WorkingDir: "/a/../b//c/" };
    validateCreateRequest(wd, {});
    assert.equal(wd.WorkingDir, "/b/c");
  });
});

describe("nanosecond times", () => {
  it("formats and parses RFC 3339 with nanoseconds, trimming zeros as Go does", () => {
    const ns = 1795313265315571777n;
    const s = rfc3339FromNs(ns);
    assert.equal(s, "2026-11-22T02:07:45.315571777Z");
    assert.equal(parseRFC3339Ns(s), ns);
    assert.equal(rfc3339FromNs(1795313265000000000n), "2026-11-22T02:07:45Z");
    assert.equal(rfc3339FromNs(1795313265100000000n), "2026-11-22T02:07:45.1Z");
    assert.equal(parseRFC3339Ns("2026-11-22T02:07:45.1Z"), 1795313265100000000n);
    assert.equal(parseRFC3339Ns("2026-11-22T04:07:45.5+02:00"), 1795313265500000000n);
  });

  it("never goes backwards", () => {
    let last = nowNs();
    for (let i = 0; i < 1000; i++) {
      const t = nowNs();
      assert.ok(t >= last);
      last = t;
    }
  });
});
