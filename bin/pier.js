#!/usr/bin/env node
// The CLI, bundled into one file by `npm run build` (scripts/bundle.mjs): a command starts faster.
import "../dist/src/cli/pier.bundle.js";
