import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ActiveMounts } from "./active-mounts.js";

describe("active volume mounts", () => {
  it("mounts for the first holder, unmounts after the last, and a second release of one holder changes nothing", async () => {
    const a = new ActiveMounts();
    const log: string[] = [];
    const mount = async () => void log.push("mount");
    const unmount = () => void log.push("unmount");
    await a.acquire("v", "c1", mount);
    await a.acquire("v", "c2", mount);
    assert.deepEqual(log, ["mount"]);
    assert.equal(a.count("v"), 2);
    await a.release("v", "c1", unmount);
    await a.release("v", "c1", unmount); // an exit and a failed start's cleanup, say
    assert.deepEqual(log, ["mount"]);
    await a.release("v", "c2", unmount);
    assert.deepEqual(log, ["mount", "unmount"]);
    assert.equal(a.count("v"), 0);
  });

  it("a failed mount takes no hold, and the next holder tries again", async () => {
    const a = new ActiveMounts();
    await assert.rejects(a.acquire("v", "c1", async () => { throw new Error("nope"); }), /nope/);
    assert.equal(a.count("v"), 0);
    let mounted = 0;
    await a.acquire("v", "c2", async () => void mounted++);
    assert.equal(mounted, 1);
  });

  it("two starts at once mount once", async () => {
    const a = new ActiveMounts();
    let mounts = 0;
    const slowMount = () => new Promise<void>((r) => setTimeout(() => { mounts++; r(); }, 20));
    await Promise.all([a.acquire("v", "c1", slowMount), a.acquire("v", "c2", slowMount)]);
    assert.equal(mounts, 1);
    assert.equal(a.count("v"), 2);
  });

  it("after a restart: adopted holders keep a found mount, the sweep unmounts only what nobody holds", async () => {
    const a = new ActiveMounts();
    a.markMounted("held");
    a.markMounted("orphan");
    a.adopt("held", "c1");
    const unmounted: string[] = [];
    await a.sweep((name) => void unmounted.push(name));
    assert.deepEqual(unmounted, ["orphan"]);
    await a.release("held", "c1", () => void unmounted.push("held"));
    assert.deepEqual(unmounted, ["orphan", "held"]);
  });
});
