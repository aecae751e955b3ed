import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseBind, planMounts } from "./mounts.js";

describe("mount planning", () => {
  it("reads -v forms as Docker does", () => {
    const named = parseBind("data:/data:ro");
    assert.equal(named.point.Type, "volume");
    assert.equal(named.point.Name, "data");
    assert.equal(named.point.RW, false);
    const bind = parseBind("/srv/x:/x:rshared");
    assert.equal(bind.point.Type, "bind");
    assert.equal(bind.point.Propagation, "rshared");
    assert.equal(bind.createSource, true);
  });

  it("refuses bad specs with Docker's messages", () => {
    assert.throws(() => parseBind("a:b:c:d"), /invalid volume specification: 'a:b:c:d'/);
    assert.throws(() => parseBind("data:relative"), /mount path must be absolute/);
    assert.throws(() => parseBind("data:/d:bogus"), /invalid mode: bogus/);
  });

  it("lets explicit mounts win over image VOLUMEs and refuses duplicates", async () => {
    const planned = await planMounts({ Binds: ["v1:/data"] }, { "/extra": {} }, { "/data": {}, "/var/lib": {} });
    assert.deepEqual(planned.map((p) => [p.point.Destination, p.volume?.anonymous ?? false]), [["/data", false], ["/extra", true], ["/var/lib", true]]);
    await assert.rejects(planMounts({ Binds: ["a:/d", "b:/d"] }, {}, {}), /Duplicate mount point: \/d/);
  });

  it("refuses a --mount bind whose source is missing", async () => {
    await assert.rejects(planMounts({ Mounts: [{ Type: "bind", Source: "/no/such/dir", Target: "/x" }] }, {}, {}), /bind source path does not exist: \/no\/such\/dir/);
  });
});
