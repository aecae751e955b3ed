import { readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import type { LinuxDeviceCgroup, LinuxResources, Mount, Spec } from "../oci/index.js";
import { capabilityMasks, processPlanItems, rlimitNumber, type BuiltinState } from "../sys/index.js";

// Pier's own container runtime (`pier-exec --runtime`, native/pier_runtime.c) takes a plan, not
// config.json: the OCI config as runc would understand it, reduced to the operations runc would
// do (mount flags parsed as runc parses them, its default devices added, the cgroup mount
// expanded into the host's hierarchies, resources turned into cgroup v1 file writes). Anything
// this does not express exactly — user or cgroup namespaces, LSM labels, hooks, a seccomp
// profile (only a shimmed or unconfined container comes here), unknown mount types or options,
// resources beyond the common ones, a cgroup v2-only host — is answered with the reason, and
// the container is created by runc as before.

export type BuiltinPlan = { items: string[]; state: Omit<BuiltinState, "pidFile"> } | { unsupported: string };

// <sys/mount.h>
const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64, DIRSYNC: 128,
  NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384, SILENT: 32768, UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21, I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
};

// runc's parseMountOptions: [clear, flag] per option.
const MOUNT_FLAGS: Record<string, [boolean, number]> = {
  async: [true, MS.SYNCHRONOUS], atime: [true, MS.NOATIME], bind: [false, MS.BIND], defaults: [false, 0],
  dev: [true, MS.NODEV], diratime: [true, MS.NODIRATIME], dirsync: [false, MS.DIRSYNC], exec: [true, MS.NOEXEC],
  iversion: [false, MS.I_VERSION], lazytime: [false, MS.LAZYTIME], loud: [true, MS.SILENT], mand: [false, MS.MANDLOCK],
  noatime: [false, MS.NOATIME], nodev: [false, MS.NODEV], nodiratime: [false, MS.NODIRATIME], noexec: [false, MS.NOEXEC],
  noiversion: [true, MS.I_VERSION], nolazytime: [true, MS.LAZYTIME], nomand: [true, MS.MANDLOCK],
  norelatime: [true, MS.RELATIME], nostrictatime: [true, MS.STRICTATIME], nosuid: [false, MS.NOSUID],
  rbind: [false, MS.BIND | MS.REC], relatime: [false, MS.RELATIME], remount: [false, MS.REMOUNT], ro: [false, MS.RDONLY],
  rw: [true, MS.RDONLY], silent: [false, MS.SILENT], strictatime: [false, MS.STRICTATIME], suid: [true, MS.NOSUID],
  sync: [false, MS.SYNCHRONOUS],
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, shared: MS.SHARED, slave: MS.SLAVE, unbindable: MS.UNBINDABLE,
  rprivate: MS.PRIVATE | MS.REC, rshared: MS.SHARED | MS.REC, rslave: MS.SLAVE | MS.REC, runbindable: MS.UNBINDABLE | MS.REC,
};

const CLONE = { NEWNS: 0x20000, NEWUTS: 0x4000000, NEWIPC: 0x8000000, NEWPID: 0x20000000, NEWNET: 0x40000000 };

/** The devices runc makes in every container (specconv.AllowedDevices with a path). */
const DEFAULT_DEVICES = [
  { path: "/dev/null", major: 1, minor: 3 },
  { path: "/dev/random", major: 1, minor: 8 },
  { path: "/dev/full", major: 1, minor: 7 },
  { path: "/dev/tty", major: 5, minor: 0 },
  { path: "/dev/zero", major: 1, minor: 5 },
  { path: "/dev/urandom", major: 1, minor: 9 },
];

/** specconv.AllowedDevices as cgroup rules, which runc appends to every container's. */
const RUNC_DEVICE_RULES: LinuxDeviceCgroup[] = [
  { allow: true, type: "c", major: -1, minor: -1, access: "m" },
  { allow: true, type: "b", major: -1, minor: -1, access: "m" },
  ...[[1, 3], [1, 8], [1, 7], [5, 0], [1, 5], [1, 9], [5, 1], [136, -1], [5, 2], [10, 200]].map(([major, minor]) => ({ allow: true, type: "c", major, minor, access: "rwm" })),
];

const MOUNT_TYPES = new Set(["bind", "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup"]);

class Unsupported extends Error {}

function no(why: string): never {
  throw new Unsupported(why);
}

/** A value goes into a tab-separated item: it must hold neither a tab nor a NUL. */
function field(s: string): string {
  if (/[\t\0]/.test(s)) no("a tab or NUL in a path or option");
  return s;
}

