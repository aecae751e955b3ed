// `volume create|ls|inspect|rm|prune`.

import { Command } from "commander";
import { CliContext, StatusError, describeError, promptForConfirmation } from "./cli-context.js";
import { filtersQuery, parseFilters } from "./filters.js";
import { joinLabels, makeContext, renderFormat } from "./format.js";
import { inspectFetchers, runInspect } from "./inspect.js";
import { humanSize, humanSizeWithPrecision } from "./units.js";
import { GO_TYPE } from "./template.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export interface VolumeSummary {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Scope?: string;
  Labels?: Record<string, string> | null;
  Options?: Record<string, string> | null;
  CreatedAt?: string;
  UsageData?: { Size: number; RefCount: number } | null;
}

export const VOLUME_HEADER: Record<string, string> = {
  Name: "VOLUME NAME",
  Driver: "DRIVER",
  Scope: "SCOPE",
  Mountpoint: "MOUNTPOINT",
  Labels: "LABELS",
  Links: "LINKS",
  Size: "SIZE",
  Group: "GROUP",
  Availability: "AVAILABILITY",
  Status: "STATUS",
};

/** formatter.volumeContext rows. */
export function volumeContexts(volumes: readonly VolumeSummary[]): Record<string, unknown>[] {
  return volumes.map((v) =>
    makeContext(
      "*formatter.volumeContext",
      {
        Name: v.Name,
        Driver: v.Driver,
        Scope: v.Scope ?? "",
        Mountpoint: v.Mountpoint,
        Labels: joinLabels(v.Labels),
        Links: v.UsageData ? String(v.UsageData.RefCount) : "N/A",
        Size: v.UsageData && v.UsageData.Size >= 0 ? humanSizeWithPrecision(v.UsageData.Size, 3) : "N/A",
        Group: "N/A",
        Availability: "N/A",
        Status: "N/A",
      },
      { Label: (name: unknown) => (v.Labels ?? {})[String(name)] ?? "" },
    ),
  );
}

