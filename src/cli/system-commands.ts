// `system info|df|prune|events`, and the top-level `info`, `events`, `version`.

import { Command } from "commander";
import { BIG_INT_PREFIX, CLIENT_API_VERSION } from "../client/index.js";
import { CliContext, StatusError, describeError, promptForConfirmation } from "./cli-context.js";
import { containerContext, type ContainerSummary } from "./container-format.js";
import { filtersQuery, getTimestamp, parseFilters } from "./filters.js";
import { makeContext, preFormat, renderFormat, rfc3339NanoFixed } from "./format.js";
import { imageContexts, type ImageSummary } from "./image-format.js";
import { pruneImages } from "./image-commands.js";
import { pruneNetworks } from "./network-commands.js";
import { tabwrite } from "./tabwriter.js";
import { GO_TYPE, Template, TemplateError } from "./template.js";
import { bytesSize, humanSize } from "./units.js";
import { pruneVolumes, volumeContexts, type VolumeSummary } from "./volume-commands.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const PIER_VERSION = "0.1.0";

// ------------------------------------------------------------------ info

type Info = Record<string, unknown> & {
  Plugins?: { Volume?: string[] | null; Network?: string[] | null; Authorization?: string[] | null; Log?: string[] | null };
  Swarm?: { LocalNodeState?: string };
  Runtimes?: Record<string, unknown>;
  ContainerdCommit?: { ID?: string };
  RuncCommit?: { ID?: string };
  InitCommit?: { ID?: string };
  SecurityOptions?: string[] | null;
  DriverStatus?: string[][] | null;
  SystemStatus?: string[][] | null;
  Labels?: string[] | null;
  RegistryConfig?: { InsecureRegistryCIDRs?: string[] | null; IndexConfigs?: Record<string, { Name: string; Secure: boolean }> | null; Mirrors?: string[] | null } | null;
  DefaultAddressPools?: Array<{ Base: string; Size: number }> | null;
  Warnings?: string[] | null;
  CDISpecDirs?: string[] | null;
};

const goBool = (v: unknown) => (v ? "true" : "false");

