#!/usr/bin/env node
// What one child process start costs the event loop: child_process.spawn (libuv: fork of the
// whole process, then a wait until the child has exec'd) against Pier's spawnProcess
// (posix_spawn: CLONE_VM|CLONE_VFORK), in a node process grown to RSS_MIB (pierd holds ~60 MiB).
// Times the synchronous call (the main thread is blocked for exactly that long) of N starts of
// /bin/true each, the two kinds interleaved so that machine load hits both alike, each start
// waited to "close" before the next.
//
//   node bench/scripts/spawn-cost.mjs            (after npm run build)
//   RSS_MIB=250 N=50 node bench/scripts/spawn-cost.mjs
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";

const { spawnProcess } = await import(new URL("../../dist/src/sys/spawn.js", import.meta.url).href);
const N = Number(process.env.N || 50);
const RSS_MIB = Number(process.env.RSS_MIB || 60);

// Touched memory up to the target RSS: page tables to copy on fork are those of mapped pages.
const ballastBytes = Math.max(0, RSS_MIB * 1048576 - process.memoryUsage().rss);
const ballast = Buffer.alloc(ballastBytes, 1);

const once = (child) => new Promise((resolve, reject) => {
  child.on("error", reject);
  child.on("close", resolve);
});

async function time(kind) {
  const t0 = performance.now();
  const child = kind === "node" ? spawn("/bin/true", [], { stdio: ["ignore", "ignore", "ignore"] }) : spawnProcess("/bin/true", [], { stdio: ["ignore", "ignore", "ignore"] });
  const sync = performance.now() - t0;
  await once(child);
  return { sync, total: performance.now() - t0 };
}

const results = { node: [], posix: [] };
for (let i = 0; i < 3; i++) {
  await time("node");
  await time("posix");
}
for (let i = 0; i < N; i++) {
  for (const kind of i % 2 ? ["node", "posix"] : ["posix", "node"]) results[kind].push(await time(kind));
}

const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${q(0.5).toFixed(3)} ms, p90 ${q(0.9).toFixed(3)} ms, mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3)} ms`;
};
console.log(`RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB (ballast ${(ballast.length / 1048576).toFixed(0)} MiB), ${N} starts of /bin/true each`);
for (const [kind, label] of [["node", "child_process.spawn"], ["posix", "spawnProcess (posix_spawn)"]]) {
  console.log(`${label.padEnd(28)} blocked the loop: ${stat(results[kind].map((r) => r.sync))}`);
  console.log(`${"".padEnd(28)} start to close:   ${stat(results[kind].map((r) => r.total))}`);
}
