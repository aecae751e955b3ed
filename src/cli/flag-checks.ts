// Flag values checked when they are parsed, as pflag checks them: `-t x` or `--filter bad` is
// a usage error (exit 125, with the usage lines) before anything reaches the daemon, worded
// as docker's flag types word it (Go's strconv for numbers, units.RAMInBytes for sizes,
// opts.FilterOpt for filters).

import { InvalidArgumentError, type Command, type Option } from "commander";
import { ramInBytes } from "./units.js";

const KINDS: Record<string, { fn: string; min: bigint; max: bigint }> = {
  int: { fn: "ParseInt", min: -(2n ** 63n), max: 2n ** 63n - 1n },
  int64: { fn: "ParseInt", min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint16: { fn: "ParseUint", min: 0n, max: 2n ** 16n - 1n },
  uint: { fn: "ParseUint", min: 0n, max: 2n ** 64n - 1n },
  uint64: { fn: "ParseUint", min: 0n, max: 2n ** 64n - 1n },
};

/** The flag as pflag names it in errors: "-t, --timeout" or "--time". */
export function flagName(opt: Option): string {
  return opt.short && opt.long ? `${opt.short}, ${opt.long}` : (opt.long ?? opt.short ?? "");
}

/** Go's strconv error for a value that is not a number of this kind, or undefined. */
export function numberError(value: string, kind: string): string | undefined {
  const k = KINDS[kind];
  if (!k) return undefined;
  const signed = k.fn === "ParseInt";
  const syntax = signed ? /^[+-]?\d+$/ : /^\+?\d+$/;
  if (!syntax.test(value)) return `strconv.${k.fn}: parsing ${JSON.stringify(value)}: invalid syntax`;
  const n = BigInt(value);
  if (n < k.min || n > k.max) return `strconv.${k.fn}: parsing ${JSON.stringify(value)}: value out of range`;
  return undefined;
}

const invalid = (opt: Option, value: string, why: string) =>
  new InvalidArgumentError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flagName(opt))} flag: ${why}`);

/**
 * Give every number flag of the command (placeholder <int>, <uint16> …) without a parser one
 * that checks it, and make every filter flag (<filter>) check "name=value" before collecting.
 */
export function checkFlagValues(cmd: Command): void {
  for (const opt of cmd.options) {
    const kind = /<(int|int64|uint|uint16|uint64)>/.exec(opt.flags)?.[1];
    if (kind && !opt.parseArg) {
      opt.argParser((value: string) => {
        const err = numberError(value, kind);
        if (err) throw invalid(opt, value, err);
        return value;
      });
    }
    if (opt.flags.includes("<bytes>") && !opt.parseArg) {
      // opts.MemBytes (units.RAMInBytes); --memory-swap's MemSwapBytes also takes -1.
      opt.argParser((value: string) => {
        if (opt.long === "--memory-swap" && value === "-1") return value;
        try {
          ramInBytes(value);
        } catch (err) {
          throw invalid(opt, value, (err as Error).message);
        }
        return value;
      });
    }
    if (opt.flags.includes("<filter>")) {
      const collect = opt.parseArg as ((value: string, previous: unknown) => unknown) | undefined;
      opt.argParser((value: string, previous: unknown) => {
        if (!value.includes("=")) throw invalid(opt, value, "bad format of filter (expected name=value)");
        return collect ? collect(value, previous) : value;
      });
    }
  }
}
