// Observing a running container: `top` (the host's ps, filtered to the container's processes,
// as moby does) and `stats` (Docker's StatsJSON from the container's cgroups, v1 or v2, and its
// network namespace's counters).

import { promises as fsp, existsSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { conflict, invalidParameter, systemError } from "../errdefs/index.js";
import { run } from "../sys/index.js";
import { ZERO_TIME, type ContainerRecord } from "./record.js";
import { nowRFC3339 } from "./clock.js";
import type { ContainerService } from "./service.js";

// ------------------------------------------------------------------ cgroups

const CGROUP_ROOT = "/sys/fs/cgroup";
const isV2 = (): boolean => existsSync(path.join(CGROUP_ROOT, "cgroup.controllers"));

/** v1: controller → mount point, from /proc/self/mountinfo (co-mounted ones share one). */
let v1Mounts: Map<string, string> | undefined;
function v1MountPoints(): Map<string, string> {
  if (v1Mounts) return v1Mounts;
  v1Mounts = new Map();
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup") continue;
    const mountPoint = line.split(" ")[4]!.replace(/\\040/g, " ");
    for (const opt of superOpts.split(",")) v1Mounts.set(opt, mountPoint);
  }
  return v1Mounts;
}

/** The container's cgroup directories: per controller (v1) or the one unified dir (v2). */
export interface CgroupDirs {
  v2: boolean;
  dir(controller: string): string | undefined;
}

export async function cgroupDirs(pid: number): Promise<CgroupDirs> {
  const text = await fsp.readFile(`/proc/${pid}/cgroup`, "utf8");
  const v2 = isV2();
  const paths = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] === "") paths.set("", m[3]!);
    else for (const ctrl of m[2]!.split(",")) paths.set(ctrl, m[3]!);
  }
  if (v2) {
    const dir = path.join(CGROUP_ROOT, paths.get("") ?? "/");
    return { v2, dir: () => dir };
  }
  const mounts = v1MountPoints();
  return {
    v2,
    dir: (ctrl) => {
      const mp = mounts.get(ctrl);
      const p = paths.get(ctrl);
      return mp && p !== undefined ? path.join(mp, p) : undefined;
    },
  };
}

/** Every process in a cgroup dir and below it. */
async function cgroupProcs(dir: string): Promise<number[]> {
  const out: number[] = [];
  const walk = async (d: string) => {
    const text = await fsp.readFile(path.join(d, "cgroup.procs"), "utf8").catch(() => "");
    for (const l of text.split("\n")) if (l.trim()) out.push(Number(l));
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await walk(path.join(d, e.name));
  };
  await walk(dir);
  return out;
}

async function containerPids(c: ContainerRecord): Promise<number[]> {
  const cg = await cgroupDirs(c.State.Pid).catch(() => undefined);
  const dir = cg && (cg.v2 ? cg.dir("") : cg.dir("pids") ?? cg.dir("memory") ?? cg.dir("cpu") ?? cg.dir("freezer"));
  if (!dir) return [c.State.Pid];
  const pids = await cgroupProcs(dir);
  return pids.length > 0 ? pids : [c.State.Pid];
}

// ------------------------------------------------------------------ top

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/**
 * moby's ContainerTop: run the host's `ps` with the client's arguments (default -ef) and keep
 * the lines of the container's processes (its cgroup's pids). Nothing of the container runs.
 */
export async function containerTop(containers: ContainerService, ref: string, psArgs: string): Promise<TopResult> {
  const args = psArgs || "-ef";
  for (const m of args.matchAll(/\s+([^\s]*)=\s*(PID[^\s]*)/g)) {
    if (m[1] !== "pid") throw invalidParameter(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
  const c = containers.get(ref);
  if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
  if (c.State.Restarting) throw conflict(`Container ${c.Id} is restarting, wait until the container is running`);
  const pids = await containerPids(c);
  const argv = args.split(" ");
  let res = await run("ps", [...argv, `-q${pids.join(",")}`], { allowFailure: true });
  if (res.code !== 0) {
    // Some ps options (such as f) cannot be used with q: retry without it.
    res = await run("ps", argv, { allowFailure: true });
    if (res.code !== 0) throw systemError(`ps: ${res.stderr.split("\n")[0] || `exit status ${res.code}`}`);
  }
  const out = parsePsOutput(res.stdout, new Set(pids));
  containers.emit(c, "top");
  return out;
}

/** Split on ASCII whitespace only (moby's fieldsASCII). */
const fieldsASCII = (s: string) => s.split(/[ \t\n\v\f\r]+/).filter(Boolean);

export function parsePsOutput(output: string, pids: Set<number>): TopResult {
  const lines = output.split("\n");
  const titles = fieldsASCII(lines[0] ?? "");
  const pidIndex = titles.indexOf("PID");
  if (pidIndex === -1) throw systemError("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  const append = (fields: string[]) => {
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(" "));
    processes.push(row);
  };
  let inContainer = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsASCII(line);
    if (fields[pidIndex] === "-") {
      if (inContainer) append(fields); // a thread line (ps -m) of a process kept above
      continue;
    }
    const p = Number(fields[pidIndex]);
    if (!Number.isInteger(p)) throw systemError(`Unexpected pid '${fields[pidIndex]}': invalid syntax`);
    inContainer = pids.has(p);
    if (inContainer) append(fields);
  }
  return { Titles: titles, Processes: processes };
}