export function registerVolume(program: Command, cli: CliContext): Command {
  const volume = program.command("volume").description("Manage volumes");

  volume
    .command("create")
    .description("Create a volume")
    .usage("[OPTIONS] [VOLUME]")
    .argument("[name]")
    .option("-d, --driver <driver>", "Specify volume driver name", "local")
    .option("--name <name>", "Specify volume name")
    .option("--label <label>", "Set metadata for a volume", collect)
    .option("-o, --opt <opt>", "Set driver specific options", collect)
    .action(async (nameArg: string | undefined, opts: { driver: string; name?: string; label?: string[]; opt?: string[] }) => {
      if (nameArg && opts.name && nameArg !== opts.name) {
        throw new StatusError(1, `conflicting options: cannot specify a volume-name through both --name and as a positional arg`);
      }
      const toMap = (list: string[] | undefined) => {
        const out: Record<string, string> = {};
        for (const e of list ?? []) {
          const eq = e.indexOf("=");
          if (eq < 0) out[e] = "";
          else out[e.slice(0, eq)] = e.slice(eq + 1);
        }
        return out;
      };
      const vol = await cli.client.post<VolumeSummary>("/volumes/create", undefined, {
        Driver: opts.driver,
        // Left out when there are none, as docker's CLI does (omitempty): inspect then shows Options null.
        DriverOpts: opts.opt?.length ? toMap(opts.opt) : undefined,
        Labels: toMap(opts.label),
        Name: nameArg ?? opts.name ?? "",
      });
      cli.out(`${vol.Name}\n`);
    });

  volume
    .command("ls")
    .aliases(["list"])
    .description("List volumes")
    .usage("[OPTIONS]")
    .option("-f, --filter <filter>", "Provide filter values (e.g. \"dangling=true\")", collect)
    .option("--format <format>", "Format output using a custom template")
    .option("-q, --quiet", "Only display volume names")
    .action(async (opts: { filter?: string[]; format?: string; quiet?: boolean }) => {
      const res = await cli.client.get<{ Volumes?: VolumeSummary[] | null }>("/volumes", { filters: filtersQuery(parseFilters(opts.filter)) });
      const vols = [...(res.Volumes ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      let format = opts.format && opts.format !== "table" ? opts.format : "table {{.Driver}}\t{{.Name}}";
      if (opts.quiet && (!opts.format || opts.format === "table")) format = "{{.Name}}";
      cli.out(renderFormat(format, volumeContexts(vols), VOLUME_HEADER));
    });

  volume
    .command("inspect")
    .description("Display detailed information on one or more volumes")
    .usage("[OPTIONS] VOLUME [VOLUME...]")
    .argument("<volumes...>")
    .option("-f, --format <format>", "Format output using a custom template")
    .action(async (refs: string[], opts: { format?: string }) => {
      const fetch = inspectFetchers(cli).volume;
      await runInspect(cli, refs, opts.format, async (ref) => {
        const value = asGoVolume((await fetch(ref)).value as Record<string, unknown>);
        // json.MarshalIndent of the struct: Go's order, and <, >, & escaped.
        return { value, raw: JSON.stringify(value).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) };
      });
    });

  volume
    .command("rm")
    .aliases(["remove"])
    .summary("Remove one or more volumes")
    .description("Remove one or more volumes. You cannot remove a volume that is in use by a container.")
    .usage("[OPTIONS] VOLUME [VOLUME...]")
    .argument("<volumes...>")
    .option("-f, --force", "Force the removal of one or more volumes")
    .action(async (refs: string[], opts: { force?: boolean }) => {
      const errors: string[] = [];
      for (const ref of refs) {
        try {
          await cli.client.delete(`/volumes/${encodeURIComponent(ref)}`, { force: opts.force || undefined });
          cli.out(`${ref}\n`);
        } catch (err) {
          errors.push(describeError(err));
        }
      }
      if (errors.length) throw new StatusError(1, errors.join("\n"));
    });

  volume
    .command("prune")
    .description("Remove unused local volumes")
    .usage("[OPTIONS]")
    .option("-a, --all", "Remove all unused volumes, not just anonymous ones")
    .option("--filter <filter>", 'Provide filter values (e.g. "label=<label>")', collect)
    .option("-f, --force", "Do not prompt for confirmation")
    .action(async (opts: { all?: boolean; filter?: string[]; force?: boolean }) => {
      const res = await pruneVolumes(cli, opts, true);
      if (res.output === undefined) return;
      if (res.output) cli.out(`${res.output}\n`);
      cli.out(`Total reclaimed space: ${humanSize(res.reclaimed)}\n`);
    });

  return volume;
}

/** POST /volumes/prune; output undefined when the user said no. */
export async function pruneVolumes(
  cli: CliContext,
  opts: { all?: boolean; filter?: string[]; force?: boolean },
  confirm: boolean,
): Promise<{ reclaimed: number; output: string | undefined }> {
  const filters = parseFilters(opts.filter);
  // Before API 1.42 the daemon prunes named volumes too, and the CLI warns about all of them.
  const version = await cli.client.apiVersion();
  const pruneAll = opts.all || Number(version.split(".")[1]) < 42;
  if (opts.all) filters["all"] = { true: true };
  if (confirm && !opts.force) {
    const warning = pruneAll ? "WARNING! This will remove all local volumes not used by at least one container." : "WARNING! This will remove anonymous local volumes not used by at least one container.";
    if (!(await promptForConfirmation(cli, warning))) return { reclaimed: 0, output: undefined };
  }
  const report = await cli.client.post<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>("/volumes/prune", {
    filters: filtersQuery(filters),
  });
  let output = "";
  if (report.VolumesDeleted?.length) output = `Deleted Volumes:\n${report.VolumesDeleted.map((v) => `${v}\n`).join("")}`;
  return { reclaimed: report.SpaceReclaimed ?? 0, output };
}

/**
 * docker's volume inspect prints its volume.Volume struct, not the daemon's JSON: the fields in
 * Go's order, zero values for missing ones, omitempty ones left out. Templates see every field
 * of that type (a nil map prints "map[]"), its JSON is the struct's.
 */
function asGoVolume(v: Record<string, unknown>): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  if (v["ClusterVolume"]) json["ClusterVolume"] = v["ClusterVolume"];
  if (v["CreatedAt"]) json["CreatedAt"] = v["CreatedAt"];
  json["Driver"] = v["Driver"] ?? "";
  json["Labels"] = v["Labels"] ?? null;
  json["Mountpoint"] = v["Mountpoint"] ?? "";
  json["Name"] = v["Name"] ?? "";
  json["Options"] = v["Options"] ?? null;
  json["Scope"] = v["Scope"] ?? "";
  const status = v["Status"] as Record<string, unknown> | null | undefined;
  if (status && Object.keys(status).length > 0) json["Status"] = status;
  if (v["UsageData"]) json["UsageData"] = v["UsageData"];
  const value: Record<string, unknown> = {
    ClusterVolume: v["ClusterVolume"] ?? null,
    CreatedAt: v["CreatedAt"] ?? "",
    Driver: json["Driver"],
    Labels: v["Labels"] ?? {},
    Mountpoint: json["Mountpoint"],
    Name: json["Name"],
    Options: v["Options"] ?? {},
    Scope: json["Scope"],
    Status: status ?? {},
    UsageData: v["UsageData"] ?? null,
  };
  Object.defineProperty(value, GO_TYPE, { value: "volume.Volume", enumerable: false });
  Object.defineProperty(value, "toJSON", { value: () => json, enumerable: false });
  return value;
}
