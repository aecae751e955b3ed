import { invalidParameter } from "../errdefs/index.js";
import { goDuration, type Logger } from "../lib/index.js";
import type { HealthConfig } from "../oci/index.js";
import { nowNs, parseRFC3339Ns, rfc3339FromNs } from "./clock.js";
import type { ContainerConfig, ContainerRecord, HealthcheckResult, HealthState } from "./record.js";

// Health checks with Docker's semantics (moby daemon/health.go). The pure part (what a result
// does to State.Health, when the next check runs) is separate from the monitor that runs checks
// on timers, so it can be tested without containers. A container without a healthcheck gets no
// monitor, no timer and no State.Health: it costs nothing.

const MS = 1_000_000; // nanoseconds
const DEFAULT_INTERVAL = 30_000 * MS;
const DEFAULT_TIMEOUT = 30_000 * MS;
const DEFAULT_START_INTERVAL = 5_000 * MS;
const DEFAULT_RETRIES = 3;
/** How long an exec may take to start before the check counts as failed (moby's fixed 30 s). */
const START_TIMEOUT_MS = 30_000;
/** After killing an overrunning check, how long to wait for it before moving on regardless. */
const KILL_GRACE_MS = 10_000;
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT = 4096;

export const HEALTH_STATUSES = ["starting", "healthy", "unhealthy", "none"] as const;

/** The command a healthcheck runs, or undefined when there is none (no Test, NONE, unknown type). */
export function probeCommand(config: Pick<ContainerConfig, "Healthcheck" | "Shell">): string[] | undefined {
  const test = config.Healthcheck?.Test;
  if (!test || test.length === 0) return undefined;
  switch (test[0]) {
    case "CMD":
      return test.slice(1);
    case "CMD-SHELL":
      return [...(config.Shell?.length ? config.Shell : ["/bin/sh", "-c"]), ...test.slice(1)];
    default:
      return undefined; // "NONE", or a type Docker also ignores
  }
}

/** moby validateHealthCheck, on the create request's own Healthcheck (400 with Docker's words). */
export function validateHealthcheck(h: HealthConfig | null | undefined): void {
  if (!h) return;
  const min = (v: number | undefined, name: string) => {
    if (v && v < MS) throw invalidParameter(`${name} in Healthcheck cannot be less than 1ms`);
  };
  min(h.Interval, "Interval");
  min(h.Timeout, "Timeout");
  if ((h.Retries ?? 0) < 0) throw invalidParameter("Retries in Healthcheck cannot be negative");
  min(h.StartPeriod, "StartPeriod");
  min(h.StartInterval, "StartInterval");
}

/** moby's merge of the image's healthcheck into the container's: unset fields are inherited. */
export function mergeHealthcheck(own: HealthConfig | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  if (!image) return own;
  if (!own) return image;
  const out = { ...own };
  if (!out.Test || out.Test.length === 0) out.Test = image.Test;
  if (!out.Interval && image.Interval) out.Interval = image.Interval;
  if (!out.Timeout && image.Timeout) out.Timeout = image.Timeout;
  if (!out.StartPeriod && image.StartPeriod) out.StartPeriod = image.StartPeriod;
  if (!out.StartInterval && image.StartInterval) out.StartInterval = image.StartInterval;
  if (!out.Retries && image.Retries) out.Retries = image.Retries;
  return out;
}

/** Milliseconds until the next check: the start interval while starting within the start period. */
export function nextCheckDelayMs(h: HealthConfig, startedAtNs: bigint, nowNsValue: bigint, status: HealthState["Status"]): number {
  const interval = h.Interval || DEFAULT_INTERVAL;
  const inStartPeriod = withinStartPeriod(h, nowNsValue - startedAtNs);
  const ns = inStartPeriod && status === "starting" ? h.StartInterval || DEFAULT_START_INTERVAL : interval;
  return ns / MS;
}

/**
 * moby handleProbeResult: log the result (the last five kept), then a success makes the
 * container healthy; a failure counts towards `Retries` unless the container is still starting
 * within its start period. Returns the new status when it changed.
 */
