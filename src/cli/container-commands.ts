// Container lifecycle commands: start, stop, restart, kill, rm, rename, wait, attach, inspect.

import { Option, type Command } from "commander";
import { attachContainer, monitorTtySize, proxySignals } from "./attach-session.js";
import { CliContext, StatusError, describeError, isNotFound, promptForConfirmation } from "./cli-context.js";
import { filtersQuery, parseFilters } from "./filters.js";
import { humanSize } from "./units.js";
import { inspectFetchers, runInspect } from "./inspect.js";
import { commandFailure, startFailureCode } from "./run-command.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];
const cpath = (ref: string, suffix = "") => `/containers/${encodeURIComponent(ref)}${suffix}`;

/**
 * Run an action on each container named; print each name that succeeded, then all errors,
 * and fail with exit 1 if any did (the docker CLI's pattern for stop, kill, rm, ...).
 */
export async function forEachContainer(
  cli: CliContext,
  refs: readonly string[],
  action: (ref: string) => Promise<void>,
  options: { print?: boolean; trailer?: (failed: string[]) => string; forgive?: (err: unknown) => boolean } = {},
): Promise<void> {
  const errors: string[] = [];
  const failed: string[] = [];
  for (const ref of refs) {
    try {
      await action(ref);
      if (options.print !== false) cli.out(`${ref}\n`);
    } catch (err) {
      // A forgiven error is still shown, but the command succeeds (rm -f of a missing container).
      if (options.forgive?.(err)) {
        cli.err(`${describeError(err)}\n`);
        continue;
      }
      errors.push(describeError(err));
      failed.push(ref);
    }
  }
  if (errors.length) {
    if (options.trailer) errors.push(options.trailer(failed));
    throw new StatusError(1, errors.join("\n"));
  }
}

interface ContainerJSON {
  Id: string;
  Config: { Tty: boolean; OpenStdin: boolean; AttachStdin?: boolean };
  HostConfig: { AutoRemove?: boolean };
  State: { Running: boolean; ExitCode: number };
}

