// Commands that look at or adjust a container: top, stats (a live table like docker's), diff,
// export, commit, update, port.

import * as fs from "node:fs";
import type { Readable } from "node:stream";
import { Option, type Command } from "commander";
import { CliContext, StatusError, describeError } from "./cli-context.js";
import { forEachContainer } from "./container-commands.js";
import { parseMemBytes, parseMemSwap, parseRestartPolicy } from "./flag-parsers.js";
import { checkFormat, renderFormat, truncateID } from "./format.js";
import { tabwrite } from "./tabwriter.js";
import { bytesSize, humanSizeWithPrecision, parseCpus } from "./units.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];
const cpath = (ref: string, suffix = "") => `/containers/${encodeURIComponent(ref)}${suffix}`;

// ------------------------------------------------------------------ top

export function registerTop(parent: Command, cli: CliContext): Command {
  return parent
    .command("top")
    .description("Display the running processes of a container")
    .usage("CONTAINER [ps OPTIONS]")
    .argument("<container>")
    .argument("[psArgs...]")
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (ref: string, psArgs: string[]) => {
      const top = await cli.client.get<{ Titles: string[]; Processes: string[][] }>(cpath(ref, "/top"), { ps_args: psArgs.length ? psArgs.join(" ") : undefined });
      const lines = [top.Titles.join("\t"), ...(top.Processes ?? []).map((p) => p.join("\t"))];
      // docker top: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
      cli.out(tabwrite(lines.join("\n") + "\n", { minwidth: 20, padding: 3, padchar: " " }));
    });
}

// ------------------------------------------------------------------ stats

interface StatsJSON {
  name: string;
  id: string;
  read: string;
  pids_stats?: { current?: number };
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  cpu_stats: { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}

interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpu: number;
  mem: number;
  memLimit: number;
  memPerc: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
  invalid: boolean;
}

const STATS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const STATS_HEADER: Record<string, string> = {
  Container: "CONTAINER",
  ID: "CONTAINER ID",
  Name: "NAME",
  CPUPerc: "CPU %",
  MemUsage: "MEM USAGE / LIMIT",
  MemPerc: "MEM %",
  NetIO: "NET I/O",
  BlockIO: "BLOCK I/O",
  PIDs: "PIDS",
};

/** The docker CLI's stats helpers: CPU % from the deltas against precpu, memory without cache. */
export function statsEntry(container: string, s: StatsJSON): StatsEntry {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const m = s.memory_stats ?? {};
  const usage = m.usage ?? 0;
  const inactive = m.stats?.total_inactive_file ?? m.stats?.inactive_file;
  const mem = inactive !== undefined && inactive < usage ? usage - inactive : usage;
  const memLimit = m.limit ?? 0;
  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    netRx += n.rx_bytes;
    netTx += n.tx_bytes;
  }
  let blkRead = 0;
  let blkWrite = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === "read") blkRead += e.value;
    else if (op === "write") blkWrite += e.value;
  }
  return {
    container,
    name: s.name.replace(/^\//, ""),
    id: s.id,
    cpu,
    mem,
    memLimit,
    memPerc: memLimit !== 0 ? (mem / memLimit) * 100 : 0,
    netRx,
    netTx,
    blkRead,
    blkWrite,
    pids: s.pids_stats?.current ?? 0,
    invalid: false,
  };
}

function statsContext(e: StatsEntry, trunc: boolean): Record<string, unknown> {
  const bad = e.invalid;
  return {
    Container: e.container,
    Name: e.name || "--",
    ID: trunc ? truncateID(e.id) : e.id,
    CPUPerc: bad ? "--" : `${e.cpu.toFixed(2)}%`,
    MemUsage: bad ? "-- / --" : `${bytesSize(e.mem)} / ${bytesSize(e.memLimit)}`,
    MemPerc: bad ? "--" : `${e.memPerc.toFixed(2)}%`,
    NetIO: bad ? "--" : `${humanSizeWithPrecision(e.netRx, 3)} / ${humanSizeWithPrecision(e.netTx, 3)}`,
    BlockIO: bad ? "--" : `${humanSizeWithPrecision(e.blkRead, 3)} / ${humanSizeWithPrecision(e.blkWrite, 3)}`,
    PIDs: bad ? "--" : String(e.pids),
  };
}

interface StatsOptions {
  all?: boolean;
  stream?: boolean;
  trunc?: boolean;
  format?: string;
}

