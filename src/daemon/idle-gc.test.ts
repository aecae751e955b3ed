import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startIdleGC } from "./idle-gc.js";

test("collects once after work and a quiet spell, not during work, not again while idle", async () => {
  let collections = 0;
  const idle = startIdleGC({ quietMs: 50, collect: () => collections++ });
  try {
    await sleep(200);
    assert.equal(collections, 0, "no work yet: nothing to collect");
    // Work keeps going across several intervals: no collection in between.
    const until = Date.now() + 250;
    while (Date.now() < until) {
      idle.touch();
      await sleep(5);
    }
    assert.equal(collections, 0, "a collection ran while work was going on");
    await sleep(250);
    assert.equal(collections, 1, "one collection after the quiet spell");
    await sleep(250);
    assert.equal(collections, 1, "idle: no further collections");
    idle.touch();
    await sleep(250);
    assert.equal(collections, 2, "new work, new collection");
  } finally {
    idle.stop();
  }
});

test("without V8's gc exposed it does nothing and does not throw", async () => {
  const idle = startIdleGC({ quietMs: 10, collect: undefined });
  idle.touch();
  await sleep(50);
  idle.stop();
});
