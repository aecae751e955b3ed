// How many positional arguments a command takes, and the docker CLI's words when it gets
// another number.

import type { Command } from "commander";
import { PROGRAM } from "./cli-context.js";

const argumentCounts = new WeakMap<Command, { min: number; max: number }>();

/** For the few commands whose docker check is not what their arguments declare (import: "at least 1"). */
export function dockerArgumentCount(command: Command, min: number, max: number): Command {
  argumentCounts.set(command, { min, max });
  return command;
}

const plural = (n: number) => `${n} argument${n === 1 ? "" : "s"}`;

/**
 * The docker CLI's positional-argument checks (cli/required.go: NoArgs, ExactArgs,
 * RequiresMinArgs, RequiresMaxArgs, RequiresRangeArgs), chosen from the arguments the command
 * declares: a variadic last argument means "at least", optional ones "at most". Each check has
 * its own closing line in docker; "SRun" is docker's own typo in RequiresMaxArgs, kept so that
 * scripts comparing the two see the same text.
 */
export function argumentCountMessage(command: Command, path: string, usage: string): string {
  const declared = command.registeredArguments;
  const override = argumentCounts.get(command);
  const min = override?.min ?? declared.filter((a) => a.required).length;
  const max = override?.max ?? (declared.some((a) => a.variadic) ? Infinity : declared.length);
  const head = `${PROGRAM}: '${path}'`;
  const tail = (verb: string) => `\n\n${usage}\n\n${verb} '${path} --help' for more information`;
  if (max === 0) return `${head} accepts no arguments${tail("Run")}`;
  if (min === max) return `${head} requires ${plural(min)}${tail("Run")}`;
  if (max === Infinity) return `${head} requires at least ${plural(min)}${tail("See")}`;
  if (min === 0) return `${head} requires at most ${plural(max)}${tail("SRun")}`;
  return `${head} requires at least ${min} and at most ${plural(max)}${tail("Run")}`;
}
