// Flags that need a newer API than the daemon speaks. docker hides them from help and refuses
// them before anything else: '"--platform" requires API version 1.48, but the Docker daemon
// API version is 1.45'. This client speaks 1.45 at most, so for pier they always are.

import type { Command, Option } from "commander";
import { StatusError, type CliContext } from "./cli-context.js";

const minimumVersion = new WeakMap<Option, string>();

/** Mark a flag as needing API `version` (and hide it from help, as docker does below it). */
export function apiGated(option: Option, version: string): Option {
  minimumVersion.set(option, version);
  return option.hideHelp();
}

const minor = (version: string) => Number(version.split(".")[1] ?? 0);

/** Refuse, in docker's words, a gated flag given on the command line to a daemon below its version. */
export async function checkApiGatedFlags(cmd: Command, cli: CliContext): Promise<void> {
  for (const opt of cmd.options) {
    const needed = minimumVersion.get(opt);
    if (!needed || cmd.getOptionValueSource(opt.attributeName()) !== "cli") continue;
    const version = await cli.client.apiVersion();
    if (minor(version) < minor(needed)) {
      throw new StatusError(1, `"${opt.long}" requires API version ${needed}, but the Docker daemon API version is ${version}`);
    }
  }
}