export function applyResult(health: HealthState, result: HealthcheckResult, h: HealthConfig, startedAtNs: bigint): HealthState["Status"] | undefined {
  const old = health.Status;
  health.Log = [...health.Log, result].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) {
    health.FailingStreak = 0;
    health.Status = "healthy";
  } else {
    const forgiven = health.Status === "starting" && withinStartPeriod(h, parseRFC3339Ns(result.Start) - startedAtNs);
    if (!forgiven) {
      health.FailingStreak += 1;
      if (health.FailingStreak >= (h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES)) health.Status = "unhealthy";
    }
  }
  return health.Status !== old ? health.Status : undefined;
}

function withinStartPeriod(h: HealthConfig, sinceStartNs: bigint): boolean {
  return !!h.StartPeriod && sinceStartNs < BigInt(h.StartPeriod);
}

/** moby limitedBuffer: the first 4096 bytes of stdout and stderr together, "..." if more came. */
export class ProbeOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  write(d: Buffer): void {
    const keep = Math.min(MAX_OUTPUT - this.size, d.length);
    if (keep > 0) {
      this.chunks.push(d.subarray(0, keep));
      this.size += keep;
    }
    if (keep < d.length) this.truncated = true;
  }

  toString(): string {
    return Buffer.concat(this.chunks).toString("utf8") + (this.truncated ? "..." : "");
  }
}

/** The message of a check killed for overrunning its timeout (with what it printed, as moby now does). */
export function timeoutMessage(timeoutNs: number, output: string): string {
  const base = `Health check exceeded timeout (${goDuration(timeoutNs)})`;
  return output === "" ? base : `${base}: ${output}`;
}

// ------------------------------------------------------------------ the monitor

/** A check's process, as the exec machinery runs it. */
export interface HealthProbeRun {
  started: Promise<void>;
  done: Promise<number>;
  kill(): void;
}

/** What the monitor needs of the container service. */
export interface HealthHost {
  find(id: string): ContainerRecord | undefined;
  emit(c: ContainerRecord, action: string): void;
  /** Persist the record (status changes only: results alone stay in memory, as in moby). */
  save(c: ContainerRecord): Promise<void>;
  probe(c: ContainerRecord, cmd: string[], output: (d: Buffer) => void): HealthProbeRun;
  log: Logger;
}

interface Monitor {
  /** The run of the container it watches: a monitor never outlives its start. */
  startedAt: string;
  timer?: NodeJS.Timeout;
  run?: HealthProbeRun;
  stopped: boolean;
}

/** One monitor per running, unpaused container with a healthcheck (moby's monitor goroutine). */
export class HealthMonitors {
  private readonly monitors = new Map<string, Monitor>();

  constructor(private readonly host: HealthHost) {}

  /** The container (re)started or pierd found it running: status "starting", streak reset (initHealthMonitor). */
  init(c: ContainerRecord): void {
    if (!probeCommand(c.Config)) return;
    this.stop(c);
    if (c.State.Health) {
      c.State.Health.Status = "starting";
      c.State.Health.FailingStreak = 0;
    } else {
      c.State.Health = { Status: "starting", FailingStreak: 0, Log: [] };
    }
    this.update(c);
  }

  /** Run the monitor exactly when the container runs unpaused (updateHealthMonitor). */
  update(c: ContainerRecord): void {
    if (!c.State.Health) return;
    if (c.State.Running && !c.State.Paused && probeCommand(c.Config)) {
      if (this.monitors.has(c.Id)) return;
      const m: Monitor = { startedAt: c.State.StartedAt, stopped: false };
      this.monitors.set(c.Id, m);
      this.schedule(c, m);
    } else {
      this.stop(c);
    }
  }

