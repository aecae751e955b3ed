import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyResult, HealthMonitors, mergeHealthcheck, nextCheckDelayMs, ProbeOutput, probeCommand, timeoutMessage, validateHealthcheck, type HealthProbeRun } from "./health.js";
import { initialState, type ContainerRecord, type HealthcheckResult, type HealthState } from "./record.js";
import { createLogger } from "../lib/index.js";

const S = 1_000_000_000;
const START = 1_000n * BigInt(S); // the container started at t=1000 s
const at = (sec: number) => new Date(Number(START / 1_000_000n) + sec * 1000).toISOString();
const result = (sec: number, code: number, out = ""): HealthcheckResult => ({ Start: at(sec), End: at(sec), ExitCode: code, Output: out });
const starting = (): HealthState => ({ Status: "starting", FailingStreak: 0, Log: [] });

describe("health state machine", () => {
  it("a success makes the container healthy and resets the streak", () => {
    const h = starting();
    h.FailingStreak = 2;
    assert.equal(applyResult(h, result(1, 0, "ok\n"), {}, START), "healthy");
    assert.deepEqual(h, { Status: "healthy", FailingStreak: 0, Log: [result(1, 0, "ok\n")] });
    assert.equal(applyResult(h, result(2, 0), {}, START), undefined, "no change, no event");
  });

  it("failures become unhealthy after Retries (3 by default)", () => {
    const h = starting();
    assert.equal(applyResult(h, result(1, 1), {}, START), undefined);
    assert.equal(applyResult(h, result(2, 1), {}, START), undefined);
    assert.equal(h.Status, "starting");
    assert.equal(applyResult(h, result(3, 1), {}, START), "unhealthy");
    assert.equal(h.FailingStreak, 3);
    const two = starting();
    applyResult(two, result(1, 2), { Retries: 2 }, START);
    assert.equal(applyResult(two, result(2, -1), { Retries: 2 }, START), "unhealthy");
  });

  it("failures within the start period do not count while starting; a success ends it", () => {
    const h = starting();
    const cfg = { StartPeriod: 10 * S, Retries: 1 };
    applyResult(h, result(1, 1), cfg, START);
    applyResult(h, result(5, 1), cfg, START);
    assert.deepEqual([h.Status, h.FailingStreak, h.Log.length], ["starting", 0, 2]);
    assert.equal(applyResult(h, result(6, 0), cfg, START), "healthy");
    // Healthy now: a failure counts even inside the start period.
    assert.equal(applyResult(h, result(7, 1), cfg, START), "unhealthy");
    // After the start period a failure counts while starting too.
    const late = starting();
    assert.equal(applyResult(late, result(11, 1), cfg, START), "unhealthy");
  });

  it("keeps the last five results, oldest first", () => {
    const h = starting();
    for (let i = 1; i <= 7; i++) applyResult(h, result(i, 0, String(i)), {}, START);
    assert.deepEqual(h.Log.map((r) => r.Output), ["3", "4", "5", "6", "7"]);
  });

  it("schedules with Interval (30 s by default), StartInterval while starting in the start period", () => {
    assert.equal(nextCheckDelayMs({}, START, START, "starting"), 30_000);
    assert.equal(nextCheckDelayMs({ Interval: 1 * S }, START, START, "starting"), 1000);
    const cfg = { Interval: 60 * S, StartPeriod: 20 * S, StartInterval: 2 * S };
    assert.equal(nextCheckDelayMs(cfg, START, START + 5n * BigInt(S), "starting"), 2000);
    assert.equal(nextCheckDelayMs(cfg, START, START + 5n * BigInt(S), "healthy"), 60_000);
    assert.equal(nextCheckDelayMs(cfg, START, START + 25n * BigInt(S), "starting"), 60_000);
    assert.equal(nextCheckDelayMs({ StartPeriod: 20 * S }, START, START, "starting"), 5000, "start interval defaults to 5 s");
  });

  it("CMD runs its arguments, CMD-SHELL the container's shell; NONE and unknown types run nothing", () => {
    assert.deepEqual(probeCommand({ Healthcheck: { Test: ["CMD", "cat", "/x"] } }), ["cat", "/x"]);
    assert.deepEqual(probeCommand({ Healthcheck: { Test: ["CMD-SHELL", "echo $HOME"] } }), ["/bin/sh", "-c", "echo $HOME"]);
    assert.deepEqual(probeCommand({ Healthcheck: { Test: ["CMD-SHELL", "x"] }, Shell: ["/bin/ash", "-e", "-c"] }), ["/bin/ash", "-e", "-c", "x"]);
    assert.equal(probeCommand({ Healthcheck: { Test: ["NONE"] } }), undefined);
    assert.equal(probeCommand({ Healthcheck: { Test: ["HTTP", "x"] } }), undefined);
    assert.equal(probeCommand({ Healthcheck: { Test: [] } }), undefined);
    assert.equal(probeCommand({}), undefined);
  });

  it("output keeps 4096 bytes and marks the rest with ...; the timeout message is Docker's", () => {
    const o = new ProbeOutput();
    o.write(Buffer.alloc(4000, "a"));
    o.write(Buffer.alloc(200, "b"));
    const s = o.toString();
    assert.equal(s.length, 4099);
    assert.ok(s.endsWith("b".repeat(96) + "..."));
    assert.equal(timeoutMessage(1.5 * S, ""), "Health check exceeded timeout (1.5s)");
    assert.equal(timeoutMessage(30 * S, "partial\n"), "Health check exceeded timeout (30s): partial\n");
    assert.equal(timeoutMessage(500_000_000, ""), "Health check exceeded timeout (500ms)");
  });

  it("validates durations and retries with Docker's messages", () => {
    validateHealthcheck({ Test: ["CMD", "true"], Interval: 1_000_000, Timeout: 0 });
    assert.throws(() => validateHealthcheck({ Interval: 5 }), /^Error: Interval in Healthcheck cannot be less than 1ms$|Interval in Healthcheck cannot be less than 1ms/);
    assert.throws(() => validateHealthcheck({ Timeout: -1 }), /Timeout in Healthcheck cannot be less than 1ms/);
    assert.throws(() => validateHealthcheck({ StartPeriod: 999_999 }), /StartPeriod in Healthcheck cannot be less than 1ms/);
    assert.throws(() => validateHealthcheck({ StartInterval: 1 }), /StartInterval in Healthcheck cannot be less than 1ms/);
    assert.throws(() => validateHealthcheck({ Retries: -1 }), /Retries in Healthcheck cannot be negative/);
  });

  it("inherits unset fields from the image's healthcheck", () => {
    const image = { Test: ["CMD-SHELL", "true"], Interval: 2 * S, Retries: 4 };
    assert.deepEqual(mergeHealthcheck(undefined, image), image);
    assert.deepEqual(mergeHealthcheck({ Timeout: 3 * S }, image), { Test: ["CMD-SHELL", "true"], Interval: 2 * S, Timeout: 3 * S, Retries: 4 });
    assert.deepEqual(mergeHealthcheck({ Test: ["NONE"] }, image), { Test: ["NONE"], Interval: 2 * S, Retries: 4 });
    assert.deepEqual(mergeHealthcheck({ Test: ["CMD", "x"] }, undefined), { Test: ["CMD", "x"] });
  });
});