export function registerStats(parent: Command, cli: CliContext): Command {
  return parent
    .command("stats")
    .description("Display a live stream of container(s) resource usage statistics")
    .usage("[OPTIONS] [CONTAINER...]")
    .argument("[containers...]")
    .option("-a, --all", "Show all containers (default shows just running)")
    .option("--format <format>", "Format output using a custom template")
    .option("--no-stream", "Disable streaming stats and only pull the first result")
    .option("--no-trunc", "Do not truncate output")
    .action(async (refs: string[], opts: StatsOptions) => {
      const format = !opts.format || opts.format === "table" ? STATS_FORMAT : opts.format;
      if (opts.format) checkFormat(format, statsContext(statsEntry("", emptyJSON("", "")), true), "template parsing error");
      const trunc = opts.trunc !== false;
      const explicit = refs.length > 0;
      const list = async (): Promise<{ ref: string; id: string }[]> => {
        if (explicit) return refs.map((r) => ({ ref: r, id: r }));
        const cs = await cli.client.get<{ Id: string }[]>("/containers/json", { all: opts.all || undefined });
        return cs.map((c) => ({ ref: c.Id, id: c.Id }));
      };
      const render = (entries: StatsEntry[]) => renderFormat(format, entries.map((e) => statsContext(e, trunc)), STATS_HEADER);

      if (opts.stream === false) {
        const targets = await list();
        const errors: string[] = [];
        const entries = await Promise.all(
          targets.map(async (t) => {
            try {
              const s = await cli.client.get<StatsJSON>(cpath(t.ref, "/stats"), { stream: false });
              return statsEntry(t.ref, s);
            } catch (err) {
              errors.push(describeError(err));
              return undefined;
            }
          }),
        );
        if (errors.length && explicit) throw new StatusError(1, errors.join("\n"));
        cli.out(render(entries.filter((e): e is StatsEntry => e !== undefined)));
        return;
      }

      // Live: one stats stream per container keeps its latest frame; the table is redrawn
      // twice a second (docker's refresh), the container list re-read when none was named.
      const latest = new Map<string, StatsEntry>();
      const streams = new Map<string, AbortController>();
      const follow = (t: { ref: string; id: string }) => {
        if (streams.has(t.id)) return;
        const ac = new AbortController();
        streams.set(t.id, ac);
        latest.set(t.id, { ...statsEntry(t.ref, emptyJSON(t.id, t.ref)), invalid: false });
        void cli.client
          .jsonLines("GET", cpath(t.ref, "/stats"), { query: { stream: true }, signal: ac.signal }, (msg) => latest.set(t.id, statsEntry(t.ref, msg as unknown as StatsJSON)))
          .catch((err) => {
            if (ac.signal.aborted) return;
            const cur = latest.get(t.id);
            if (cur) latest.set(t.id, { ...cur, invalid: true });
            if (explicit) cli.err(`${describeError(err)}\n`);
          })
          .finally(() => {
            streams.delete(t.id);
            if (!explicit) latest.delete(t.id);
          });
      };
      let stop = false;
      const onSignal = () => (stop = true);
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        let lastList = 0;
        while (!stop) {
          if (!explicit && Date.now() - lastList > 2000) {
            lastList = Date.now();
            const targets = await list().catch(() => []);
            const ids = new Set(targets.map((t) => t.id));
            for (const [id, ac] of streams) if (!ids.has(id)) ac.abort();
            for (const id of [...latest.keys()]) if (!ids.has(id)) latest.delete(id);
            targets.forEach(follow);
          } else if (explicit && lastList === 0) {
            lastList = Date.now();
            (await list()).forEach(follow);
          }
          cli.out("\x1b[2J\x1b[H" + render([...latest.values()]));
          await new Promise((r) => setTimeout(r, 500));
          if (explicit && streams.size === 0) break;
        }
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        for (const ac of streams.values()) ac.abort();
      }
    });
}

function emptyJSON(id: string, name: string): StatsJSON {
  return { name, id, read: "", cpu_stats: { cpu_usage: { total_usage: 0 } }, precpu_stats: { cpu_usage: { total_usage: 0 } } };
}

// ------------------------------------------------------------------ diff, export, commit

