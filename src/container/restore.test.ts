import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyDaemonStartPolicies, removedOnDaemonStart, restartsOnDaemonStart, settleContainers, type RestoreHost } from "./restore.js";
import { initialState, type ContainerRecord, type ContainerState } from "./record.js";

function record(policy: string, state: Partial<ContainerState>, extra: Partial<ContainerRecord> = {}, max = 0): ContainerRecord {
  return {
    Id: `${policy}-${Object.values(state).join("-")}`,
    State: { ...initialState(), StartedAt: "2026-01-01T00:00:00Z", ...state },
    HostConfig: { RestartPolicy: { Name: policy, MaximumRetryCount: max } },
    RestartCount: 0,
    ...extra,
  } as ContainerRecord;
}
const exited = (code: number): Partial<ContainerState> => ({ Status: "exited", ExitCode: code });

describe("restart policies at daemon start (moby's restore)", () => {
  it("always comes back, also after a user stop", () => {
    assert.equal(restartsOnDaemonStart(record("always", exited(0))), true);
    assert.equal(restartsOnDaemonStart(record("always", exited(137), { stoppedByUser: true })), true);
  });

  it("unless-stopped comes back unless the user stopped it", () => {
    assert.equal(restartsOnDaemonStart(record("unless-stopped", exited(1))), true);
    assert.equal(restartsOnDaemonStart(record("unless-stopped", exited(143), { stoppedByUser: true })), false);
  });

  it("on-failure restarts a failed container while retries remain", () => {
    assert.equal(restartsOnDaemonStart(record("on-failure", exited(3))), true);
    assert.equal(restartsOnDaemonStart(record("on-failure", exited(0))), false);
    assert.equal(restartsOnDaemonStart(record("on-failure", exited(3), { RestartCount: 2 }, 2)), false);
    assert.equal(restartsOnDaemonStart(record("on-failure", exited(3), { RestartCount: 1 }, 2)), true);
    // moby's ShouldRestart does not look at a manual stop for on-failure.
    assert.equal(restartsOnDaemonStart(record("on-failure", exited(143), { stoppedByUser: true })), true);
  });

  it("no policy, a running, a never started or a dead container: nothing", () => {
    assert.equal(restartsOnDaemonStart(record("no", exited(1))), false);
    assert.equal(restartsOnDaemonStart(record("", exited(1))), false);
    assert.equal(restartsOnDaemonStart(record("always", { Status: "running", Running: true })), false);
    assert.equal(restartsOnDaemonStart(record("always", { Status: "created", StartedAt: "0001-01-01T00:00:00Z" })), false);
    assert.equal(restartsOnDaemonStart(record("always", { Status: "dead", Dead: true })), false);
  });

  it("--rm containers go unless they still run", () => {
    const rm = { HostConfig: { AutoRemove: true } } as Partial<ContainerRecord>;
    assert.equal(removedOnDaemonStart(record("no", exited(0), rm)), true);
    assert.equal(removedOnDaemonStart(record("no", { Status: "created", StartedAt: "0001-01-01T00:00:00Z" }, rm)), true);
    assert.equal(removedOnDaemonStart(record("no", { Status: "running", Running: true }, rm)), false);
    assert.equal(removedOnDaemonStart(record("no", exited(0))), false);
  });
});

describe("restore phases", () => {
  function host(records: ContainerRecord[], ended: Set<string>) {
    const calls: string[] = [];
    const h: RestoreHost = {
      all: () => records,
      hasEnded: async (c) => ended.has(c.Id),
      settleExit: async (id) => void calls.push(`settle ${id}`),
      resume: (c) => void calls.push(`resume ${c.Id}`),
      holdVolumes: (c) => void calls.push(`hold ${c.Id}`),
      releaseUnheldVolumes: async () => void calls.push("sweep"),
      endPendingRestart: async (id) => void calls.push(`end-restart ${id}`),
      finishRemoval: async (id) => void calls.push(`finish-removal ${id}`),
      start: async (id) => void calls.push(`start ${id}`),
      autoRemove: async (id) => void calls.push(`remove ${id}`),
      warn: (msg) => void calls.push(`warn ${msg}`),
    };
    return { h, calls };
  }

  it("settles ended containers, resumes running ones, finishes removals, ends pending restarts", async () => {
    const recs = [
      { ...record("no", { Status: "running", Running: true }), Id: "a" },
      { ...record("no", { Status: "running", Running: true }), Id: "b" },
      { ...record("no", { Status: "paused", Running: true, Paused: true }), Id: "p" },
      { ...record("no", { Status: "removing" }), Id: "r" },
      { ...record("always", { Status: "restarting", Restarting: true }), Id: "w" },
      { ...record("no", exited(0)), Id: "x" },
    ];
    const { h, calls } = host(recs, new Set(["b"]));
    await settleContainers(h);
    // Every container recorded as running holds its volumes before any exit is settled (a
    // settled exit releases them); the unheld ones are unmounted last.
    assert.deepEqual(calls.slice(0, 3), ["hold a", "hold b", "hold p"]);
    assert.equal(calls.at(-1), "sweep");
    assert.deepEqual(calls.slice(3, -1).sort(), ["end-restart w", "finish-removal r", "resume a", "settle b"]);
  });

  it("starts what the policies bring back, then removes --rm leftovers; a failure is logged", async () => {
    const recs = [
      { ...record("always", exited(0)), Id: "s" },
      { ...record("no", exited(0)), Id: "n" },
      { ...record("no", exited(0), { HostConfig: { AutoRemove: true } }), Id: "rm" },
    ];
    const { h, calls } = host(recs, new Set());
    await applyDaemonStartPolicies(h);
    assert.deepEqual(calls, ["start s", "remove rm"]);
    const failing = host([{ ...record("always", exited(0)), Id: "f" }], new Set());
    failing.h.start = async () => {
      throw new Error("boom");
    };
    await applyDaemonStartPolicies(failing.h);
    assert.deepEqual(failing.calls, ["warn cannot restart container at daemon start"]);
  });
});