/** The server half of `docker info`, line for line as prettyPrintServerInfo prints it. */
export function renderServerInfo(info: Info): string {
  const lines: string[] = [];
  const ln = (...parts: unknown[]) => lines.push(parts.map((p) => (typeof p === "boolean" ? goBool(p) : String(p ?? ""))).join(" "));
  const nonEmpty = (label: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") ln(label, v);
  };
  ln(" Containers:", info["Containers"] ?? 0);
  ln("  Running:", info["ContainersRunning"] ?? 0);
  ln("  Paused:", info["ContainersPaused"] ?? 0);
  ln("  Stopped:", info["ContainersStopped"] ?? 0);
  ln(" Images:", info["Images"] ?? 0);
  nonEmpty(" Server Version:", info["ServerVersion"]);
  nonEmpty(" Storage Driver:", info["Driver"]);
  for (const [k, v] of info.DriverStatus ?? []) lines.push(`  ${k}: ${v}`);
  for (const [k, v] of info.SystemStatus ?? []) lines.push(` ${k}: ${v}`);
  nonEmpty(" Logging Driver:", info["LoggingDriver"]);
  nonEmpty(" Cgroup Driver:", info["CgroupDriver"]);
  nonEmpty(" Cgroup Version:", info["CgroupVersion"]);
  ln(" Plugins:");
  ln("  Volume:", (info.Plugins?.Volume ?? []).join(" "));
  ln("  Network:", (info.Plugins?.Network ?? []).join(" "));
  if (info.Plugins?.Authorization?.length) ln("  Authorization:", info.Plugins.Authorization.join(" "));
  ln("  Log:", (info.Plugins?.Log ?? []).join(" "));
  if (info.CDISpecDirs?.length) {
    ln(" CDI spec directories:");
    for (const d of info.CDISpecDirs) lines.push(`  ${d}`);
  }
  ln(" Swarm:", info.Swarm?.LocalNodeState ?? "");
  const runtimes = Object.keys(info.Runtimes ?? {});
  if (runtimes.length) {
    ln(" Runtimes:", runtimes.join(" "));
    ln(" Default Runtime:", info["DefaultRuntime"]);
  }
  if (info["OSType"] === "linux") {
    ln(" Init Binary:", info["InitBinary"]);
    lines.push(` containerd version: ${info.ContainerdCommit?.ID ?? ""}`);
    lines.push(` runc version: ${info.RuncCommit?.ID ?? ""}`);
    lines.push(` init version: ${info.InitCommit?.ID ?? ""}`);
    if (info.SecurityOptions?.length) {
      ln(" Security Options:");
      for (const opt of info.SecurityOptions) {
        const kv = Object.fromEntries(opt.split(",").map((p) => {
          const eq = p.indexOf("=");
          return eq < 0 ? [p, ""] : [p.slice(0, eq), p.slice(eq + 1)];
        }));
        lines.push(`  ${kv["name"] ?? opt}`);
        for (const [k, v] of Object.entries(kv)) {
          if (k === "name") continue;
          if (k === "profile") lines.push(`   Profile: ${v}`);
          else lines.push(`   ${k[0]!.toUpperCase()}${k.slice(1)}: ${v}`);
        }
      }
    }
  }
  nonEmpty(" Kernel Version:", info["KernelVersion"]);
  nonEmpty(" Operating System:", info["OperatingSystem"]);
  nonEmpty(" OSType:", info["OSType"]);
  nonEmpty(" Architecture:", info["Architecture"]);
  ln(" CPUs:", info["NCPU"] ?? 0);
  ln(" Total Memory:", bytesSize(Number(info["MemTotal"] ?? 0)));
  nonEmpty(" Name:", info["Name"]);
  nonEmpty(" ID:", info["ID"]);
  ln(" Docker Root Dir:", info["DockerRootDir"]);
  ln(" Debug Mode:", !!info["Debug"]);
  if (info["Debug"]) {
    ln("  File Descriptors:", info["NFd"]);
    ln("  Goroutines:", info["NGoroutines"]);
    ln("  System Time:", info["SystemTime"]);
    ln("  EventsListeners:", info["NEventsListener"]);
  }
  nonEmpty(" HTTP Proxy:", info["HttpProxy"]);
  nonEmpty(" HTTPS Proxy:", info["HttpsProxy"]);
  nonEmpty(" No Proxy:", info["NoProxy"]);
  nonEmpty(" Username:", info["Username"]);
  if (info.Labels?.length) {
    ln(" Labels:");
    for (const l of info.Labels) lines.push(`  ${l}`);
  }
  ln(" Experimental:", !!info["ExperimentalBuild"]);
  const reg = info.RegistryConfig;
  const insecureIndexes = Object.values(reg?.IndexConfigs ?? {}).filter((c) => !c.Secure);
  if (reg && ((reg.InsecureRegistryCIDRs?.length ?? 0) > 0 || Object.keys(reg.IndexConfigs ?? {}).length > 0)) {
    ln(" Insecure Registries:");
    for (const c of insecureIndexes) lines.push(`  ${c.Name}`);
    for (const cidr of reg.InsecureRegistryCIDRs ?? []) lines.push(`  ${cidr}`);
  }
  if (reg?.Mirrors?.length) {
    ln(" Registry Mirrors:");
    for (const m of reg.Mirrors) lines.push(`  ${m}`);
  }
  ln(" Live Restore Enabled:", !!info["LiveRestoreEnabled"]);
  if (info["ProductLicense"]) ln(" Product License:", info["ProductLicense"]);
  if (info.DefaultAddressPools?.length) {
    ln(" Default Address Pools:");
    for (const p of info.DefaultAddressPools) lines.push(`   Base: ${p.Base}, Size: ${p.Size}`);
  }
  return lines.join("\n") + "\n\n";
}

