#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size --expose-gc --v8-pool-size=1 --no-sparkplug
// The V8 flags keep the daemon small: young-generation semi-spaces of 1 MiB instead of up to
// 16 MiB (a burst of short-lived objects, such as an image load, no longer leaves the heap
// grown), and size over speed for the heap and compiled code. Measured here: RSS after an
// image load and five runs 59 MiB instead of 71. --expose-gc lets pierd collect once when it
// goes quiet after work (src/daemon/idle-gc.ts). --v8-pool-size=1: one V8 platform worker
// instead of Node's default 4, for concurrent marking and background compiles; each
// worker that compiles or marks gets its own glibc malloc arena and stack, kept for good.
// Measured here (25 run --rm after an image load, then idle): 64.0 → 61.0 MiB, run latency
// and list req/s unchanged within noise. Start pierd through this file (as setup.sh,
// the test harness and the benchmark do) so the flags apply. It loads the one-file bundle of
// the daemon (scripts/bundle.mjs, made by `npm run build`).
// TurboFan waits until pierd is busy: src/daemon/tier-up.ts sets V8's tier-up thresholds at
// start and puts the defaults back under load (what follows is why not a higher budget here).
// --no-sparkplug: likewise V8's baseline compiler, which tier-up.ts turns back on under load;
// here too so that start-up code does not page its compiler in either (RssFile -0.7 MiB).
// Not here: --interrupt-budget=1081344 (V8's ×16). Any TurboFan compile pages ~4 MiB of
// the compiler's code into pierd for good (RssFile 38.8 → 43.0 MiB); with ×16, the own tar
// reader and path building without path.join on the run path (tried as a preload), a load
// plus 25 `run --rm` compiled nothing and idled at 52.6-54.0 MiB instead of 57.7-59.0. But
// /_ping req/s over autocannon's 11 s fell ~20% (4 samples each, machine loaded: 7.0-9.7k
// vs 9.4-11.1k); ×8 kept it (10.5k, one sample) but compiles Node's validator wrapper
// (wrappedFn) around run 18. Also tried: ×16 until pierd is busy (more than half a core over
// 0.5 s), then v8.setFlagsFromString back to the default (it takes effect: 34 compiles in 3 s
// of /_ping instead of 15): /_ping still 4.4-8.9k (mean 7.4k) vs 6.6-9.7k (mean 8.4k) req/s,
// 6 samples each, likely as every function first burns the ×16 budget it was given.
// --maglev --max-opt=2 (no TurboFan; Maglev is experimental in Node 20's V8 11.3) idled at
// 53.9-54.1 but served /_ping at 4.2k, list 1.1k. Measured 2026-12-07, branch tarparse.
import { main } from "../dist/src/daemon/pierd.bundle.js";
await main(process.argv.slice(2));
