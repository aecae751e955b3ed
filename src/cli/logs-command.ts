// `logs`: the container's output, demultiplexed unless it has a tty.

import type { Command } from "commander";
import { copyOutput } from "../client/index.js";
import { CliError, type CliContext } from "./cli-context.js";
import { getTimestamp } from "./filters.js";

interface LogsOptions {
  follow?: boolean;
  since?: string;
  until?: string;
  timestamps?: boolean;
  tail?: string;
  details?: boolean;
}

export function registerLogs(parent: Command, cli: CliContext): Command {
  return parent
    .command("logs")
    .description("Fetch the logs of a container")
    .usage("[OPTIONS] CONTAINER")
    .argument("<container>")
    .option("--details", "Show extra details provided to logs")
    .option("-f, --follow", "Follow log output")
    .option("--since <time>", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .option("-n, --tail <lines>", 'Number of lines to show from the end of the logs (default "all")')
    .option("-t, --timestamps", "Show timestamps")
    .option("--until <time>", 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    .action(async (ref: string, opts: LogsOptions) => {
      const c = await cli.client.get<{ Id: string; Config: { Tty: boolean } }>(`/containers/${encodeURIComponent(ref)}/json`);
      const now = Date.now();
      // The API client's words (client.ContainerLogs) around timetypes' error.
      const timestamp = (name: string, value: string | undefined) => {
        if (!value) return undefined;
        try {
          return getTimestamp(value, now);
        } catch (err) {
          throw new CliError(`invalid value for ${JSON.stringify(name)}: ${(err as Error).message}`);
        }
      };
      const body = await cli.client.stream("GET", `/containers/${c.Id}/logs`, {
        query: {
          stdout: true,
          stderr: true,
          since: timestamp("since", opts.since),
          until: timestamp("until", opts.until),
          timestamps: opts.timestamps || undefined,
          follow: opts.follow || undefined,
          tail: opts.tail ?? "all",
          details: opts.details || undefined,
        },
      });
      await copyOutput(body, c.Config.Tty, cli.streams.stdout, cli.streams.stderr);
    });
}