function clientInfoText(): string {
  const ctx = process.env["DOCKER_CONTEXT"] || "default";
  const text = `Client:\n Version:\t${PIER_VERSION}\n Context:\t${ctx}\n Debug Mode:\t${goBool(!!process.env["DEBUG"])}\n`;
  return tabwrite(text, { minwidth: 0, padding: 1, padchar: " " });
}

function registerInfo(parent: Command, cli: CliContext): Command {
  return parent
    .command("info")
    .description("Display system-wide information")
    .usage("[OPTIONS]")
    .option("-f, --format <format>", "Format output using a custom template")
    .action(async (opts: { format?: string }) => {
      if (opts.format) {
        let tmpl: Template;
        try {
          tmpl = new Template(opts.format === "json" ? "{{json .}}" : opts.format);
        } catch (err) {
          throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
        }
        const info = await cli.client.get<Info>("/info");
        const data = asStruct({ ...info, ClientInfo: { Version: PIER_VERSION, Context: "default", Debug: false }, ClientErrors: [], ServerErrors: [] }, "system.dockerInfo");
        try {
          cli.out(tmpl.execute(data) + "\n");
        } catch (err) {
          if (err instanceof TemplateError) cli.out("\n");
          throw err;
        }
        return;
      }
      cli.out(clientInfoText());
      cli.out("\nServer:\n");
      let info: Info;
      try {
        info = await cli.client.get<Info>("/info");
      } catch (err) {
        cli.out(`ERROR: ${describeError(err)}\n`);
        throw new StatusError(1, `errors pretty printing info`);
      }
      cli.out(renderServerInfo(info));
      for (const w of info.Warnings ?? []) cli.err(`${w}\n`);
    });
}

// ------------------------------------------------------------------ version

const VERSION_TEMPLATE = `{{with .Client -}}
Client:
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Node version:\t{{.NodeVersion}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if .ServerOK}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key := detailsOrder $component}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`;

