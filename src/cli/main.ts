// Entry point of the `pier` command: run, then leave with Docker's exit code.

import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2));
process.exit(code);
