#!/usr/bin/env node
// Part of `npm run build`, after tsc: pierd's modules (dist/src/**) bundled into one file,
// dist/src/daemon/pierd.bundle.js, which bin/pierd.js loads; the CLI's likewise into
// dist/src/cli/pier.bundle.js for bin/pier.js.
//
// Why: idle memory is a target, and Node's ESM loader holding ~120 small modules costs about
// 6.5 MiB of RSS (per-module records, the loader's own code paths) that one module does not:
// measured here, a fresh pierd 58.7 MiB from dist/src, 52.0 MiB from the bundle.
// The bundle sits three levels below the project root, as every dist/src/<module>/ file does,
// so paths the modules compute from import.meta.url (assets/, build/Release/, the copy helper)
// resolve the same from either. npm packages stay outside (loaded on first use, as before).
// The unit tests import dist/src directly; the end-to-end tests start bin/pierd.js, the bundle.
import { build } from "esbuild";
import * as path from "node:path";

const root = path.resolve(new URL("..", import.meta.url).pathname);
const bundles = [
  ["dist/src/daemon/index.js", "dist/src/daemon/pierd.bundle.js"],
  // The CLI too: every `pier` command pays its start (pier version: 224 → 180 ms here, of
  // which ~100 is node's own start).
  ["dist/src/cli/main.js", "dist/src/cli/pier.bundle.js"],
];
for (const [entry, out] of bundles) {
  await build({
    entryPoints: [path.join(root, entry)],
    outfile: path.join(root, out),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "linked", // a file beside it: no cost unless node runs with --enable-source-maps
    logLevel: "warning",
  });
}