/** Go's time layout "Mon Jan 2 15:04:05 2006" for a build time, as the CLI reformats it. */
function reformatBuildTime(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const d = new Date(ms);
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${d.getDate()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${d.getFullYear()}`;
}

/** The user's --format as docker's version command parses it (named "version"); exit 64 when it does not parse. */
function versionTemplate(format: string): Template {
  try {
    return new Template(format === "json" ? "{{json .}}" : format, {}, "version");
  } catch (err) {
    throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
  }
}

/** A Go struct to templates: a field it lacks is an error naming the type. */
function asStruct<T extends object>(value: T, goType: string): T {
  Object.defineProperty(value, GO_TYPE, { value: goType, enumerable: false });
  return value;
}

export function renderVersion(data: Record<string, unknown>, format?: string): string {
  if (format) return versionTemplate(format).execute(asStruct(data, "system.versionInfo")) + "\n";
  const tmpl = new Template(VERSION_TEMPLATE, {
    detailsOrder: (component: unknown) => Object.keys(((component as { Details?: Record<string, unknown> }).Details ?? {})).sort(),
  });
  return tabwrite(tmpl.execute(data) + "\n", { minwidth: 20, padding: 1, padchar: " " });
}

function registerVersion(parent: Command, cli: CliContext): Command {
  return parent
    .command("version")
    .description("Show the Pier version information")
    .usage("[OPTIONS]")
    .option("-f, --format <format>", "Format output using a custom template")
    .action(async (opts: { format?: string }) => {
      if (opts.format) versionTemplate(opts.format);
      const client: Record<string, unknown> = {
        Platform: { Name: "" },
        Version: PIER_VERSION,
        APIVersion: CLIENT_API_VERSION,
        DefaultAPIVersion: CLIENT_API_VERSION,
        NodeVersion: process.version,
        Os: process.platform,
        Arch: process.arch === "x64" ? "amd64" : process.arch,
        Context: process.env["DOCKER_CONTEXT"] || "default",
      };
      const data: Record<string, unknown> = { Client: client, ServerOK: false };
      let serverErr: unknown;
      try {
        client["APIVersion"] = await cli.client.apiVersion();
        const server = await cli.client.get<Record<string, unknown> & { Components?: Array<{ Name: string; Details?: Record<string, unknown> }> }>("/version");
        for (const c of server.Components ?? []) {
          if (c.Name === "Engine" && c.Details) c.Details["BuildTime"] = reformatBuildTime(c.Details["BuildTime"]);
        }
        server["BuildTime"] = reformatBuildTime(server["BuildTime"]);
        server["Platform"] ??= { Name: "" };
        // Templates see docker's Go struct, whose field is APIVersion (JSON "ApiVersion").
        server["APIVersion"] = server["ApiVersion"];
        data["Server"] = server;
        data["ServerOK"] = true;
      } catch (err) {
        serverErr = err;
      }
      try {
        cli.out(renderVersion(data, opts.format));
      } catch (err) {
        // docker prints the line's end before the error of a template that fails part way.
        if (err instanceof TemplateError) cli.out("\n");
        throw err;
      }
      if (serverErr) throw new StatusError(1, describeError(serverErr));
    });
}

// ------------------------------------------------------------------ df

interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: VolumeSummary[] | null;
  BuildCache?: Array<{ ID: string; Type?: string; Size: number; CreatedAt?: string; LastUsedAt?: string | null; UsageCount?: number; InUse?: boolean; Shared?: boolean }> | null;
}

const pct = (part: number, total: number) => `${humanSize(part)} (${Math.trunc((part * 100) / total)}%)`;

/** The four rows of `system df`, as formatter.DiskUsageContext computes them. */
export function diskUsageRows(du: DiskUsage): Record<string, unknown>[] {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];
  const total = du.LayersSize ?? 0;
  let used = 0;
  for (const i of images) if ((i.Containers ?? 0) > 0 && i.Size !== -1 && i.SharedSize !== -1) used += i.Size - (i.SharedSize ?? 0);
  const imgReclaimable = total - used;
  const active = (c: ContainerSummary) => c.State === "running" || c.State === "paused";
  let ctrSize = 0;
  let ctrReclaimable = 0;
  for (const c of containers) {
    ctrSize += c.SizeRw ?? 0;
    if (!active(c)) ctrReclaimable += c.SizeRw ?? 0;
  }
  let volSize = 0;
  let volReclaimable = 0;
  for (const v of volumes) {
    const s = v.UsageData?.Size ?? -1;
    if (s !== -1) {
      volSize += s;
      if ((v.UsageData?.RefCount ?? 0) === 0) volReclaimable += s;
    }
  }
  let cacheSize = 0;
  let cacheInUse = 0;
  for (const b of cache) {
    if (!b.Shared) cacheSize += b.Size;
    if (b.InUse && !b.Shared) cacheInUse += b.Size;
  }
  // Each row is its own Go type in docker (diskUsageImagesContext …): errors name it.
  const goTypes: Record<string, string> = { Images: "Images", Containers: "Containers", "Local Volumes": "Volumes", "Build Cache": "Builder" };
  const row = (Type: string, TotalCount: number, Active: number, Size: string, Reclaimable: string) =>
    makeContext(`*formatter.diskUsage${goTypes[Type]}Context`, { Type, TotalCount: String(TotalCount), Active: String(Active), Size, Reclaimable });
  return [
    row("Images", images.length, images.filter((i) => (i.Containers ?? 0) > 0).length, humanSize(total), total > 0 ? pct(imgReclaimable, total) : humanSize(imgReclaimable)),
    row("Containers", containers.length, containers.filter(active).length, humanSize(ctrSize), ctrSize > 0 ? pct(ctrReclaimable, ctrSize) : humanSize(ctrReclaimable)),
    row("Local Volumes", volumes.length, volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, humanSize(volSize), volSize > 0 ? pct(volReclaimable, volSize) : humanSize(volReclaimable)),
    row("Build Cache", cache.length, cache.filter((b) => b.InUse).length, humanSize(cacheSize), humanSize(cacheSize - cacheInUse)),
  ];
}

const DF_HEADER = { Type: "TYPE", TotalCount: "TOTAL", Active: "ACTIVE", Size: "SIZE", Reclaimable: "RECLAIMABLE" };

/** The four lists of `df -v`, as docker's diskUsageContext holds them (IDs cut in tables only). */
function dfVerboseContexts(du: DiskUsage, trunc: boolean) {
  return {
    Images: imageContexts(du.Images ?? [], { trunc, digests: false, noDigest: true }),
    Containers: (du.Containers ?? []).map((c) => containerContext({ ...c, SizeRootFs: 0 }, { trunc })),
    Volumes: volumeContexts(du.Volumes ?? []),
    BuildCache: (du.BuildCache ?? []).map((b) =>
      makeContext("*formatter.buildCacheContext", {
        ID: trunc ? b.ID.slice(0, 12) : b.ID,
        CacheType: b.Type ?? "",
        Size: humanSize(b.Size),
        CreatedSince: b.CreatedAt ?? "",
        LastUsedSince: b.LastUsedAt ?? "",
        UsageCount: String(b.UsageCount ?? 0),
        Shared: goBool(!!b.Shared),
      }),
    ),
  };
}

function renderDfVerbose(du: DiskUsage): string {
  const ctx = dfVerboseContexts(du, true);
  let out = "Images space usage:\n\n";
  out += renderFormat(
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
    ctx.Images,
    { Repository: "REPOSITORY", Tag: "TAG", ID: "IMAGE ID", CreatedSince: "CREATED", Size: "SIZE", SharedSize: "SHARED SIZE", UniqueSize: "UNIQUE SIZE", Containers: "CONTAINERS" },
  );
  out += "\nContainers space usage:\n\n";
  out += renderFormat(
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
    ctx.Containers,
    { ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", LocalVolumes: "LOCAL VOLUMES", Size: "SIZE", RunningFor: "CREATED", Status: "STATUS", Names: "NAMES" },
  );
  out += "\nLocal Volumes space usage:\n\n";
  out += renderFormat("table {{.Name}}\t{{.Links}}\t{{.Size}}", ctx.Volumes, { Name: "VOLUME NAME", Links: "LINKS", Size: "SIZE" });
  const cacheSize = (du.BuildCache ?? []).reduce((n, b) => n + (b.Shared ? 0 : b.Size), 0);
  out += `\nBuild cache usage: ${humanSize(cacheSize)}\n\n`;
  out += renderFormat(
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
    ctx.BuildCache,
    { ID: "CACHE ID", CacheType: "CACHE TYPE", Size: "SIZE", CreatedSince: "CREATED", LastUsedSince: "LAST USED", UsageCount: "USAGE", Shared: "SHARED" },
  );
  return out;
}

/** `df -v --format`: docker runs the template once over all four lists, with no newline after. */
function renderDfVerboseFormat(du: DiskUsage, format: string): string {
  const source = preFormat(format === "json" ? "{{json .}}" : format);
  // A plain Go struct: its JSON keeps the fields' order (Images, Containers, Volumes, BuildCache).
  const duc: Record<string | symbol, unknown> = { ...dfVerboseContexts(du, format.startsWith("table")) };
  Object.defineProperty(duc, GO_TYPE, { value: "*formatter.diskUsageContext", enumerable: false });
  return new Template(source).execute(duc);
}

function registerDf(parent: Command, cli: CliContext): Command {
  return parent
    .command("df")
    .description("Show docker disk usage")
    .usage("[OPTIONS]")
    .option("--format <format>", "Format output using a custom template")
    .option("-v, --verbose", "Show detailed information on space usage")
    .action(async (opts: { format?: string; verbose?: boolean }) => {
      const du = await cli.client.get<DiskUsage>("/system/df");
      if (opts.verbose) {
        cli.out(!opts.format || opts.format === "table" ? renderDfVerbose(du) : renderDfVerboseFormat(du, opts.format));
        return;
      }
      const format = opts.format && opts.format !== "table" ? opts.format : "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
      cli.out(renderFormat(format, diskUsageRows(du), DF_HEADER));
    });
}

// ------------------------------------------------------------------ prune

function registerSystemPrune(parent: Command, cli: CliContext): Command {
  return parent
    .command("prune")
    .description("Remove unused data")
    .usage("[OPTIONS]")
    .option("-a, --all", "Remove all unused images not just dangling ones")
    .option("--filter <filter>", 'Provide filter values (e.g. "label=<key>=<value>")', collect)
    .option("-f, --force", "Do not prompt for confirmation")
    .option("--volumes", "Prune anonymous volumes")
    .action(async (opts: { all?: boolean; filter?: string[]; force?: boolean; volumes?: boolean }) => {
      if (!opts.force) {
        const items = [
          "all stopped containers",
          "all networks not used by at least one container",
          ...(opts.volumes ? ["all anonymous volumes not used by at least one container"] : []),
          opts.all ? "all images without at least one container associated to them" : "all dangling images",
          opts.all ? "all build cache" : "unused build cache",
        ];
        let warning = `WARNING! This will remove:\n${items.map((i) => `  - ${i}`).join("\n")}\n`;
        if (opts.filter?.length) warning += `\n  Items to be pruned will be filtered with:\n${[...opts.filter].sort().map((f) => `  - ${f}\n`).join("")}`;
        if (!(await promptForConfirmation(cli, warning))) return;
      }
      let reclaimed = 0;
      const filters = filtersQuery(parseFilters(opts.filter));
      const containers = await cli.client.post<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>("/containers/prune", { filters });
      reclaimed += containers.SpaceReclaimed ?? 0;
      if (containers.ContainersDeleted?.length) cli.out(`Deleted Containers:\n${containers.ContainersDeleted.map((c) => `${c}\n`).join("")}\n`);
      const networks = await pruneNetworks(cli, { filter: opts.filter, force: true }, false);
      if (networks) cli.out(`${networks}\n`);
      if (opts.volumes) {
        const vols = await pruneVolumes(cli, { filter: opts.filter, force: true }, false);
        reclaimed += vols.reclaimed;
        if (vols.output) cli.out(`${vols.output}\n`);
      }
      const images = await pruneImages(cli, { all: opts.all, filter: opts.filter, force: true }, false);
      reclaimed += images.reclaimed;
      if (images.output) cli.out(`${images.output}\n`);
      try {
        const cache = await cli.client.post<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>("/build/prune", { all: opts.all || undefined, filters });
        reclaimed += cache.SpaceReclaimed ?? 0;
        if (cache.CachesDeleted?.length) cli.out(`Deleted build cache objects:\n${cache.CachesDeleted.map((c) => `${c}\n`).join("")}\n`);
      } catch {
        // a daemon without a build cache has nothing to prune
      }
      cli.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}

// ------------------------------------------------------------------ events

interface EventMessage {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
  time?: number;
  timeNano?: number | string;
  [key: string]: unknown;
}

/** Docker's default event line: "<time> <type> <action> <id> (k=v, ...)". */
export function formatEvent(e: EventMessage): string {
  let out = "";
  const nano = e.timeNano === undefined ? 0n : BigInt(String(e.timeNano).replace(BIG_INT_PREFIX, ""));
  if (nano !== 0n) out += `${rfc3339NanoFixed(Number(nano / 1_000_000n), Number(nano % 1_000_000n))} `;
  else if (e.time) out += `${rfc3339NanoFixed(e.time * 1000)} `;
  out += `${e.Type ?? ""} ${e.Action ?? ""} ${e.Actor?.ID ?? ""}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) out += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(", ")})`;
  return out + "\n";
}

/** events.Message as templates see it: Go field names; {{json .}} gives the daemon's JSON. */
export function eventContext(e: EventMessage): Record<string, unknown> {
  const ctx: Record<string, unknown> = {
    Status: e["status"] ?? "",
    ID: e["id"] ?? "",
    From: e["from"] ?? "",
    Type: e.Type ?? "",
    Action: e.Action ?? "",
    // A nil Go map reads as empty (.Actor.Attributes.name is ""), and prints "map[]".
    Actor: { ID: e.Actor?.ID ?? "", Attributes: e.Actor?.Attributes ?? {} },
    Scope: e["scope"] ?? "",
    Time: e.time ?? 0,
    TimeNano: e.timeNano ?? 0,
  };
  Object.defineProperty(ctx, GO_TYPE, { value: "*events.Message", enumerable: false });
  Object.defineProperty(ctx, "toJSON", { value: () => eventJSON(e), enumerable: false });
  return ctx;
}

/** events.Message as Go marshals it: the struct's order, omitempty fields left out, attributes sorted. */
function eventJSON(e: EventMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const omitEmpty = (key: string) => {
    const v = e[key];
    if (v !== undefined && v !== null && v !== "" && v !== 0) out[key] = v;
  };
  omitEmpty("status");
  omitEmpty("id");
  omitEmpty("from");
  out["Type"] = e.Type ?? "";
  out["Action"] = e.Action ?? "";
  const attrs = e.Actor?.Attributes;
  const sorted = attrs ? Object.fromEntries(Object.keys(attrs).sort().map((k) => [k, attrs[k]])) : null;
  out["Actor"] = { ID: e.Actor?.ID ?? "", Attributes: sorted };
  omitEmpty("scope");
  omitEmpty("time");
  omitEmpty("timeNano");
  return out;
}

/**
 * docker's events makeTemplate: parse the format and run it once on an empty message, so a
 * template that cannot work fails before any event, exit 64.
 */
function eventsTemplate(format: string): Template {
  try {
    const tmpl = new Template(format === "json" ? "{{json .}}" : format);
    tmpl.execute(eventContext({} as EventMessage));
    return tmpl;
  } catch (err) {
    throw new StatusError(64, `Error parsing format: ${(err as Error).message}`);
  }
}

function registerEvents(parent: Command, cli: CliContext): Command {
  return parent
    .command("events")
    .description("Get real time events from the server")
    .usage("[OPTIONS]")
    .option("-f, --filter <filter>", "Filter output based on conditions provided", collect)
    .option("--format <format>", "Format output using a custom template")
    .option("--since <time>", "Show all events created since timestamp")
    .option("--until <time>", "Stream events until this timestamp")
    .action(async (opts: { filter?: string[]; format?: string; since?: string; until?: string }) => {
      const now = Date.now();
      const tmpl = opts.format ? eventsTemplate(opts.format) : undefined;
      await cli.client.jsonLines(
        "GET",
        "/events",
        {
          query: {
            since: opts.since ? getTimestamp(opts.since, now) : undefined,
            until: opts.until ? getTimestamp(opts.until, now) : undefined,
            filters: filtersQuery(parseFilters(opts.filter)),
          },
        },
        (msg) => {
          const e = msg as EventMessage;
          cli.out(tmpl ? tmpl.execute(eventContext(e)) + "\n" : formatEvent(e));
        },
        { lossless: true },
      );
    });
}

/** `system` and its top-level shortcuts (info, events, version). */
export function registerSystem(program: Command, cli: CliContext): void {
  const system = program.command("system").description("Manage Pier");
  registerInfo(system, cli);
  registerDf(system, cli);
  registerSystemPrune(system, cli);
  registerEvents(system, cli);
  registerInfo(program, cli);
  registerEvents(program, cli);
  registerVersion(program, cli);
}
