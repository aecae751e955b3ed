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
import * as fs from "node:fs";
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
  asciiOnly(path.join(root, out));
}

// V8 keeps a script's source in the heap for as long as the script lives (lazy compilation
// reads it again), and a source with a single character above U+00FF is stored with two bytes
// per character. esbuild escapes strings but copies comments and regular-expression literals
// as they are (a "→" in a doc comment, a "µs" in a duration pattern), so the 0.7 MB daemon
// bundle sat in pierd's heap as a 1.4 MB two-byte string. Escaping every character above
// U+007F as \uXXXX keeps the meaning everywhere esbuild leaves them (comments, regular
// expressions with or without the u flag, identifiers; a surrogate pair becomes two escapes,
// which both regexp modes read as the one code point) and makes the source one byte per
// character: measured, pierd's large-object space 1652 → 960 KiB.
// Caveats: a tagged template's raw text (String.raw) would see the escape, and the source map
// is off by 5 columns per escape after one on the same line; no tagged template in the bundles
// holds such a character, and the escaped lines are comments and two regexps.
function asciiOnly(file) {
  const text = fs.readFileSync(file, "utf8");
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  if (ascii !== text) fs.writeFileSync(file, ascii);
}
