import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mountSpecOf, validateLocalOptions } from "./local-options.js";
import { mkdtempSync, rmSync } from "node:fs";
import { mountLocalVolume, parseMountOptions } from "./local-mount.js";

describe("local volume options", () => {
  it("accepts what dockerd accepts", () => {
    validateLocalOptions({});
    validateLocalOptions({ type: "tmpfs", device: "tmpfs", o: "size=1m" });
    validateLocalOptions({ type: "none", device: "/srv", o: "bind" });
    validateLocalOptions({ type: "", device: "" });
    validateLocalOptions({ size: "0" });
  });

  it("refuses with dockerd's words", () => {
    const msg = (o: Record<string, string>) => {
      try {
        validateLocalOptions(o);
      } catch (err) {
        return (err as Error).message;
      }
      return "accepted";
    };
    assert.equal(msg({ foo: "bar" }), 'invalid option: "foo"');
    assert.equal(msg({ o: "size=1m" }), 'missing required option: "device"');
    assert.equal(msg({ type: "tmpfs" }), 'missing required option: "device"');
    assert.equal(msg({ device: "tmpfs" }), 'missing required option: "type"');
    assert.equal(msg({ type: "tmpfs", o: "x" }), 'missing required option: "device"');
    assert.equal(msg({ size: "10m" }), "quota size requested but no quota support");
    assert.equal(msg({ size: "abc" }), "invalid size: 'abc'");
  });

  it("needs a mount only with a type or a device", () => {
    assert.equal(mountSpecOf(null), undefined);
    assert.equal(mountSpecOf({}), undefined);
    assert.equal(mountSpecOf({ type: "", device: "" }), undefined);
    assert.deepEqual(mountSpecOf({ type: "tmpfs", device: "tmpfs" }), { type: "tmpfs", device: "tmpfs", o: "" });
  });

  it("splits o into mount(2) flags and data as moby/sys/mount", () => {
    assert.deepEqual(parseMountOptions("size=1m,uid=1000"), { flags: 0, data: "size=1m,uid=1000" });
    assert.deepEqual(parseMountOptions("bind"), { flags: 0x1000, data: "" });
    assert.deepEqual(parseMountOptions("rbind,ro"), { flags: 0x1000 | 0x4000 | 1, data: "" });
    assert.deepEqual(parseMountOptions("addr=127.0.0.1,ro"), { flags: 1, data: "addr=127.0.0.1" });
    assert.deepEqual(parseMountOptions("ro,rw,noexec"), { flags: 8, data: "" });
    // "defaults" carries no flag, so it is passed on as data, as moby does.
    assert.deepEqual(parseMountOptions("defaults"), { flags: 0, data: "defaults" });
  });

  it("words a failed mount as dockerd, with a password masked", async () => {
    const dir = mkdtempSync("/var/tmp/pier-volmount-");
    try {
      await assert.rejects(
        mountLocalVolume({ type: "pier-no-such-fs", device: "//host/share", o: "username=u,password=secret,ro" }, dir),
        (err: Error) => {
          assert.equal(err.message, `failed to mount local volume: mount //host/share:${dir}, flags: 0x1, data: username=u,password=********: no such device`);
          return true;
        },
      );
      await assert.rejects(mountLocalVolume({ type: "tmpfs", device: "", o: "" }, dir), /missing device in volume options/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
