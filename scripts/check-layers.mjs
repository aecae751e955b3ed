#!/usr/bin/env node
// Fails when an import goes against the layering in docs/architecture.md: a module imports
// only modules of lower levels, and only through their index.ts. Client-side modules never
// import daemon-side ones. Test files are exempt.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const LEVEL = {
  lib: 0, errdefs: 0,
  oci: 1, apitypes: 1, sys: 1,
  content: 2, archive: 2, metadata: 2, events: 2,
  snapshot: 3, registry: 3,
  image: 4, runtime: 4, network: 4, volume: 4,
  container: 5, builder: 5,
  api: 6,
  daemon: 7,
};
const CLIENT_SIDE = new Set(["client", "cli", "compose", "cluster"]);
const CLIENT_MAY_USE = new Set(["lib", "errdefs", "oci", "client"]);

const root = new URL("..", import.meta.url).pathname;
const src = join(root, "src");
const problems = [];

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith(".ts") && !p.endsWith(".test.ts")) yield p;
  }
}

for (const file of walk(src)) {
  const rel = relative(src, file);
  const mod = rel.split("/")[0];
  if (!(mod in LEVEL) && !CLIENT_SIDE.has(mod)) {
    problems.push(`${rel}: module "${mod}" has no level; add it to scripts/check-layers.mjs and docs/architecture.md`);
    continue;
  }
  const text = readFileSync(file, "utf8");
  // The daemon starts processes in one place (src/sys/spawn.ts: posix_spawn, not libuv's fork).
  if (mod !== "sys" && !CLIENT_SIDE.has(mod) && /(?:from\s+|import\(\s*|require\(\s*)["'](?:node:)?child_process["']/.test(text)) {
    problems.push(`${rel}: uses child_process; only src/sys starts processes (spawnProcess, run)`);
  }
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith(".")) continue;
    const target = relative(src, join(file, "..", spec));
    if (target.startsWith("..")) {
      problems.push(`${rel}: imports ${spec}, outside src/`);
      continue;
    }
    const tmod = target.split("/")[0];
    if (tmod === mod) continue;
    if (target !== `${tmod}/index.js`) problems.push(`${rel}: imports ${spec}; other modules are used only through their index.ts`);
    if (CLIENT_SIDE.has(mod)) {
      if (!CLIENT_MAY_USE.has(tmod) && !CLIENT_SIDE.has(tmod)) problems.push(`${rel}: client-side module imports daemon-side "${tmod}"`);
      continue;
    }
    if (CLIENT_SIDE.has(tmod)) {
      problems.push(`${rel}: daemon-side module imports client-side "${tmod}"`);
      continue;
    }
    if (!(LEVEL[tmod] < LEVEL[mod])) problems.push(`${rel}: "${mod}" (level ${LEVEL[mod]}) imports "${tmod}" (level ${LEVEL[tmod]}); only lower levels are allowed`);
  }
}

if (problems.length) {
  console.error(`layering check failed:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("layering check: ok");
