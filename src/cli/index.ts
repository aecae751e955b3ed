export { runCli, buildProgram } from "./program.js";
export { CliContext, StatusError } from "./cli-context.js";
