// `ps` / `container ls`.

import { Option, type Command } from "commander";
import type { CliContext } from "./cli-context.js";
import { containerContext, psFormat, PS_HEADER, type ContainerSummary } from "./container-format.js";
import { filtersQuery, parseFilters } from "./filters.js";
import { checkFormat, renderFormat } from "./format.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface PsOptions {
  all?: boolean;
  quiet?: boolean;
  size?: boolean;
  trunc?: boolean;
  latest?: boolean;
  last?: string;
  filter?: string[];
  format?: string;
}

export function registerPs(parent: Command, cli: CliContext, name: string, aliases: string[] = []): Command {
  return parent
    .command(name)
    .aliases(aliases)
    .description("List containers")
    .usage("[OPTIONS]")
    .option("-a, --all", "Show all containers (default shows just running)")
    .option("-f, --filter <filter>", "Filter output based on conditions provided", collect)
    .option("--format <format>", "Format output using a custom template")
    .addOption(new Option("-n, --last <int>", "Show n last created containers (includes all states)").default("-1", "-1"))
    .option("-l, --latest", "Show the latest created container (includes all states)")
    .option("--no-trunc", "Don't truncate output")
    .option("-q, --quiet", "Only display container IDs")
    .option("-s, --size", "Display total file sizes")
    .action(async (opts: PsOptions) => {
      if (opts.format && opts.quiet) cli.err("WARNING: Ignoring custom format, because both --format and --quiet are set.\n");
      const format = psFormat(opts.quiet ? undefined : opts.format, !!opts.quiet, !!opts.size);
      if (opts.format && !opts.quiet) checkFormat(opts.format, containerContext({ Id: "" }, { trunc: true }));
      let limit = Number(opts.last);
      if (opts.latest && limit === -1) limit = 1;
      // Docker asks for sizes when the template reads .Size (and {{json .}} reads every field).
      const size = !!opts.size || (opts.format !== undefined && opts.format !== "json" && /\.Size\b|\bjson\s+\.\s*(\}\}|\|)/.test(format));
      const list = await cli.client.get<ContainerSummary[]>("/containers/json", {
        all: opts.all || undefined,
        limit: limit > 0 ? limit : undefined,
        size: size || undefined,
        filters: filtersQuery(parseFilters(opts.filter)),
      });
      const rows = list.map((c) => containerContext(c, { trunc: opts.trunc !== false }));
      cli.out(renderFormat(format, rows, PS_HEADER));
    });
}