interface HostHierarchy {
  point: string;
  v2: boolean;
}

let hierarchies: HostHierarchy[] | undefined;

/** The host's cgroup hierarchies as mounted here, in mount order (runc binds them in that order). */
function hostHierarchies(): HostHierarchy[] {
  if (hierarchies) return hierarchies;
  const out: HostHierarchy[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const fstype = line.slice(sep + 3).split(" ")[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    // A hierarchy mounted from below its root (pierd in a cgroup namespace): runc's paths differ.
    if (pre[3] !== "/") continue;
    const point = pre[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (out.some((h) => h.point === point)) continue;
    out.push({ point, v2: fstype === "cgroup2" });
  }
  hierarchies = out;
  return out;
}

function parseOptions(options: readonly string[]): { flags: number; prop: number[]; data: string[] } {
  let flags = 0;
  const prop: number[] = [];
  const data: string[] = [];
  for (const o of options) {
    const f = MOUNT_FLAGS[o];
    if (f) flags = f[0] ? flags & ~f[1] : flags | f[1];
    else if (PROPAGATION[o] !== undefined) prop.push(PROPAGATION[o]!);
    else if (o === "tmpcopyup" || o.startsWith("r") && MOUNT_FLAGS[o.slice(1)] && o !== "rw" && o !== "ro" && o !== "rbind") no(`mount option ${o}`);
    else data.push(o);
  }
  return { flags, prop, data };
}

function mountItem(dest: string, type: string, source: string, flags: number, data: string, prop: number[], file: boolean): string {
  return `mount=${[field(dest), type, field(source), String(flags), field(data), prop.join(","), file ? "file" : "dir"].join("\t")}`;
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

/** runc's mounts, in order; the cgroup mount as runc lays it out on a cgroup v1 host. */
function mountItems(spec: Spec, cgroupsPath: string): string[] {
  const items: string[] = [];
  for (const m of spec.mounts ?? []) {
    const dest = m.destination;
    if (!path.isAbsolute(dest)) no(`mount destination ${dest}`);
    const type = isBind(m) ? "bind" : m.type ?? "";
    if (!MOUNT_TYPES.has(type)) no(`mount type ${m.type}`);
    // runc refuses most mounts over /proc: let it say so.
    if ((dest === "/proc" || dest.startsWith("/proc/")) && type !== "proc") no(`a ${type} mount on ${dest}`);
    const { flags, prop, data } = parseOptions(m.options ?? []);
    if (type === "cgroup") {
      const tmpfsFlags = MS.NOEXEC | MS.NOSUID | MS.NODEV;
      items.push(mountItem(dest, "tmpfs", "tmpfs", tmpfsFlags, "mode=755", prop, false));
      for (const h of hostHierarchies()) {
        if (h.v2) continue;
        const name = path.basename(h.point);
        if (name.includes(",")) no("combined cgroup hierarchies");
        items.push(mountItem(path.join(dest, name), "bind", h.point + cgroupsPath, MS.BIND | MS.REC | flags, "", prop, false));
      }
      continue;
    }
    if (type === "bind") {
      const source = m.source ?? "";
      let file: boolean;
      try {
        file = !statSync(source).isDirectory();
      } catch {
        no(`bind source ${source} is missing`);
      }
      items.push(mountItem(dest, "bind", source, flags | MS.BIND, data.join(","), prop, file));
    } else {
      items.push(mountItem(dest, type, m.source ?? type, flags, data.join(","), prop, false));
    }
  }
  return items;
}

function deviceItems(spec: Spec): string[] {
  const devs = [...(spec.linux?.devices ?? [])];
  const items: string[] = [];
  for (const d of DEFAULT_DEVICES) if (!devs.some((x) => x.path === d.path)) devs.push({ ...d, type: "c", fileMode: 0o666, uid: 0, gid: 0 });
  for (const d of devs) {
    const kind = d.type === "b" ? 0o060000 : d.type === "c" || d.type === "u" ? 0o020000 : d.type === "p" ? 0o010000 : no(`device type ${d.type}`);
    if (!path.isAbsolute(d.path) || d.path.endsWith("/")) no(`device path ${d.path}`);
    const mode = kind | ((d.fileMode ?? 0o666) & 0o7777);
    items.push(`device=${[field(d.path), mode, d.major, d.minor, d.uid ?? 0, d.gid ?? 0].join("\t")}`);
  }
  return items;
}

function deviceRule(r: LinuxDeviceCgroup): string {
  const n = (x: number | undefined) => (x === undefined || x < 0 ? "*" : String(x));
  const type = r.type ?? "a";
  return type === "a" && r.major === undefined && r.minor === undefined ? "a" : `${type} ${n(r.major)}:${n(r.minor)} ${r.access ?? "rwm"}`;
}

/** runc's fs manager's writes for a new container's cgroups, by subsystem in its order. */
function resourceWrites(r: LinuxResources | undefined, dirOf: (subsystem: string) => string | undefined): [string, string][] {
  const res = (r ?? {}) as LinuxResources & Record<string, unknown>;
  for (const k of Object.keys(res)) if (!["devices", "memory", "cpu", "pids", "blockIO"].includes(k)) no(`resource ${k}`);
  const out: [string, string][] = [];
  const put = (subsystem: string, file: string, value: string) => {
    const dir = dirOf(subsystem);
    if (!dir) no(`the ${subsystem} cgroup hierarchy is not mounted`);
    out.push([path.join(dir, file), value]);
  };
  const cpu = res.cpu ?? {};
  // Every key is one this writes, or runc gets the container: a limit left out (cpu.burst,
  // cpu.idle, …) would be a container with less isolation than its config asks for.
  const knownCpu = new Set(["shares", "quota", "period", "cpus", "mems", "realtimePeriod", "realtimeRuntime"]);
  for (const k of Object.keys(cpu)) if (!knownCpu.has(k)) no(`cpu.${k}`);
  for (const k of Object.keys(res.pids ?? {})) if (k !== "limit") no(`pids.${k}`);
  if (cpu.realtimePeriod || cpu.realtimeRuntime) no("realtime cpu limits");
  if (cpu.cpus) put("cpuset", "cpuset.cpus", cpu.cpus);
  if (cpu.mems) put("cpuset", "cpuset.mems", cpu.mems);
  // The spec's rules, then runc's own, which it appends to every container's (mknod of any
  // device, the default devices, the console, ptys, tun): the kernel applies them in turn.
  for (const d of [...(res.devices ?? []), ...RUNC_DEVICE_RULES]) put("devices", d.allow ? "devices.allow" : "devices.deny", deviceRule(d));
  const mem = res.memory ?? {};
  const known = new Set(["limit", "reservation", "swap", "swappiness", "disableOOMKiller"]);
  for (const k of Object.keys(mem)) if (!known.has(k)) no(`memory.${k}`);
  const limit = mem.limit ?? 0;
  let swap = mem.swap ?? 0;
  if (limit === -1 && swap === 0) swap = -1;
  if (limit !== 0) put("memory", "memory.limit_in_bytes", String(limit));
  if (swap !== 0) put("memory", "memory.memsw.limit_in_bytes", String(swap));
  if (mem.reservation) put("memory", "memory.soft_limit_in_bytes", String(mem.reservation));
  if (mem.disableOOMKiller) put("memory", "memory.oom_control", "1");
  if (mem.swappiness !== undefined && mem.swappiness !== -1) put("memory", "memory.swappiness", String(mem.swappiness));
  if (cpu.shares) put("cpu", "cpu.shares", String(cpu.shares));
  if (cpu.period) put("cpu", "cpu.cfs_period_us", String(cpu.period));
  if (cpu.quota) put("cpu", "cpu.cfs_quota_us", String(cpu.quota));
  const pids = res.pids?.limit ?? 0;
  if (pids !== 0) put("pids", "pids.max", pids > 0 ? String(pids) : "max");
  const bio = (res.blockIO ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(bio)) if (k !== "weight") no(`blockIO.${k}`);
  if (res.blockIO?.weight) put("blkio", "blkio.weight", String(res.blockIO.weight));
  return out;
}

/**
 * The plan for `spec` (runc's config: the shim's, or one without a seccomp profile), or why the
 * builtin runtime cannot create it.
 */
export function builtinPlan(spec: Spec, id: string): BuiltinPlan {
  try {
    return build(spec, id);
  } catch (err) {
    if (err instanceof Unsupported) return { unsupported: err.message };
    throw err;
  }
}

function build(spec: Spec, id: string): BuiltinPlan {
  const linux = spec.linux ?? {};
  const p = spec.process;
  if (linux.seccomp) no("a seccomp profile to compile");
  if (spec.hooks && Object.values(spec.hooks).some((h) => (h ?? []).length > 0)) no("hooks");
  if ((p.apparmorProfile && p.apparmorProfile !== "unconfined") || p.selinuxLabel || linux.mountLabel) no("an LSM label");
  if (Object.keys(linux).some((k) => !["namespaces", "resources", "cgroupsPath", "devices", "sysctl", "maskedPaths", "readonlyPaths", "rootfsPropagation"].includes(k))) no("linux settings beyond the common ones");
  const prop = linux.rootfsPropagation ? PROPAGATION[linux.rootfsPropagation] : undefined;
  if (linux.rootfsPropagation && (prop === undefined || (prop & MS.SHARED) !== 0)) no(`rootfs propagation ${linux.rootfsPropagation}`);
  const cgroupsPath = linux.cgroupsPath ?? "";
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(cgroupsPath) || cgroupsPath.includes("..")) no(`cgroups path ${cgroupsPath}`);
  const hosts = hostHierarchies();
  if (!hosts.some((h) => !h.v2)) no("a cgroup v2-only host");
  const caps = capabilityMasks(p.capabilities);
  if (!caps) no("a capability unknown here");
  if (!path.isAbsolute(p.cwd)) no("a relative cwd");
  if (p.args.length === 0) no("no command");

  let clone = 0;
  const items: string[] = [`rootfs=${spec.root.path}`];
  let newUts = false;
  for (const ns of linux.namespaces ?? []) {
    const flag = { mount: CLONE.NEWNS, uts: CLONE.NEWUTS, ipc: CLONE.NEWIPC, pid: CLONE.NEWPID, network: CLONE.NEWNET }[ns.type as string];
    if (flag === undefined) no(`a ${ns.type} namespace`);
    if (!ns.path) {
      clone |= flag;
      if (ns.type === "uts") newUts = true;
    } else if (ns.type === "network" || ns.type === "ipc" || ns.type === "uts") items.push(`joinns=${ns.type}\t${field(ns.path)}`);
    else no(`joining a ${ns.type} namespace`);
  }
  if (!(clone & CLONE.NEWNS)) no("no mount namespace");
  if ((spec.hostname || spec.domainname) && !newUts) no("a hostname without a UTS namespace");
  items.push(`clone=${clone.toString(16)}`);
  if (spec.root.readonly) items.push("readonlyroot=1");
  if (prop !== undefined) items.push(`rootprop=${prop}`);
  if (spec.hostname) items.push(`hostname=${spec.hostname}`);
  if (spec.domainname) items.push(`domainname=${spec.domainname}`);

  // Cgroups: every hierarchy of the host (runc joins them all, the unified one too on a hybrid host).
  const dirs = hosts.map((h) => ({ ...h, dir: h.point + cgroupsPath }));
  for (const h of dirs) items.push(`${h.v2 ? "cgroupdir2" : "cgroupdir"}=${h.point}\t${cgroupsPath}`);
  const dirOf = (subsystem: string) => dirs.find((d) => !d.v2 && path.basename(d.point) === subsystem)?.dir;
  for (const [file, value] of resourceWrites(linux.resources, dirOf)) items.push(`cgwrite=${file}\t${field(value)}`);

  items.push(...mountItems(spec, cgroupsPath));
  if (!(spec.mounts ?? []).some((m) => m.destination === "/dev" && isBind(m))) items.push("devsetup=1", ...deviceItems(spec));
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) {
    if (!/^[A-Za-z0-9_.\-]+$/.test(k) || k.includes("..")) no(`sysctl ${k}`);
    items.push(`sysctl=${k.replace(/\//g, ".")}\t${field(v)}`);
  }
  for (const m of linux.readonlyPaths ?? []) items.push(`readonlypath=${m}`);
  for (const m of linux.maskedPaths ?? []) items.push(`masked=${m}`);

  // The process, as runc's init would leave it.
  items.push(...processPlanItems({ uid: p.user.uid, gid: p.user.gid, additionalGids: p.user.additionalGids ?? [], cwd: p.cwd, args: p.args, noNewPrivileges: !!p.noNewPrivileges, caps }));
  if (p.user.umask !== undefined) items.push(`umask=${p.user.umask.toString(8)}`);
  for (const e of p.env ?? []) items.push(`env=${e}`);
  if (!(p.env ?? []).some((e) => e.startsWith("HOME="))) items.push("homefromuser=1");
  for (const r of p.rlimits ?? []) {
    const n = rlimitNumber(r.type);
    if (n === undefined) no(`rlimit ${r.type}`);
    const v = (x: number) => (x === -1 || x >= 2 ** 63 ? "u" : String(x));
    items.push(`rlimit=${n}:${v(r.soft)}:${v(r.hard)}`);
  }
  if (p.oomScoreAdj !== undefined) items.push(`oom=${p.oomScoreAdj}`);
  items.push(`keyring=_ses.${id}`);
  return { items, state: { cgroups: dirs.map((d) => d.dir), cgroupCheck: `:${cgroupsPath}\n` } };
}