  /**
   * Stop the monitor (container stopped, paused or removed). As in moby, a container whose
   * monitor stops reads "unhealthy" until a check says otherwise.
   */
  stop(c: ContainerRecord): void {
    const m = this.monitors.get(c.Id);
    if (!m) return;
    this.monitors.delete(c.Id);
    this.halt(m);
    if (c.State.Health) c.State.Health.Status = "unhealthy";
  }

  /** pierd shuts down: timers and checks end, the recorded state stays as it is. */
  close(): void {
    for (const m of this.monitors.values()) this.halt(m);
    this.monitors.clear();
  }

  /** How many monitors run (tests check that none leak). */
  get size(): number {
    return this.monitors.size;
  }

  private halt(m: Monitor): void {
    m.stopped = true;
    if (m.timer) clearTimeout(m.timer);
    m.timer = undefined;
    m.run?.kill();
  }

  private schedule(c: ContainerRecord, m: Monitor): void {
    const h = c.Config.Healthcheck ?? {};
    const delay = nextCheckDelayMs(h, parseRFC3339Ns(m.startedAt), nowNs(), c.State.Health?.Status ?? "starting");
    m.timer = setTimeout(() => void this.check(c.Id, m), clampDelay(delay));
    m.timer.unref();
  }

  private async check(id: string, m: Monitor): Promise<void> {
    m.timer = undefined;
    const c = this.host.find(id);
    if (m.stopped || !c || c.State.StartedAt !== m.startedAt) return;
    const result = await this.runCheck(c, m);
    // Stopped while the check ran: its result is dropped (moby checks its "done" channel).
    const cur = this.host.find(id);
    if (m.stopped || !cur?.State.Health || cur.State.StartedAt !== m.startedAt) return;
    const h = cur.Config.Healthcheck ?? {};
    const changed = applyResult(cur.State.Health, result, h, parseRFC3339Ns(m.startedAt));
    if (changed) {
      await this.host.save(cur).catch((err) => this.host.log.warn("cannot record health status", { id, err: String(err) }));
      this.host.emit(cur, `health_status: ${changed}`);
    }
    if (!m.stopped) this.schedule(cur, m);
  }

  /** One check (cmdProbe.run): a failure to run it at all is exit code -1 with the error as output. */
  private async runCheck(c: ContainerRecord, m: Monitor): Promise<HealthcheckResult> {
    const start = nowNs();
    const result = (ExitCode: number, Output: string): HealthcheckResult => ({ Start: rfc3339FromNs(start), End: rfc3339FromNs(nowNs()), ExitCode, Output });
    const output = new ProbeOutput();
    let run: HealthProbeRun;
    try {
      run = this.host.probe(c, probeCommand(c.Config)!, (d) => output.write(d));
    } catch (err) {
      return result(-1, (err as Error).message);
    }
    m.run = run;
    try {
      // Starting an exec is not the check's time: its timeout counts from when it runs.
      const ended = run.done.then(() => "ended" as const, () => "ended" as const);
      if ((await raceTimeout(Promise.race([run.started.then(() => "started" as const), ended]), START_TIMEOUT_MS)) === "timeout") {
        run.kill();
        return result(-1, `timed out starting health check for container ${c.Id}`);
      }
      const timeoutNs = c.Config.Healthcheck?.Timeout || DEFAULT_TIMEOUT;
      if ((await raceTimeout(ended, timeoutNs / MS)) === "timeout") {
        run.kill();
        // Wait for it to go (so dying checks do not pile up), but never forever.
        await raceTimeout(ended, KILL_GRACE_MS);
        return result(-1, timeoutMessage(timeoutNs, output.toString()));
      }
      return result(await run.done, output.toString());
    } catch (err) {
      return result(-1, (err as Error).message);
    } finally {
      m.run = undefined;
    }
  }
}

/** The promise's value, or "timeout" after `ms`; the timer never outlives the race. */
async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), clampDelay(ms));
    timer.unref();
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Node fires a longer timeout at once: an interval of more than ~24.8 days waits that long. */
function clampDelay(ms: number): number {
  return Math.min(Math.max(ms, 1), 2 ** 31 - 1);
}
