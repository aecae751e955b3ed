// `create` and `run`, following the docker CLI: create (pulling on "No such image"), then for a
// foreground run attach and wait BEFORE start, stream, and leave with the container's exit code.

import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { ApiError } from "../client/index.js";
import { PierError } from "../errdefs/index.js";
import { attachContainer, monitorTtySize, proxySignals, type AttachSession } from "./attach-session.js";
import { CliContext, CliError, PROGRAM, StatusError, describeError } from "./cli-context.js";
import { addContainerFlags, buildCreateRequest, checkCidfile, type ContainerFlags, type CreateRequest } from "./container-options.js";
import { FlagError } from "./flag-parsers.js";
import { familiarTagged, pullForCreate } from "./image-pull.js";

/** An error of `run`/`create`: "pier: <message>" plus the help hint, exit 125 unless given. */
export function commandFailure(command: string, err: unknown, code = 125): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof CliError) return new StatusError(1, err.message);
  if (err instanceof FlagError && err.message.startsWith("invalid argument ")) {
    // pflag's wording for a bad flag value: the usage follows, no program prefix.
    const usage = `Usage:  ${PROGRAM} ${command} [OPTIONS] IMAGE [COMMAND] [ARG...]`;
    return new StatusError(125, `${err.message}\n\n${usage}\n\nRun '${PROGRAM} ${command} --help' for more information`);
  }
  return new StatusError(code, `${PROGRAM}: ${describeError(err)}\n\nRun '${PROGRAM} ${command} --help' for more information`);
}

/** Create the container, pulling its image when missing (or always, with --pull always). */
export async function createContainer(cli: CliContext, req: CreateRequest, quiet: boolean): Promise<string> {
  const hostConfig = req.body["HostConfig"] as { ContainerIDFile?: string };
  checkCidfile(hostConfig.ContainerIDFile || undefined);
  if (req.pull === "always") await pullForCreate(cli, req.image, req.platform, quiet);
  const create = () =>
    cli.client.post<{ Id: string; Warnings?: string[] | null }>("/containers/create", { name: req.name, platform: req.platform }, req.body);
  let res: { Id: string; Warnings?: string[] | null };
  try {
    res = await create();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404 || req.pull !== "missing" || !/no such image/i.test(err.message)) throw err;
    if (!quiet) cli.err(`Unable to find image '${familiarTagged(req.image)}' locally\n`);
    await pullForCreate(cli, req.image, req.platform, quiet);
    res = await create();
  }
  for (const w of res.Warnings ?? []) cli.err(`WARNING: ${w}\n`);
  if (hostConfig.ContainerIDFile) writeFileSync(hostConfig.ContainerIDFile, res.Id);
  return res.Id;
}

/** 126 for "permission denied"/"is a directory", 127 for a missing executable, else 125. */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|is a directory/.test(message)) return 126;
  return 125;
}

function consoleSize(cli: CliContext, tty: boolean): [number, number] | undefined {
  const out = cli.streams.stdout;
  if (!tty || !out.isTTY) return undefined;
  return [out.rows ?? 0, out.columns ?? 0];
}

export function registerCreate(parent: Command, cli: CliContext): Command {
  const cmd = parent
    .command("create")
    .description("Create a new container")
    .usage("[OPTIONS] IMAGE [COMMAND] [ARG...]")
    .argument("<image>")
    .argument("[command...]")
    .passThroughOptions();
  addContainerFlags(cmd, false);
  cmd.action(async (image: string, args: string[], flags: ContainerFlags) => {
    await checkOsOnlyFlags(cli, flags);
    try {
      const req = buildCreateRequest(flags, image, args, { forRun: false, consoleSize: consoleSize(cli, !!flags.tty) });
      const id = await createContainer(cli, req, !!flags.quiet);
      cli.out(`${id}\n`);
    } catch (err) {
      // The daemon's refusals are plain errors (exit 1) for create; flag problems are usage errors.
      if (err instanceof PierError && !(err instanceof FlagError)) throw new StatusError(1, describeError(err));
      throw commandFailure("create", err);
    }
  });
  return cmd;
}

