#!/usr/bin/env -S node --
// The CLI, bundled into one file by `npm run build` (scripts/bundle.mjs): a command starts faster.
// "--" ends node's own options: Node 20 otherwise takes a later --env-file (pier run --env-file f)
// as its own and stops before pier starts.
import "../dist/src/cli/pier.bundle.js";
