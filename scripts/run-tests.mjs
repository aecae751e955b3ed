#!/usr/bin/env node
// Runs the compiled tests with node:test. Node 20's `node --test DIR` skips files it does not
// recognise, so the test files are listed explicitly. --unit runs only src/ tests; --e2e only
// tests/; a path filter (substring) narrows further.
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const e2eOnly = args.includes("--e2e");
const filters = args.filter((a) => !a.startsWith("--"));

function* walk(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith(".test.js")) yield p;
  }
}

const files = [
  ...(e2eOnly ? [] : [...walk(join(root, "dist/src"))]),
  ...(unitOnly ? [] : [...walk(join(root, "dist/tests"))]),
].filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));

if (files.length === 0) {
  console.error("no test files found (did the build run?)");
  process.exit(1);
}
const res = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], { stdio: "inherit", env: { ...process.env, PIER_ROOT: root } });
process.exit(res.status ?? 1);