// ------------------------------------------------------------------ stats

export interface CPUStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface StatsJSON {
  name: string;
  id: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, BlkioEntry[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CPUStats;
  precpu_stats: CPUStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  networks?: Record<string, Record<string, number>>;
}

const BLKIO_KEYS = ["io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive"];
const CLOCK_TICKS = 100; // USER_HZ

const emptyCPU = (): CPUStats => ({ cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });

/** What Docker sends for a container that is not running (stream=false): names and zeros. */
export function emptyStats(c: ContainerRecord): StatsJSON {
  return {
    name: c.Name,
    id: c.Id,
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: Object.fromEntries(BLKIO_KEYS.map((k) => [k, null])),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCPU(),
    precpu_stats: emptyCPU(),
    memory_stats: {},
  };
}

const readText = (f: string) => fsp.readFile(f, "utf8").catch(() => undefined);
const readNum = async (f: string): Promise<number | undefined> => {
  const t = await readText(f);
  if (t === undefined) return undefined;
  const v = t.trim();
  if (v === "max") return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};
const keyValues = (t: string | undefined): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const line of (t ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
};

/** Host-wide CPU time in ns (/proc/stat's first line, user..softirq), and online CPUs. */
async function systemCPU(): Promise<{ usage: number; online: number }> {
  const text = (await readText("/proc/stat")) ?? "";
  let usage = 0;
  let online = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) {
      const parts = line.trim().split(/\s+/).slice(1, 8).map(Number);
      usage = (parts.reduce((a, b) => a + b, 0) * 1e9) / CLOCK_TICKS;
    } else if (/^cpu\d+ /.test(line)) online++;
  }
  return { usage, online: online || os.availableParallelism() };
}

async function networkStats(c: ContainerRecord): Promise<Record<string, Record<string, number>> | undefined> {
  const mode = (c.HostConfig.NetworkMode as string | undefined) ?? "bridge";
  if (mode === "host" || mode === "none" || mode.startsWith("container:")) return undefined;
  const text = await readText(`/proc/${c.State.Pid}/net/dev`);
  if (!text) return undefined;
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === "lo") continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0] ?? 0,
      rx_packets: f[1] ?? 0,
      rx_errors: f[2] ?? 0,
      rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0,
      tx_packets: f[9] ?? 0,
      tx_errors: f[10] ?? 0,
      tx_dropped: f[11] ?? 0,
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function parseBlkioV1(t: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (t ?? "").split("\n")) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

async function sampleV1(cg: CgroupDirs, s: StatsJSON): Promise<void> {
  const cpuacct = cg.dir("cpuacct");
  const cpu = cg.dir("cpu");
  if (cpuacct) {
    const total = (await readNum(path.join(cpuacct, "cpuacct.usage"))) ?? 0;
    const percpu = ((await readText(path.join(cpuacct, "cpuacct.usage_percpu"))) ?? "").trim().split(/\s+/).filter(Boolean).map(Number);
    const st = keyValues(await readText(path.join(cpuacct, "cpuacct.stat")));
    s.cpu_stats.cpu_usage = {
      total_usage: total,
      percpu_usage: percpu,
      usage_in_kernelmode: ((st.system ?? 0) * 1e9) / CLOCK_TICKS,
      usage_in_usermode: ((st.user ?? 0) * 1e9) / CLOCK_TICKS,
    };
  }
  if (cpu) {
    const st = keyValues(await readText(path.join(cpu, "cpu.stat")));
    s.cpu_stats.throttling_data = { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: st.throttled_time ?? 0 };
  }
  const mem = cg.dir("memory");
  if (mem) {
    const stats = keyValues(await readText(path.join(mem, "memory.stat")));
    const machine = os.totalmem();
    const hier = stats.hierarchical_memory_limit ?? 0;
    s.memory_stats = {
      usage: (await readNum(path.join(mem, "memory.usage_in_bytes"))) ?? 0,
      max_usage: (await readNum(path.join(mem, "memory.max_usage_in_bytes"))) ?? 0,
      stats,
      failcnt: (await readNum(path.join(mem, "memory.failcnt"))) ?? 0,
      limit: hier > machine || hier === 0 ? machine : hier,
    };
  }
  const pids = cg.dir("pids");
  if (pids) s.pids_stats = { current: (await readNum(path.join(pids, "pids.current"))) ?? 0, limit: (await readNum(path.join(pids, "pids.max"))) ?? 0 };
  const blkio = cg.dir("blkio");
  s.blkio_stats = Object.fromEntries(BLKIO_KEYS.map((k) => [k, []]));
  if (blkio) {
    const pick = async (name: string) => {
      const rec = await readText(path.join(blkio, `blkio.throttle.${name}_recursive`));
      return parseBlkioV1(rec ?? (await readText(path.join(blkio, `blkio.throttle.${name}`))));
    };
    s.blkio_stats.io_service_bytes_recursive = await pick("io_service_bytes");
    s.blkio_stats.io_serviced_recursive = await pick("io_serviced");
  }
}

