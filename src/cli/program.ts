// The `pier` command tree (commander), Docker's usage errors and exit codes.

import { Command, CommanderError, type Option } from "commander";
import { CliContext, PROGRAM, StatusError, describeError } from "./cli-context.js";
import { argumentCountMessage } from "./argument-counts.js";
import { dockerHelp } from "./help-format.js";
import { checkFlagValues } from "./flag-checks.js";
import { checkApiGatedFlags } from "./api-gated-flags.js";
import { commandStarting } from "./termination-signals.js";
import {
  registerAttach,
  registerContainerInspect,
  registerContainerPrune,
  registerKill,
  registerRename,
  registerRm,
  registerStart,
  registerStop,
  registerWait,
} from "./container-commands.js";
import {
  registerHistory,
  registerImageInspect,
  registerImagePrune,
  registerImages,
  registerImport,
  registerLoad,
  registerPull,
  registerRmi,
  registerSave,
  registerTag,
} from "./image-commands.js";
import { registerBuild } from "./build-command.js";
import { registerExec, registerPause } from "./exec-command.js";
import { registerCp } from "./cp-command.js";
import { registerCommit, registerDiff, registerExport, registerPort, registerStats, registerTop, registerUpdate } from "./observe-commands.js";
import { INSPECT_TYPES, anyObjectFetcher, runInspect, type ObjectType, type OtherObjectType } from "./inspect.js";
import { registerLogs } from "./logs-command.js";
import { registerNetwork } from "./network-commands.js";
import { registerPs } from "./ps-command.js";
import { registerCreate, registerRun } from "./run-command.js";
import { PIER_VERSION, registerSystem } from "./system-commands.js";
import { registerVolume } from "./volume-commands.js";

/** A commander parse failure, with the command it happened in. */
class UsageError extends Error {
  constructor(
    readonly parseError: CommanderError,
    readonly command: Command,
  ) {
    super(parseError.message);
  }
}

function registerInspect(program: Command, cli: CliContext): void {
  program
    .command("inspect")
    .description("Return low-level information on Docker objects")
    .usage("[OPTIONS] NAME|ID [NAME|ID...]")
    .argument("<names...>")
    .option("-f, --format <format>", "Format output using a custom template")
    .option("-s, --size", "Display total file sizes if the type is container")
    .option("--type <type>", "Only inspect objects of the given type")
    .action(async (refs: string[], opts: { format?: string; size?: boolean; type?: string }) => {
      const type = opts.type as ObjectType | OtherObjectType | undefined;
      if (type && !INSPECT_TYPES.includes(type)) {
        throw new StatusError(1, `unknown type: ${JSON.stringify(type)}: must be one of ${INSPECT_TYPES.map((k) => JSON.stringify(k)).join(", ")}`);
      }
      await runInspect(cli, refs, opts.format, anyObjectFetcher(cli, type, !!opts.size));
    });
}

function registerContainerGroup(program: Command, cli: CliContext): void {
  const container = program.command("container").description("Manage containers");
  registerRun(container, cli);
  registerCreate(container, cli);
  registerStart(container, cli);
  registerStop(container, cli, "stop");
  registerStop(container, cli, "restart");
  registerKill(container, cli);
  registerRm(container, cli, "rm", ["remove"]);
  registerRename(container, cli);
  registerWait(container, cli);
  registerAttach(container, cli);
  registerLogs(container, cli);
  registerContainerInspect(container, cli);
  registerPs(container, cli, "ls", ["list", "ps"]);
  registerContainerPrune(container, cli);
  registerExec(container, cli);
  registerPause(container, cli, "pause");
  registerPause(container, cli, "unpause");
  registerFileAndObserveCommands(container, cli);
}

/** cp, top, stats, diff, export, commit, update, port: at the top level and under `container`. */
function registerFileAndObserveCommands(parent: Command, cli: CliContext): void {
  registerCp(parent, cli);
  registerTop(parent, cli);
  registerStats(parent, cli);
  registerDiff(parent, cli);
  registerExport(parent, cli);
  registerCommit(parent, cli);
  registerUpdate(parent, cli);
  registerPort(parent, cli);
}

function registerImageGroup(program: Command, cli: CliContext): void {
  const image = program.command("image").description("Manage images");
  registerImages(image, cli, "ls", ["list"]);
  registerRmi(image, cli, "rm", ["remove"]);
  registerTag(image, cli);
  registerImageInspect(image, cli);
  registerHistory(image, cli);
  registerImagePrune(image, cli);
  registerLoad(image, cli);
  registerSave(image, cli);
  registerImport(image, cli);
  registerPull(image, cli);
  registerBuild(image, cli);
}

