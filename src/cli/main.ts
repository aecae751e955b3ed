// Entry point of the `pier` command: run, then leave with Docker's exit code.

import { runCli } from "./program.js";
import { installTerminationHandling } from "./termination-signals.js";

installTerminationHandling((text) => process.stderr.write(text));

const code = await runCli(process.argv.slice(2));
process.exit(code);