async function sampleV2(cg: CgroupDirs, s: StatsJSON): Promise<void> {
  const dir = cg.dir("")!;
  const cpu = keyValues(await readText(path.join(dir, "cpu.stat")));
  s.cpu_stats.cpu_usage = { total_usage: (cpu.usage_usec ?? 0) * 1000, usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000, usage_in_usermode: (cpu.user_usec ?? 0) * 1000 };
  s.cpu_stats.throttling_data = { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 };
  const machine = os.totalmem();
  const limit = (await readNum(path.join(dir, "memory.max"))) ?? 0;
  const events = keyValues(await readText(path.join(dir, "memory.events")));
  s.memory_stats = {
    usage: (await readNum(path.join(dir, "memory.current"))) ?? 0,
    stats: keyValues(await readText(path.join(dir, "memory.stat"))),
    limit: limit === 0 || limit > machine ? machine : limit,
    ...(events.oom !== undefined ? { failcnt: events.oom } : {}),
  };
  s.pids_stats = { current: (await readNum(path.join(dir, "pids.current"))) ?? 0, limit: (await readNum(path.join(dir, "pids.max"))) ?? 0 };
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of ((await readText(path.join(dir, "io.stat"))) ?? "").split("\n")) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? "");
    if (!m) continue;
    const kv = Object.fromEntries(kvs.map((x) => x.split("=")).map(([k, v]) => [k, Number(v)]));
    const major = Number(m[1]);
    const minor = Number(m[2]);
    bytes.push({ major, minor, op: "read", value: kv.rbytes ?? 0 }, { major, minor, op: "write", value: kv.wbytes ?? 0 });
    ios.push({ major, minor, op: "read", value: kv.rios ?? 0 }, { major, minor, op: "write", value: kv.wios ?? 0 });
  }
  s.blkio_stats = Object.fromEntries(BLKIO_KEYS.map((k) => [k, null]));
  s.blkio_stats.io_service_bytes_recursive = bytes;
  s.blkio_stats.io_serviced_recursive = ios;
}

/** Samples of running containers, with each container's previous CPU reading for precpu. */
export class StatsSampler {
  private readonly last = new Map<string, { read: string; cpu: CPUStats }>();

  /** One sample of a running container; undefined when it is not running (any more). */
  async sample(c: ContainerRecord): Promise<StatsJSON | undefined> {
    if (!c.State.Running || !c.State.Pid) return undefined;
    const cg = await cgroupDirs(c.State.Pid).catch(() => undefined);
    if (!cg) return undefined;
    const s = emptyStats(c);
    s.read = nowRFC3339();
    if (cg.v2) await sampleV2(cg, s);
    else await sampleV1(cg, s);
    const sys = await systemCPU();
    s.cpu_stats.system_cpu_usage = sys.usage;
    s.cpu_stats.online_cpus = sys.online;
    const net = await networkStats(c);
    if (net) s.networks = net;
    return s;
  }

  /**
   * The next frame for a client: `fresh` is this client's first (its precpu is this
   * container's previous reading by anyone; zero only on the very first), later frames chain.
   */
  withPrevious(s: StatsJSON, prev?: { read: string; cpu: CPUStats }): StatsJSON {
    const p = prev ?? this.last.get(s.id);
    if (p) {
      s.preread = p.read;
      s.precpu_stats = structuredClone(p.cpu);
    }
    this.last.set(s.id, { read: s.read, cpu: structuredClone(s.cpu_stats) });
    return s;
  }

  forget(id: string): void {
    this.last.delete(id);
  }
}