export function registerStart(parent: Command, cli: CliContext): Command {
  return parent
    .command("start")
    .description("Start one or more stopped containers")
    .usage("[OPTIONS] CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .option("-a, --attach", "Attach STDOUT/STDERR and forward signals")
    .option("-i, --interactive", "Attach container's STDIN")
    .option("--detach-keys <keys>", "Override the key sequence for detaching a container")
    .action(async (refs: string[], opts: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      if (opts.attach || opts.interactive) {
        if (refs.length > 1) throw new StatusError(1, "you cannot start and attach multiple containers at once");
        const code = await startAttached(cli, refs[0]!, !!opts.interactive, opts.detachKeys);
        if (code !== 0) throw new StatusError(code);
        return;
      }
      await forEachContainer(cli, refs, (ref) => cli.client.post(cpath(ref, "/start")).then(() => undefined), {
        trailer: (failed) => `Error: failed to start containers: ${failed.join(", ")}`,
      });
    });
}

async function startAttached(cli: CliContext, ref: string, interactive: boolean, detachKeys?: string): Promise<number> {
  const c = await cli.client.get<ContainerJSON>(cpath(ref, "/json"));
  const tty = c.Config.Tty;
  const session = await attachContainer(cli, c.Id, {
    stdin: interactive && c.Config.OpenStdin,
    stdout: true,
    stderr: true,
    tty,
    detachKeys,
  });
  const condition = c.HostConfig.AutoRemove ? "removed" : "next-exit";
  const waitRes = await cli.client.request("POST", cpath(c.Id, "/wait"), { query: { condition } });
  const waitBody = waitRes.json<{ StatusCode: number }>();
  waitBody.catch(() => undefined);
  try {
    await cli.client.post(cpath(c.Id, "/start"));
  } catch (err) {
    session.close();
    throw commandFailure("start", err, startFailureCode(describeError(err)));
  }
  const stopResize = tty ? monitorTtySize(cli, c.Id) : () => undefined;
  const stopSignals = tty ? () => undefined : proxySignals(cli, c.Id);
  try {
    await session.done;
    if (session.detached) return 0;
    return (await waitBody).StatusCode;
  } finally {
    stopResize();
    stopSignals();
  }
}

export function registerStop(parent: Command, cli: CliContext, name: "stop" | "restart"): Command {
  return parent
    .command(name)
    .description(name === "stop" ? "Stop one or more running containers" : "Restart one or more containers")
    .usage("[OPTIONS] CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .option("-s, --signal <signal>", "Signal to send to the container")
    .option("-t, --timeout <int>", "Seconds to wait before killing the container")
    .addOption(new Option("--time <int>").hideHelp())
    .action(async (refs: string[], opts: { signal?: string; timeout?: string; time?: string }) => {
      const t = opts.timeout ?? opts.time;
      await forEachContainer(cli, refs, (ref) => cli.client.post(cpath(ref, `/${name}`), { signal: opts.signal, t }).then(() => undefined));
    });
}

export function registerKill(parent: Command, cli: CliContext): Command {
  return parent
    .command("kill")
    .description("Kill one or more running containers")
    .usage("[OPTIONS] CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .option("-s, --signal <signal>", "Signal to send to the container")
    .action(async (refs: string[], opts: { signal?: string }) => {
      await forEachContainer(cli, refs, (ref) => cli.client.post(cpath(ref, "/kill"), { signal: opts.signal || undefined }).then(() => undefined));
    });
}

export function registerRm(parent: Command, cli: CliContext, name = "rm", aliases: string[] = []): Command {
  return parent
    .command(name)
    .aliases(aliases)
    .description("Remove one or more containers")
    .usage("[OPTIONS] CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .option("-f, --force", "Force the removal of a running container (uses SIGKILL)")
    .option("-v, --volumes", "Remove anonymous volumes associated with the container")
    .option("-l, --link", "Remove the specified link")
    .action(async (refs: string[], opts: { force?: boolean; volumes?: boolean; link?: boolean }) => {
      await forEachContainer(cli, refs, async (ref) => {
        const name = ref.replace(/^\/+/, "");
        if (name === "") throw new Error("Container name cannot be empty");
        await cli.client.delete(cpath(name), { force: opts.force || undefined, v: opts.volumes || undefined, link: opts.link || undefined });
      }, { forgive: (err) => !!opts.force && isNotFound(err) });
    });
}

export function registerRename(parent: Command, cli: CliContext): Command {
  return parent
    .command("rename")
    .description("Rename a container")
    .usage("CONTAINER NEW_NAME")
    .argument("<container>")
    .argument("<newName>")
    .action(async (ref: string, newName: string) => {
      const oldName = ref.trim();
      const name = newName.trim();
      if (oldName === "" || name === "") throw new StatusError(1, "Error: Neither old nor new names may be empty");
      try {
        await cli.client.post(cpath(oldName, "/rename"), { name });
      } catch (err) {
        throw new StatusError(1, `${describeError(err)}\nError: failed to rename container named ${oldName}`);
      }
    });
}

export function registerWait(parent: Command, cli: CliContext): Command {
  return parent
    .command("wait")
    .description("Block until one or more containers stop, then print their exit codes")
    .usage("CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .action(async (refs: string[]) => {
      await forEachContainer(
        cli,
        refs,
        async (ref) => {
          const res = await cli.client.post<{ StatusCode: number; Error?: { Message?: string } | null }>(cpath(ref, "/wait"));
          if (res.Error?.Message) throw new Error(res.Error.Message);
          cli.out(`${res.StatusCode}\n`);
        },
        { print: false },
      );
    });
}

export function registerAttach(parent: Command, cli: CliContext): Command {
  return parent
    .command("attach")
    .description("Attach local standard input, output, and error streams to a running container")
    .usage("[OPTIONS] CONTAINER")
    .argument("<container>")
    .option("--no-stdin", "Do not attach STDIN")
    .option("--sig-proxy", "Proxy all received signals to the process (default true)")
    .option("--no-sig-proxy", "Do not proxy signals")
    .option("--detach-keys <keys>", "Override the key sequence for detaching a container")
    .action(async (ref: string, opts: { stdin?: boolean; sigProxy?: boolean; detachKeys?: string }) => {
      const c = await cli.client.get<ContainerJSON>(cpath(ref, "/json"));
      if (!c.State.Running) throw new StatusError(1, "You cannot attach to a stopped container, start it first");
      const waitRes = await cli.client.request("POST", cpath(c.Id, "/wait"));
      const waitBody = waitRes.json<{ StatusCode: number }>();
      waitBody.catch(() => undefined);
      const session = await attachContainer(cli, c.Id, {
        stdin: opts.stdin !== false && c.Config.OpenStdin,
        stdout: true,
        stderr: true,
        tty: c.Config.Tty,
        detachKeys: opts.detachKeys,
      });
      const stopResize = c.Config.Tty ? monitorTtySize(cli, c.Id) : () => undefined;
      const stopSignals = !c.Config.Tty && opts.sigProxy !== false ? proxySignals(cli, c.Id) : () => undefined;
      try {
        await session.done;
        // docker attach reports the detach keys as the error they are to its stream copier (exit 1).
        if (session.detached) throw new StatusError(1, "read escape sequence");
        const code = (await waitBody).StatusCode;
        if (code !== 0) throw new StatusError(code);
      } finally {
        stopResize();
        stopSignals();
      }
    });
}

export function registerContainerInspect(parent: Command, cli: CliContext): Command {
  return parent
    .command("inspect")
    .description("Display detailed information on one or more containers")
    .usage("[OPTIONS] CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .option("-f, --format <format>", "Format output using a custom template")
    .option("-s, --size", "Display total file sizes")
    .action(async (refs: string[], opts: { format?: string; size?: boolean }) => {
      await runInspect(cli, refs, opts.format, inspectFetchers(cli, { size: opts.size }).container);
    });
}

export function registerContainerPrune(parent: Command, cli: CliContext): Command {
  return parent
    .command("prune")
    .description("Remove all stopped containers")
    .usage("[OPTIONS]")
    .option("--filter <filter>", 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option("-f, --force", "Do not prompt for confirmation")
    .action(async (opts: { filter?: string[]; force?: boolean }) => {
      if (!opts.force && !(await promptForConfirmation(cli, "WARNING! This will remove all stopped containers."))) return;
      const report = await cli.client.post<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>("/containers/prune", {
        filters: filtersQuery(parseFilters(opts.filter)),
      });
      if (report.ContainersDeleted?.length) cli.out(`Deleted Containers:\n${report.ContainersDeleted.map((c) => `${c}\n`).join("")}\n`);
      cli.out(`Total reclaimed space: ${humanSize(report.SpaceReclaimed ?? 0)}\n`);
    });
}