/** Build the whole command tree around a context. */
export function buildProgram(cli: CliContext): Command {
  const program = new Command(PROGRAM)
    .usage("[OPTIONS] COMMAND")
    .description("A self-sufficient runtime for containers")
    .helpOption("--help", "Print usage")
    .enablePositionalOptions()
    .option("-H, --host <list>", "Daemon socket to connect to")
    .option("-D, --debug", "Enable debug mode")
    .option("-l, --log-level <level>", 'Set the logging level ("debug", "info", "warn", "error", "fatal")')
    .option("-c, --context <name>", "Name of the context to use to connect to the daemon")
    .option("--config <dir>", "Location of client config files")
    .version(`Pier version ${PIER_VERSION}`, "-v, --version", "Print version information and quit")
    .configureOutput({
      writeOut: (s) => cli.out(s),
      writeErr: (s) => cli.err(s),
      outputError: () => undefined,
    })
    .showSuggestionAfterError(false)
    .configureHelp({ formatHelp: (cmd) => dockerHelp(cmd as Command) });
  program.hook("preAction", async (thisCommand, actionCommand) => {
    cli.hostFlag = (thisCommand.opts() as { host?: string }).host;
    commandStarting(actionCommand.name());
    await checkApiGatedFlags(actionCommand, cli);
  });

  registerRun(program, cli);
  registerCreate(program, cli);
  registerStart(program, cli);
  registerStop(program, cli, "stop");
  registerStop(program, cli, "restart");
  registerKill(program, cli);
  registerRm(program, cli);
  registerPs(program, cli, "ps");
  registerLogs(program, cli);
  registerInspect(program, cli);
  registerRename(program, cli);
  registerWait(program, cli);
  registerAttach(program, cli);
  registerExec(program, cli);
  registerPause(program, cli, "pause");
  registerPause(program, cli, "unpause");
  registerFileAndObserveCommands(program, cli);
  registerImages(program, cli, "images");
  registerRmi(program, cli, "rmi");
  registerTag(program, cli);
  registerPull(program, cli);
  registerLoad(program, cli);
  registerSave(program, cli);
  registerImport(program, cli);
  registerHistory(program, cli);
  registerBuild(program, cli);
  registerContainerGroup(program, cli);
  registerImageGroup(program, cli);
  registerVolume(program, cli);
  registerNetwork(program, cli);
  registerSystem(program, cli);

  const each = (cmd: Command) => {
    checkFlagValues(cmd);
    cmd.exitOverride((err) => {
      throw new UsageError(err, cmd);
    });
    cmd.commands.forEach(each);
  };
  each(program);
  return program;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Docker's wording and exit code for a usage error. */
function usageFailure(err: UsageError): StatusError {
  const { parseError: cause, command } = err;
  const path = commandPath(command);
  // The root's usage line in errors is cobra's UseLine, which adds "[ARG...]".
  const usage = `Usage:  ${path} ${command.usage()}${command.parent ? "" : " [ARG...]"}`;
  const flagOf = (msg: string) => /'([^']+)'/.exec(msg)?.[1] ?? msg;
  switch (cause.code) {
    case "commander.helpDisplayed":
    case "commander.version":
    case "commander.help":
      return new StatusError(0);
    case "commander.unknownOption": {
      const flag = flagOf(cause.message);
      const text = flag.startsWith("--") ? `unknown flag: ${flag}` : `unknown shorthand flag: '${flag.replace(/^-/, "")[0]}' in ${flag}`;
      return new StatusError(125, `${text}\n\n${usage}\n\nRun '${path} --help' for more information`);
    }
    case "commander.optionMissingArgument":
      return new StatusError(125, `flag needs an argument: ${flagOf(cause.message).split(/[ ,]+/).find((t) => t.startsWith("--")) ?? flagOf(cause.message)}\n\n${usage}\n\nRun '${path} --help' for more information`);
    case "commander.invalidArgument": {
      // Our parsers' words (flag-checks.ts) after commander's "option '…' argument '…' is invalid. ".
      const text = / is invalid\. (.*)$/s.exec(cause.message)?.[1] ?? cause.message;
      return new StatusError(125, `${text}\n\n${usage}\n\nRun '${path} --help' for more information`);
    }
    case "commander.unknownCommand":
      return new StatusError(1, `${PROGRAM}: unknown command: ${path} ${flagOf(cause.message)}\n\nRun '${path} --help' for more information`);
    case "commander.missingArgument":
    case "commander.excessArguments":
      return new StatusError(1, argumentCountMessage(command, path, usage));
    default:
      return new StatusError(125, `${cause.message.replace(/^error: /, "")}\n\n${usage}\n\nRun '${path} --help' for more information`);
  }
}

/**
 * Docker's bool flags take "--flag=true|false"; commander's do not. Rewrite them for the
 * command that argv names, up to its first positional argument.
 */
export function normalizeBoolFlags(program: Command, args: readonly string[]): string[] {
  const out = [...args];
  let cmd: Command = program;
  const takesValue = (c: Command, token: string) => {
    const opt = c.options.find((o: Option) => o.long === token || o.short === token);
    return !!opt && (opt.required || opt.optional);
  };
  for (let i = 0; i < out.length; i++) {
    const a = out[i]!;
    if (a === "--") break;
    const m = /^(--[a-z0-9-]+|-[a-zA-Z])=(true|false|1|0)$/i.exec(a);
    if (m) {
      const opt = cmd.options.find((o: Option) => o.long === m[1] || o.short === m[1]);
      if (opt && !opt.required && !opt.optional && opt.long) {
        const on = /^(true|1)$/i.test(m[2]!);
        if (on) out[i] = opt.long;
        else {
          const negated = cmd.options.find((o: Option) => o.long === `--no-${opt.long!.slice(2)}`);
          if (negated) out[i] = negated.long!;
          else {
            out.splice(i, 1);
            i--;
          }
        }
      }
      continue;
    }
    if (a.startsWith("-")) {
      if (!a.includes("=") && takesValue(cmd, a)) i++;
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    cmd = sub;
  }
  return out;
}

/** Run the CLI on argv (without node and script); returns the exit code. */
export async function runCli(args: readonly string[], cli = new CliContext()): Promise<number> {
  const program = buildProgram(cli);
  if (args.length === 0) {
    cli.out(program.helpInformation());
    return 0;
  }
  let code = 0;
  try {
    await program.parseAsync(normalizeBoolFlags(program, args), { from: "user" });
  } catch (err) {
    let failure: StatusError;
    if (err instanceof UsageError) failure = usageFailure(err);
    else if (err instanceof StatusError) failure = err;
    else failure = new StatusError(1, describeError(err));
    if (failure.message) cli.err(`${failure.message}\n`);
    code = failure.code;
  }
  if (cli.hasClient) await cli.client.destroy().catch(() => undefined);
  return code;
}
