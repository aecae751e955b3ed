// V8's optimizing compiler (TurboFan) only once pierd is busy.
//
// Why: idle memory is a target, and the first TurboFan compile of any function pages some
// 3.6 MiB of the compiler's own code from the node binary into pierd for good (RssFile 39.5 →
// 43.1 MiB, measured). A light workload (a load and 25 sequential `docker run --rm`) makes
// ~28 functions hot enough for it — Node's async-hook and nextTick plumbing, path.normalize,
// fs.Stats — for no gain a user could see: pierd used 16% of a core through those runs. Under
// real load (the API benchmark: a core's worth of /_ping), optimized code is worth its pages.
//
// How: while quiet, V8 counts a function's "ticks" (one per interrupt budget of bytecode run)
// as usual but needs 100000 of them, not 3, before it optimizes, and small functions do not
// jump the queue on their first tick. When pierd is busy over a sample of 500 ms, V8's
// defaults come back, for good: the counts kept meanwhile mean the functions that were hot
// optimize at their next tick, not after a fresh warm-up (which a higher --interrupt-budget
// costs: /_ping -20% when tried). Busy: 0.8 of a core of CPU or more, or 100 requests and
// events or more (200/s: on a loaded host pierd may get little CPU however much is asked of
// it). Measured here, sequential `run --rm`: 9-25 per sample at 10-30% of a core; 10 in
// parallel: 20-42; /containers/json under autocannon with the host at load 13: 240.
import * as v8 from "node:v8";

/**
 * While quiet: tier-up thresholds no workload reaches (ticks are counted, never acted on), and
 * no baseline (Sparkplug) code either: the interpreter alone. Sparkplug's code for what a light
 * workload runs took ~1.1 MiB of V8's code space; pierd's CPU through 25 `run --rm` stayed
 * the same within noise (640-750 ms with, 650-810 without). bin/pierd.js passes
 * --no-sparkplug too, so that start-up code does not page in its compiler.
 */
export const QUIET_FLAGS = ["--ticks-before-optimization=100000", "--max-bytecode-size-for-early-opt=0", "--no-sparkplug"];
/** V8's own defaults for the same flags (Node 20, V8 11.3: `node --v8-options`). */
export const BUSY_FLAGS = ["--ticks-before-optimization=3", "--max-bytecode-size-for-early-opt=81", "--sparkplug"];

export interface TierUp {
  /** Count one piece of work (a request, an engine event); arms the sampler. */
  touch(): void;
  /** Whether V8's defaults are back (pierd has been busy). */
  readonly busy: boolean;
  stop(): void;
}

export interface TierUpOptions {
  sampleMs?: number; // 500
  busyShare?: number; // 0.8: this fraction of one core used over a sample counts as busy
  busyTouches?: number; // 100: so many requests and events in one sample count as busy
  setFlags?: (flags: string) => void; // v8.setFlagsFromString
  cpuMicros?: () => number; // the process's user + system CPU time so far, µs
  onSample?: (s: { cpuShare: number; touches: number }) => void;
  onBusy?: (why: string) => void; // for the log
  /** V8's defaults from the start (PIER_V8_TIER_UP=eager: speed over idle memory, and to compare). */
  eager?: boolean;
}

/**
 * Sets QUIET_FLAGS now and BUSY_FLAGS once pierd is busy. The sampler runs only while requests
 * or events keep coming (a sample without any disarms it), so an idle pierd never wakes for it.
 */
export function deferTierUpUntilBusy(o: TierUpOptions = {}): TierUp {
  const sampleMs = o.sampleMs ?? 500;
  // 0.8, not 0.5: on a quiet host 25 sequential `run --rm` (46 ms each) kept pierd at 0.57 of a
  // core and switched TurboFan on (idle RSS 55.6 MiB instead of 49.7, session 7); an API load
  // test runs it at a whole core.
  const busyShare = o.busyShare ?? 0.8;
  const setFlags = o.setFlags ?? ((f: string) => v8.setFlagsFromString(f));
  const busyTouches = o.busyTouches ?? 100;
  const cpuMicros = o.cpuMicros ?? (() => {
    const u = process.cpuUsage();
    return u.user + u.system;
  });
  for (const f of QUIET_FLAGS) setFlags(f);
  let busy = false;
  let work = 0;
  let timer: NodeJS.Timeout | undefined;
  let lastWork = 0;
  let lastCpu = 0;
  let lastAt = 0;

  const disarm = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const becomeBusy = (why: string) => {
    busy = true;
    disarm();
    for (const f of BUSY_FLAGS) setFlags(f);
    o.onBusy?.(why);
  };
  const sample = () => {
    const cpu = cpuMicros();
    const at = performance.now();
    const cpuShare = (cpu - lastCpu) / ((at - lastAt) * 1000);
    const touches = work - lastWork;
    lastCpu = cpu;
    lastAt = at;
    lastWork = work;
    o.onSample?.({ cpuShare, touches });
    if (cpuShare >= busyShare || touches >= busyTouches) {
      becomeBusy(`${cpuShare.toFixed(2)} of a core, ${touches} requests and events in ${sampleMs} ms`);
    } else if (touches === 0) {
      disarm(); // quiet again: the next touch re-arms
    }
  };
  if (o.eager) becomeBusy("PIER_V8_TIER_UP=eager");
  return {
    touch: () => {
      work++;
      if (busy) return;
      if (timer) {
        // A flood of requests: no need to wait for the sample's end (the first 100 of a load
        // test are a few ms; TurboFan's compiles then have the rest of the warm-up).
        if (work - lastWork >= busyTouches) becomeBusy(`${busyTouches} requests and events in under ${sampleMs} ms`);
        return;
      }
      lastCpu = cpuMicros();
      lastAt = performance.now();
      lastWork = work;
      timer = setInterval(sample, sampleMs);
      timer.unref();
    },
    get busy() {
      return busy;
    },
    stop: disarm,
  };
}

