import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnSync } from "node:child_process";
import { BUSY_FLAGS, QUIET_FLAGS, deferTierUpUntilBusy } from "./tier-up.js";

/** A CPU clock the test drives: `share` of one core since the last reading's wall time. */
function fakeCpu() {
  let cpu = 0;
  let at = performance.now();
  const c = {
    share: 0,
    read: () => {
      const now = performance.now();
      cpu += (now - at) * 1000 * c.share;
      at = now;
      return cpu;
    },
  };
  return c;
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
  return cond();
}

test("quiet flags at once; light work keeps them; a busy sample brings V8's defaults back, for good", async () => {
  const flags: string[] = [];
  const cpu = fakeCpu();
  let lastShare = 0;
  const t = deferTierUpUntilBusy({ sampleMs: 30, setFlags: (f) => flags.push(f), cpuMicros: cpu.read, onSample: (x) => (lastShare = x.cpuShare) });
  try {
    assert.deepEqual(flags, QUIET_FLAGS);
    // Light work over several samples: a request now and then at 20% of a core.
    cpu.share = 0.2;
    for (let i = 0; i < 10; i++) {
      t.touch();
      await sleep(15);
    }
    await sleep(100);
    assert.equal(t.busy, false);
    assert.deepEqual(flags, QUIET_FLAGS, "light work must not turn the optimizing compiler on");
    // A burst at 90% of a core.
    cpu.share = 0.9;
    t.touch();
    assert.ok(await until(() => t.busy), "busy was never seen");
    assert.deepEqual(flags, [...QUIET_FLAGS, ...BUSY_FLAGS]);
    assert.ok(lastShare >= 0.5, `share ${lastShare}`);
    // Once busy, always busy: no flag changes from later work or quiet.
    cpu.share = 0;
    t.touch();
    await sleep(100);
    assert.deepEqual(flags, [...QUIET_FLAGS, ...BUSY_FLAGS]);
  } finally {
    t.stop();
  }
});

test("CPU-heavy work inside one request (a big image load) counts as busy too", async () => {
  const flags: string[] = [];
  const cpu = fakeCpu();
  const t = deferTierUpUntilBusy({ sampleMs: 30, setFlags: (f) => flags.push(f), cpuMicros: cpu.read });
  try {
    cpu.share = 1;
    t.touch(); // one request, then no more touches while it computes
    assert.ok(await until(() => t.busy));
  } finally {
    t.stop();
  }
});

test("many requests count as busy even when pierd gets little CPU (a loaded host)", async () => {
  const flags: string[] = [];
  const cpu = fakeCpu();
  cpu.share = 0.1;
  const t = deferTierUpUntilBusy({ sampleMs: 200, busyTouches: 100, setFlags: (f) => flags.push(f), cpuMicros: cpu.read });
  try {
    for (let i = 0; i < 99; i++) t.touch(); // in one sample: not yet
    await sleep(300);
    assert.equal(t.busy, false);
    const end = Date.now() + 5000;
    while (!t.busy && Date.now() < end) {
      for (let i = 0; i < 150; i++) t.touch();
      await sleep(20);
    }
    assert.equal(t.busy, true);
    assert.deepEqual(flags, [...QUIET_FLAGS, ...BUSY_FLAGS]);
  } finally {
    t.stop();
  }
});

test("the sampler stops when work stops, and no sample means no switch", async () => {
  const flags: string[] = [];
  const cpu = fakeCpu();
  const t = deferTierUpUntilBusy({ sampleMs: 30, setFlags: (f) => flags.push(f), cpuMicros: cpu.read });
  try {
    t.touch(); // at 0%: the first sample sees no work since and disarms
    await sleep(150);
    cpu.share = 1; // CPU burnt by something else while pierd has no work: not sampled
    await sleep(150);
    assert.equal(t.busy, false);
    assert.deepEqual(flags, QUIET_FLAGS);
  } finally {
    t.stop();
  }
});

test("the flags exist in this V8 and BUSY_FLAGS are its defaults", () => {
  // v8.setFlagsFromString ignores a flag it does not know, silently: check against V8's list.
  const out = spawnSync(process.execPath, ["--v8-options"], { encoding: "utf8" }).stdout;
  for (const f of QUIET_FLAGS) assert.ok(out.includes(`  ${f.split("=")[0]!.replace(/^--no-/, "--")} (`), `${f}: not a V8 flag here`);
  for (const f of BUSY_FLAGS) assert.ok(out.includes(`default: ${f}\n`), `${f}: not V8's default here`);
});

test("eager (PIER_V8_TIER_UP=eager): V8's defaults from the start", () => {
  const flags: string[] = [];
  const t = deferTierUpUntilBusy({ eager: true, setFlags: (f) => flags.push(f) });
  try {
    assert.equal(t.busy, true);
    assert.deepEqual(flags.slice(-BUSY_FLAGS.length), BUSY_FLAGS);
  } finally {
    t.stop();
  }
});