export function registerRun(parent: Command, cli: CliContext): Command {
  const cmd = parent
    .command("run")
    .description("Create and run a new container from an image")
    .usage("[OPTIONS] IMAGE [COMMAND] [ARG...]")
    .argument("<image>")
    .argument("[command...]")
    .passThroughOptions();
  addContainerFlags(cmd, true);
  cmd.action(async (image: string, args: string[], flags: ContainerFlags) => {
    const code = await runContainer(cli, image, args, flags);
    if (code !== 0) throw new StatusError(code);
  });
  return cmd;
}

/** The whole of `pier run`; returns the exit code. */
/** Flags docker marks for Windows daemons only, by the name docker gives them in its refusal. */
const WINDOWS_ONLY: Array<[keyof ContainerFlags, string]> = [
  ["cpuCount", "cpu-count"],
  ["cpuPercent", "cpu-percent"],
  ["ioMaxbandwidth", "io-maxbandwidth"],
  ["ioMaxiops", "io-maxiops"],
];

/** docker's check of flags annotated "ostype": refused, each on its line, when the daemon is not that OS. */
async function checkOsOnlyFlags(cli: CliContext, flags: ContainerFlags): Promise<void> {
  const given = WINDOWS_ONLY.filter(([key]) => flags[key] !== undefined);
  if (given.length === 0) return;
  const osType = (await cli.client.ping()).osType ?? "linux";
  if (osType === "windows") return;
  throw new StatusError(1, given.map(([, name]) => `"--${name}" is only supported on a Docker daemon running on windows, but the Docker daemon is running on ${osType}`).join("\n"));
}

export async function runContainer(cli: CliContext, image: string, args: string[], flags: ContainerFlags): Promise<number> {
  let id: string;
  let req: CreateRequest;
  await checkOsOnlyFlags(cli, flags);
  try {
    req = buildCreateRequest(flags, image, args, { forRun: true, consoleSize: consoleSize(cli, !!flags.tty) });
    const body = req.body as { Tty: boolean; AttachStdin: boolean };
    if (body.Tty && body.AttachStdin && !cli.streams.stdin.isTTY) {
      throw new Error("the input device is not a TTY");
    }
    id = await createContainer(cli, req, !!flags.quiet);
  } catch (err) {
    throw commandFailure("run", err);
  }
  if (flags.detach) {
    // Docker prints the ID as soon as the container exists, before starting it.
    cli.out(`${id}\n`);
    try {
      await cli.client.post(`/containers/${id}/start`);
    } catch (err) {
      throw commandFailure("run", err, startFailureCode(describeError(err)));
    }
    return 0;
  }

  const body = req.body as { Tty: boolean; AttachStdin: boolean; AttachStdout: boolean; AttachStderr: boolean; HostConfig: { AutoRemove: boolean } };
  let session: AttachSession | undefined;
  let waitBody: Promise<{ StatusCode: number; Error?: { Message?: string } | null }>;
  try {
    if (body.AttachStdin || body.AttachStdout || body.AttachStderr) {
      session = await attachContainer(cli, id, {
        stdin: body.AttachStdin,
        stdout: body.AttachStdout,
        stderr: body.AttachStderr,
        tty: body.Tty,
        detachKeys: flags.detachKeys,
      });
    }
    // The wait must be registered before start, or a fast container's exit is missed.
    const condition = body.HostConfig.AutoRemove ? "removed" : "next-exit";
    const waitRes = await cli.client.request("POST", `/containers/${id}/wait`, { query: { condition } });
    waitBody = waitRes.json<{ StatusCode: number; Error?: { Message?: string } | null }>();
    waitBody.catch(() => undefined);
  } catch (err) {
    session?.close();
    throw commandFailure("run", err);
  }

  try {
    await cli.client.post(`/containers/${id}/start`);
  } catch (err) {
    session?.close();
    throw commandFailure("run", err, startFailureCode(describeError(err)));
  }

  const stopResize = body.Tty ? monitorTtySize(cli, id) : () => undefined;
  const stopSignals = !body.Tty && flags.sigProxy !== false ? proxySignals(cli, id) : () => undefined;
  try {
    if (session) {
      await session.done;
      if (session.detached) return 0;
    }
    const status = await waitBody;
    if (status.Error?.Message) throw new Error(status.Error.Message);
    return status.StatusCode;
  } catch (err) {
    throw commandFailure("run", err);
  } finally {
    stopResize();
    stopSignals();
  }
}