describe("health monitors", () => {
  function container(test: string[] | undefined): ContainerRecord {
    const c = { Id: "c1", Config: { Healthcheck: test ? { Test: test, Interval: 1_000_000 } : undefined }, State: { ...initialState(), Status: "running", Running: true, StartedAt: new Date().toISOString() } };
    return c as unknown as ContainerRecord;
  }
  function host(c: ContainerRecord, probe: () => HealthProbeRun) {
    const events: string[] = [];
    const monitors = new HealthMonitors({ find: (id) => (id === c.Id ? c : undefined), emit: (_c, a) => events.push(a), save: async () => {}, probe, log: createLogger("error") });
    return { monitors, events };
  }

  it("a container without a healthcheck gets no monitor and no State.Health", () => {
    const c = container(undefined);
    const { monitors } = host(c, () => assert.fail("no check may run"));
    monitors.init(c);
    assert.equal(monitors.size, 0);
    assert.equal(c.State.Health, undefined);
    const none = container(["NONE"]);
    monitors.init(none);
    assert.equal(monitors.size, 0);
    assert.equal(none.State.Health, undefined);
  });

  it("runs checks until stopped; a stop kills a running check, drops its result and reads unhealthy", async () => {
    const c = container(["CMD", "x"]);
    let runs = 0;
    let killed = 0;
    let finish!: (code: number) => void;
    const { monitors, events } = host(c, () => {
      runs++;
      return { started: Promise.resolve(), done: new Promise<number>((r) => (finish = r)), kill: () => killed++ };
    });
    monitors.init(c);
    assert.deepEqual(c.State.Health, { Status: "starting", FailingStreak: 0, Log: [] });
    while (runs === 0) await new Promise((r) => setTimeout(r, 2));
    finish(0);
    while (runs === 1) await new Promise((r) => setTimeout(r, 2));
    assert.equal(c.State.Health!.Status, "healthy");
    assert.deepEqual(events, ["health_status: healthy"]);
    // The second check is running: stop the monitor under it.
    monitors.stop(c);
    assert.equal(killed, 1);
    assert.equal(monitors.size, 0);
    finish(1);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(c.State.Health!.Log.length, 1, "the killed check's result is not recorded");
    assert.equal(c.State.Health!.Status, "unhealthy");
    assert.equal(runs, 2, "no check after the stop");
  });

  it("a check that cannot start is a failure with the error as output", async () => {
    const c = container(["CMD", "x"]);
    const { monitors } = host(c, () => {
      throw new Error("container c1 is not running");
    });
    c.Config.Healthcheck!.Retries = 1;
    monitors.init(c);
    while (c.State.Health!.Log.length === 0) await new Promise((r) => setTimeout(r, 2));
    monitors.stop(c);
    assert.deepEqual({ ...c.State.Health!.Log[0], Start: "", End: "" }, { Start: "", End: "", ExitCode: -1, Output: "container c1 is not running" });
  });
});
