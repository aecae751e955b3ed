// `exec`: run a command in a running container (POST /containers/{id}/exec, then a hijacked
// POST /exec/{id}/start), leaving with the command's exit code.

import type { Command } from "commander";
import { copyOutput } from "../client/index.js";
import { monitorTtySize } from "./attach-session.js";
import { CliContext, StatusError } from "./cli-context.js";
import { forEachContainer } from "./container-commands.js";
import { parseEnvValue, parseKeyValueFile } from "./flag-parsers.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface ExecOptions {
  detach?: boolean;
  detachKeys?: string;
  env?: string[];
  envFile?: string[];
  interactive?: boolean;
  privileged?: boolean;
  tty?: boolean;
  user?: string;
  workdir?: string;
}

export function registerExec(parent: Command, cli: CliContext): Command {
  return parent
    .command("exec")
    .description("Execute a command in a running container")
    .usage("[OPTIONS] CONTAINER COMMAND [ARG...]")
    .argument("<container>")
    .argument("<command...>")
    .passThroughOptions()
    .option("-d, --detach", "Detached mode: run command in the background")
    .option("--detach-keys <keys>", "Override the key sequence for detaching a container")
    .option("-e, --env <var>", "Set environment variables", collect)
    .option("--env-file <file>", "Read in a file of environment variables", collect)
    .option("-i, --interactive", "Keep STDIN open even if not attached")
    .option("--privileged", "Give extended privileges to the command")
    .option("-t, --tty", "Allocate a pseudo-TTY")
    .option("-u, --user <user>", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
    .option("-w, --workdir <dir>", "Working directory inside the container")
    .action(async (container: string, command: string[], opts: ExecOptions) => {
      const env = [...(opts.envFile ?? []).flatMap((f) => parseKeyValueFile(f, (k) => process.env[k])), ...(opts.env ?? []).map((e) => parseEnvValue(e))];
      const attach = !opts.detach;
      const created = await cli.client.post<{ Id: string }>(`/containers/${encodeURIComponent(container)}/exec`, undefined, {
        User: opts.user ?? "",
        Privileged: !!opts.privileged,
        Tty: !!opts.tty,
        ConsoleSize: opts.tty && cli.streams.stdout.isTTY ? [cli.streams.stdout.rows ?? 0, cli.streams.stdout.columns ?? 0] : null,
        AttachStdin: attach && !!opts.interactive,
        AttachStderr: attach,
        AttachStdout: attach,
        Detach: !!opts.detach,
        DetachKeys: opts.detachKeys ?? "",
        Env: env.length ? env : null,
        WorkingDir: opts.workdir ?? "",
        Cmd: command,
      });
      const id = created.Id;
      if (opts.detach) {
        await cli.client.post(`/exec/${id}/start`, undefined, { Detach: true, Tty: !!opts.tty });
        return;
      }
      const conn = await cli.client.hijack(`/exec/${id}/start`, undefined, { Detach: false, Tty: !!opts.tty });
      const { stdin } = cli.streams;
      let raw = false;
      const onData = (d: Buffer) => {
        if (conn.stream.writable) conn.stream.write(d);
      };
      const onEnd = () => {
        if (conn.stream.writable) conn.stream.end();
      };
      if (opts.interactive && conn.upgraded) {
        if (opts.tty && stdin.isTTY && stdin.setRawMode) {
          stdin.setRawMode(true);
          raw = true;
        }
        stdin.on("data", onData);
        stdin.on("end", onEnd);
        stdin.resume();
      }
      const stopResize = opts.tty ? monitorTtySize(cli, id, "exec") : () => undefined;
      try {
        await copyOutput(conn.stream, !!opts.tty, cli.streams.stdout, cli.streams.stderr).catch((err: NodeJS.ErrnoException) => {
          if (err?.code !== "ECONNRESET" && err?.code !== "EPIPE") throw err;
        });
      } finally {
        stopResize();
        stdin.removeListener("data", onData);
        stdin.removeListener("end", onEnd);
        if (raw) stdin.setRawMode?.(false);
        stdin.pause();
      }
      const inspect = await cli.client.get<{ ExitCode: number | null; Running: boolean }>(`/exec/${id}/json`);
      const code = inspect.ExitCode ?? 0;
      if (code !== 0) throw new StatusError(code);
    });
}

export function registerPause(parent: Command, cli: CliContext, name: "pause" | "unpause"): Command {
  return parent
    .command(name)
    .description(name === "pause" ? "Pause all processes within one or more containers" : "Unpause all processes within one or more containers")
    .usage("CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .action(async (refs: string[]) => {
      await forEachContainer(cli, refs, (ref) => cli.client.post(`/containers/${encodeURIComponent(ref)}/${name}`).then(() => undefined));
    });
}