export function registerDiff(parent: Command, cli: CliContext): Command {
  return parent
    .command("diff")
    .description("Inspect changes to files or directories on a container's filesystem")
    .usage("CONTAINER")
    .argument("<container>")
    .action(async (ref: string) => {
      const changes = (await cli.client.get<{ Path: string; Kind: number }[] | null>(cpath(ref, "/changes"))) ?? [];
      const letter = ["C", "A", "D"];
      cli.out(changes.map((c) => `${letter[c.Kind] ?? "?"} ${c.Path}\n`).join(""));
    });
}

export function registerExport(parent: Command, cli: CliContext): Command {
  return parent
    .command("export")
    .description("Export a container's filesystem as a tar archive")
    .usage("[OPTIONS] CONTAINER")
    .argument("<container>")
    .option("-o, --output <file>", "Write to a file, instead of STDOUT")
    .action(async (ref: string, opts: { output?: string }) => {
      if (!opts.output && (cli.streams.stdout as { isTTY?: boolean }).isTTY) {
        throw new StatusError(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
      }
      const body = await cli.client.stream("GET", cpath(ref, "/export"));
      await writeOut(body, opts.output, cli);
    });
}

async function writeOut(body: Readable, file: string | undefined, cli: CliContext): Promise<void> {
  const out: NodeJS.WritableStream = file ? fs.createWriteStream(file) : cli.streams.stdout;
  await new Promise<void>((resolve, reject) => {
    body.on("error", reject);
    out.on("error", reject);
    if (file) out.on("finish", resolve);
    else body.on("end", resolve);
    body.pipe(out, { end: !!file });
  });
}

export function registerCommit(parent: Command, cli: CliContext): Command {
  return parent
    .command("commit")
    .description("Create a new image from a container's changes")
    .usage("[OPTIONS] CONTAINER [REPOSITORY[:TAG]]")
    .argument("<container>")
    .argument("[reference]")
    .option("-a, --author <string>", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option("-c, --change <instruction>", "Apply Dockerfile instruction to the created image", collect)
    .option("-m, --message <string>", "Commit message")
    .option("-p, --pause", "Pause container during commit (default true)")
    .option("--no-pause", "Do not pause the container during commit")
    .action(async (ref: string, reference: string | undefined, opts: { author?: string; change?: string[]; message?: string; pause?: boolean }) => {
      let repo: string | undefined;
      let tag: string | undefined;
      if (reference) {
        const slash = reference.lastIndexOf("/");
        const colon = reference.lastIndexOf(":");
        if (colon > slash) {
          repo = reference.slice(0, colon);
          tag = reference.slice(colon + 1);
        } else repo = reference;
      }
      const res = await cli.client.post<{ Id: string }>("/commit", {
        container: ref,
        repo,
        tag,
        comment: opts.message,
        author: opts.author,
        changes: opts.change,
        pause: opts.pause !== false,
      });
      cli.out(`${res.Id}\n`);
    });
}

// ------------------------------------------------------------------ update

interface UpdateOptions {
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuShares?: string;
  cpus?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  kernelMemory?: string;
  pidsLimit?: string;
  restart?: string;
}

export function registerUpdate(parent: Command, cli: CliContext): Command {
  return parent
    .command("update")
    .description("Update configuration of one or more containers")
    .usage("[OPTIONS] CONTAINER [CONTAINER...]")
    .argument("<containers...>")
    .option("--blkio-weight <uint16>", "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
    .option("--cpu-period <int>", "Limit CPU CFS (Completely Fair Scheduler) period")
    .option("--cpu-quota <int>", "Limit CPU CFS (Completely Fair Scheduler) quota")
    .option("--cpu-rt-period <int>", "Limit the CPU real-time period in microseconds")
    .option("--cpu-rt-runtime <int>", "Limit the CPU real-time runtime in microseconds")
    .option("-c, --cpu-shares <int>", "CPU shares (relative weight)")
    .option("--cpus <decimal>", "Number of CPUs")
    .option("--cpuset-cpus <string>", "CPUs in which to allow execution (0-3, 0,1)")
    .option("--cpuset-mems <string>", "MEMs in which to allow execution (0-3, 0,1)")
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--memory-reservation <bytes>", "Memory soft limit")
    .option("--memory-swap <bytes>", 'Swap limit equal to memory plus swap: -1 to enable unlimited swap')
    .addOption(new Option("--kernel-memory <bytes>", "Kernel memory limit (deprecated)").hideHelp())
    .option("--pids-limit <int>", "Tune container pids limit (set -1 for unlimited)")
    .option("--restart <string>", "Restart policy to apply when a container exits")
    .action(async (refs: string[], opts: UpdateOptions) => {
      const int = (v: string | undefined, flag: string): number | undefined => {
        if (v === undefined) return undefined;
        if (!/^-?\d+$/.test(v)) throw new StatusError(125, `invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
        return Number(v);
      };
      const given = Object.values(opts).filter((v) => v !== undefined).length;
      if (given === 0) throw new StatusError(1, "you must provide one or more flags when using this command");
      let nano: number | undefined;
      if (opts.cpus !== undefined) {
        try {
          nano = parseCpus(opts.cpus);
        } catch (err) {
          throw new StatusError(125, `invalid argument "${opts.cpus}" for "--cpus" flag: ${(err as Error).message}`);
        }
      }
      let restart: { Name: string; MaximumRetryCount: number } | undefined;
      try {
        if (opts.restart !== undefined) restart = parseRestartPolicy(opts.restart);
      } catch (err) {
        throw new StatusError(125, (err as Error).message);
      }
      let body: Record<string, unknown>;
      try {
        body = {
          BlkioWeight: int(opts.blkioWeight, "--blkio-weight") ?? 0,
          CpuPeriod: int(opts.cpuPeriod, "--cpu-period") ?? 0,
          CpuQuota: int(opts.cpuQuota, "--cpu-quota") ?? 0,
          CpuRealtimePeriod: int(opts.cpuRtPeriod, "--cpu-rt-period") ?? 0,
          CpuRealtimeRuntime: int(opts.cpuRtRuntime, "--cpu-rt-runtime") ?? 0,
          CpuShares: int(opts.cpuShares, "--cpu-shares") ?? 0,
          NanoCpus: nano ?? 0,
          CpusetCpus: opts.cpusetCpus ?? "",
          CpusetMems: opts.cpusetMems ?? "",
          Memory: opts.memory !== undefined ? parseMemBytes(opts.memory, "--memory") : 0,
          MemoryReservation: opts.memoryReservation !== undefined ? parseMemBytes(opts.memoryReservation, "--memory-reservation") : 0,
          MemorySwap: opts.memorySwap !== undefined ? parseMemSwap(opts.memorySwap) : 0,
          KernelMemory: opts.kernelMemory !== undefined ? parseMemBytes(opts.kernelMemory, "--kernel-memory") : 0,
          ...(opts.pidsLimit !== undefined ? { PidsLimit: int(opts.pidsLimit, "--pids-limit") } : {}),
          RestartPolicy: restart ?? { Name: "", MaximumRetryCount: 0 },
        };
      } catch (err) {
        if (err instanceof StatusError) throw err;
        throw new StatusError(125, (err as Error).message);
      }
      const warnings: string[] = [];
      await forEachContainer(cli, refs, async (ref) => {
        const res = await cli.client.post<{ Warnings?: string[] | null }>(cpath(ref, "/update"), undefined, body);
        warnings.push(...(res?.Warnings ?? []));
      });
      for (const w of warnings) cli.err(`${w}\n`);
    });
}

// ------------------------------------------------------------------ port

export function registerPort(parent: Command, cli: CliContext): Command {
  return parent
    .command("port")
    .description("List port mappings or a specific mapping for the container")
    .usage("CONTAINER [PRIVATE_PORT[/PROTO]]")
    .argument("<container>")
    .argument("[port]")
    .action(async (ref: string, port: string | undefined) => {
      const c = await cli.client.get<{ NetworkSettings?: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> } }>(cpath(ref, "/json"));
      const ports = c.NetworkSettings?.Ports ?? {};
      const hostAddr = (b: { HostIp: string; HostPort: string }) => `${b.HostIp.includes(":") ? `[${b.HostIp}]` : b.HostIp || "0.0.0.0"}:${b.HostPort}`;
      if (port) {
        const key = port.includes("/") ? port : `${port}/tcp`;
        const bindings = ports[key];
        if (!bindings || bindings.length === 0) throw new StatusError(1, `Error: No public port '${port}' published for ${ref}`);
        cli.out(bindings.map((b) => `${hostAddr(b)}\n`).join(""));
        return;
      }
      const keys = Object.keys(ports).sort((a, b) => {
        const [pa, qa] = a.split("/");
        const [pb, qb] = b.split("/");
        return Number(pa) - Number(pb) || (qa ?? "").localeCompare(qb ?? "");
      });
      let out = "";
      for (const k of keys) for (const b of ports[k] ?? []) out += `${k} -> ${hostAddr(b)}\n`;
      cli.out(out);
    });
}
