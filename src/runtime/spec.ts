// The OCI runtime spec (a bundle's config.json) for one container, with Docker's defaults and
// Docker's handling of HostConfig: moby oci/defaults.go (DefaultLinuxSpec) and
// daemon/oci_linux.go (createSpec and its With* options), as of Docker 24/25.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { invalidParameter, systemError } from "../errdefs/index.js";
import type {
  LinuxDevice,
  LinuxDeviceCgroup,
  LinuxNamespace,
  LinuxResources,
  LinuxSeccomp,
  Mount,
  POSIXRlimit,
  Spec,
} from "../oci/index.js";
import { defaultSeccompProfile, hostGoArch, kernelRunsX32, parseSeccompProfile, resolveSeccomp } from "./seccomp.js";

/** The Docker API's HostConfig fields that affect the spec (all optional, as clients send them). */
export interface HostConfigInput {
  Privileged?: boolean;
  /** "private": a cgroup namespace of its own; "host" (or unset: the caller fills the default) none. */
  CgroupnsMode?: string;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[] | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[] | null;
  DeviceCgroupRules?: string[] | null;
  OomKillDisable?: boolean | null;
  OomScoreAdj?: number;
  ReadonlyRootfs?: boolean;
  Tmpfs?: Record<string, string> | null;
  GroupAdd?: string[] | null;
  Init?: boolean | null;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  BlkioWeight?: number;
}

export type NetworkSpec =
  | { mode: "host" }
  | { mode: "new" }
  /** Join an existing netns. `fromContainer` is true for NetworkMode "container:<id>": Docker then adds no default net sysctls. */
  | { mode: "path"; path: string; fromContainer?: boolean };

export interface SpecOptions {
  id: string;
  /** Absolute path of the already-mounted rootfs. */
  rootfs: string;
  /** The process (entrypoint + cmd, already resolved). */
  args: string[];
  env: string[];
  /** "" means "/". */
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  tty: boolean;
  hostname: string;
  domainname?: string;
  hostConfig: HostConfigInput;
  /**
   * OCI mounts the caller resolved (volumes, binds, /etc/hosts, /etc/resolv.conf, /etc/hostname,
   * /dev/shm source…). A caller mount whose destination equals a default mount's destination
   * replaces the default; one at /dev drops every default under /dev.
   */
  mounts: Mount[];
  network: NetworkSpec;
  /** e.g. "/pier/<id>" (cgroupfs driver). */
  cgroupsPath: string;
  /** Host path of tini/catatonit; with HostConfig.Init it is bind-mounted read-only at /sbin/docker-init. */
  initPath?: string;
  /** Daemon --default-ulimit, overridden per name by HostConfig.Ulimits. */
  defaultUlimits?: { Name: string; Soft: number; Hard: number }[];
  /** JSON text of the daemon's default seccomp profile; absent = assets/seccomp-default.json. */
  seccompProfile?: string;
  /** Namespace paths to join for IpcMode/PidMode "container:<id>" (e.g. /proc/<pid>/ns/ipc). */
  namespacePaths?: { ipc?: string; pid?: string };
  /**
   * The daemon's data root. A bind from inside it whose source mount is neither shared nor slave
   * falls back to private propagation instead of failing (as moby does for its own root).
   */
  daemonRoot?: string;
  /** Called with Docker's warnings for settings the host cannot honour (they are dropped). */
  onWarning?: (msg: string) => void;
}

// ---------------------------------------------------------------------------------------------
// Docker's defaults (moby oci/defaults.go)

export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Capability names by number (linux/capability.h), as far as libcap/containerd know them. */
export const CAPABILITY_NAMES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** 64 MiB, Docker's default --shm-size. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where Docker mounts the init binary (tini) inside the container. */
export const CONTAINER_INIT_PATH = "/sbin/docker-init";

/**
 * RLIM_INFINITY (2^64-1) as a JS number. It cannot be represented exactly: serialize specs with
 * specToJSON(), which writes it as 18446744073709551615.
 */
export const RLIM_INFINITY = 18446744073709551615;

function defaultMounts(): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777"] },
  ];
}

/** Docker's default device cgroup rules: deny all, allow the standard character devices, deny fuse. */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allow = (major: number, minor: number): LinuxDeviceCgroup => ({ allow: true, type: "c", major, minor, access: "rwm" });
  return [
    { allow: false, access: "rwm" },
    allow(1, 5), // /dev/zero
    allow(1, 3), // /dev/null
    allow(1, 9), // /dev/urandom
    allow(1, 8), // /dev/random
    allow(5, 0), // /dev/tty
    allow(5, 1), // /dev/console
    { allow: false, type: "c", major: 10, minor: 229, access: "rwm" }, // /dev/fuse
  ];
}

// ---------------------------------------------------------------------------------------------
// Host facts (read once)

function memo<T>(fn: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = fn();
      done = true;
    }
    return value;
  };
}

function readText(p: string): string | undefined {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
}

const exists = (p: string): boolean => fs.existsSync(p);

/** /proc/sys/kernel/cap_last_cap (the highest capability number this kernel knows). */
export const lastCap = memo((): number => {
  const n = Number((readText("/proc/sys/kernel/cap_last_cap") ?? "").trim());
  return Number.isInteger(n) && n > 0 ? n : CAPABILITY_NAMES.length - 1;
});

/** Effective capability set of this process (Docker's caps.Current()); undefined when unreadable. */
const currentCapEff = memo((): bigint | undefined => {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readText("/proc/self/status") ?? "");
  return m ? BigInt(`0x${m[1]}`) : undefined;
});

/**
 * The capabilities a container can be given here: those this kernel knows and (like Docker 23+)
 * that the daemon itself holds. Privileged containers get exactly these; CapAdd "ALL" too.
 */
export const availableCapabilities = memo((): string[] => {
  const eff = currentCapEff();
  const out: string[] = [];
  for (let i = 0; i <= Math.min(lastCap(), CAPABILITY_NAMES.length - 1); i++) {
    if (eff !== undefined && ((eff >> BigInt(i)) & 1n) === 0n) continue;
    out.push(CAPABILITY_NAMES[i]!);
  }
  return out;
});

interface CgroupFeatures {
  swap: boolean;
  swappiness: boolean;
  oomKillDisable: boolean;
  blkioWeight: boolean;
  cpuCfs: boolean;
  cpuShares: boolean;
  cpuset: boolean;
  pids: boolean;
  cpusAvailable?: string;
  memsAvailable?: string;
}

/** dockerd's default-cgroupns-mode: a private cgroup namespace on cgroup v2 hosts, the host's on v1. */
export const defaultCgroupnsMode = memo((): "host" | "private" => (exists("/sys/fs/cgroup/cgroup.controllers") ? "private" : "host"));

const cgroupFeatures = memo((): CgroupFeatures => {
  const root = "/sys/fs/cgroup";
  if (exists(path.join(root, "cgroup.controllers"))) {
    // cgroup v2 (unified)
    const ctrls = (readText(path.join(root, "cgroup.controllers")) ?? "").split(/\s+/);
    const has = (c: string) => ctrls.includes(c);
    return {
      swap: has("memory"),
      swappiness: false,
      oomKillDisable: false,
      blkioWeight: has("io"),
      cpuCfs: has("cpu"),
      cpuShares: has("cpu"),
      cpuset: has("cpuset"),
      pids: has("pids"),
      cpusAvailable: readText(path.join(root, "cpuset.cpus.effective"))?.trim(),
      memsAvailable: readText(path.join(root, "cpuset.mems.effective"))?.trim(),
    };
  }
  const mem = path.join(root, "memory");
  const blkio = path.join(root, "blkio");
  const cpu = path.join(root, "cpu");
  const cpuset = path.join(root, "cpuset");
  return {
    swap: exists(path.join(mem, "memory.memsw.limit_in_bytes")),
    swappiness: exists(path.join(mem, "memory.swappiness")),
    oomKillDisable: exists(path.join(mem, "memory.oom_control")),
    blkioWeight: exists(path.join(blkio, "blkio.weight")) || exists(path.join(blkio, "blkio.bfq.weight")),
    cpuCfs: exists(path.join(cpu, "cpu.cfs_quota_us")),
    cpuShares: exists(path.join(cpu, "cpu.shares")),
    cpuset: exists(path.join(cpuset, "cpuset.cpus")),
    pids: exists(path.join(root, "pids")),
    cpusAvailable: readText(path.join(cpuset, "cpuset.cpus"))?.trim(),
    memsAvailable: readText(path.join(cpuset, "cpuset.mems"))?.trim(),
  };
});

/** Whether this process runs inside a user namespace (uid_map is not the full identity map). */
const runningInUserNS = memo((): boolean => {
  const map = readText("/proc/self/uid_map");
  if (map === undefined) return false;
  const f = map.trim().split(/\s+/);
  return !(f.length === 3 && f[0] === "0" && f[1] === "0" && f[2] === "4294967295");
});

const apparmorSupported = memo((): boolean => {
  if (!exists("/sys/kernel/security/apparmor")) return false;
  const enabled = readText("/sys/module/apparmor/parameters/enabled");
  return enabled === undefined || enabled.trim().startsWith("Y");
});

const sysctlExists = (name: string): boolean => exists(path.join("/proc/sys", name.replace(/\./g, "/")));

// ---------------------------------------------------------------------------------------------
// Capabilities (moby oci/caps)

/** Upper-case, add CAP_, check against the known and available capabilities; "ALL" passes. */
export function normalizeCapabilities(caps: string[]): string[] {
  const available = new Set(availableCapabilities());
  const known = new Set(CAPABILITY_NAMES);
  const out: string[] = [];
  for (let c of caps) {
    c = c.toUpperCase();
    if (c === "ALL") {
      out.push(c);
      continue;
    }
    if (!c.startsWith("CAP_")) c = `CAP_${c}`;
    if (!known.has(c)) throw invalidParameter(`unknown capability: ${goQuote(c)}`);
    if (!available.has(c)) {
      throw invalidParameter(
        `capability not supported by your kernel or not available in the current environment: ${goQuote(c)}`,
      );
    }
    out.push(c);
  }
  return out;
}

/** Docker's TweakCapabilities: the container's capability list from defaults, CapAdd, CapDrop, Privileged. */
export function tweakCapabilities(
  basics: readonly string[],
  adds: string[] | null | undefined,
  drops: string[] | null | undefined,
  privileged: boolean,
): string[] {
  if (privileged) return availableCapabilities().slice();
  if (!adds?.length && !drops?.length) return basics.slice();
  const capDrop = normalizeCapabilities(drops ?? []);
  const capAdd = normalizeCapabilities(adds ?? []);
  let caps: string[];
  if (capAdd.includes("ALL")) {
    caps = availableCapabilities().filter((c) => !capDrop.includes(c));
  } else if (capDrop.includes("ALL")) {
    caps = capAdd;
  } else {
    caps = [...basics.filter((c) => !capDrop.includes(c)), ...capAdd];
  }
  return [...new Set(caps)];
}

// ---------------------------------------------------------------------------------------------
// Security options (moby daemon parseSecurityOpt)

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined = daemon default; "unconfined"; "builtin"; otherwise the profile's JSON text. */
  seccomp?: string;
  apparmor?: string;
  labels: string[];
}

/** Go's strconv.ParseBool. */
function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

/** Go's %q for the plain strings these messages quote. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

export function parseSecurityOpt(opts: string[] | null | undefined): SecurityOptions {
  const res: SecurityOptions = { noNewPrivileges: false, labels: [] };
  for (const opt of opts ?? []) {
    if (opt === "no-new-privileges") {
      res.noNewPrivileges = true;
      continue;
    }
    if (opt === "disable") {
      res.labels.push("disable");
      continue;
    }
    let key: string;
    let value: string;
    const eq = opt.indexOf("=");
    const colon = opt.indexOf(":");
    if (eq >= 0) {
      key = opt.slice(0, eq);
      value = opt.slice(eq + 1);
    } else if (colon >= 0) {
      // Deprecated separator, still accepted by Docker 24.
      key = opt.slice(0, colon);
      value = opt.slice(colon + 1);
    } else {
      throw invalidParameter(`invalid --security-opt 1: ${goQuote(opt)}`);
    }
    switch (key) {
      case "label":
        res.labels.push(value);
        break;
      case "apparmor":
        res.apparmor = value;
        break;
      case "seccomp":
        res.seccomp = value;
        break;
      case "no-new-privileges": {
        const b = parseGoBool(value);
        if (b === undefined) throw invalidParameter(`invalid --security-opt 2: ${goQuote(opt)}`);
        res.noNewPrivileges = b;
        break;
      }
      default:
        throw invalidParameter(`invalid --security-opt 2: ${goQuote(opt)}`);
    }
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// tmpfs options (moby/sys/mount MergeTmpfsOptions)

const MOUNT_FLAGS: Record<string, string> = {
  // option => key of the flag it sets or clears (options with the same key collide)
  ro: "rdonly", rw: "rdonly",
  suid: "nosuid", nosuid: "nosuid",
  dev: "nodev", nodev: "nodev",
  exec: "noexec", noexec: "noexec",
  sync: "sync", async: "sync",
  dirsync: "dirsync",
  remount: "remount",
  mand: "mand", nomand: "mand",
  atime: "noatime", noatime: "noatime",
  diratime: "nodiratime", nodiratime: "nodiratime",
  relatime: "relatime", norelatime: "relatime",
  strictatime: "strictatime", nostrictatime: "strictatime",
  // propagation: only one survives
  bind: "propagation", rbind: "propagation", unbindable: "propagation", runbindable: "propagation",
  private: "propagation", rprivate: "propagation", shared: "propagation", rshared: "propagation",
  slave: "propagation", rslave: "propagation",
};
const TMPFS_DATA_KEYS = new Set(["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"]);

/** Remove duplicate/conflicting options, the last one winning; unknown options are invalid. */
export function mergeTmpfsOptions(options: string[]): string[] {
  const flagSeen = new Set<string>();
  const dataSeen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i]!;
    if (option === "defaults") continue;
    const flag = MOUNT_FLAGS[option];
    if (flag !== undefined) {
      if (!flagSeen.has(flag)) {
        out.unshift(option);
        flagSeen.add(flag);
      }
      continue;
    }
    const eq = option.indexOf("=");
    const key = eq >= 0 ? option.slice(0, eq) : option;
    if (eq < 0 || !(TMPFS_DATA_KEYS.has(key) || key === "")) {
      const parts = eq >= 0 ? [key, option.slice(eq + 1)] : [option];
      throw invalidParameter(`invalid tmpfs option [${parts.map(goQuote).join(" ")}]`);
    }
    if (!dataSeen.has(key)) {
      out.unshift(option);
      dataSeen.add(key);
    }
  }
  return out;
}

/**
 * A tmpfs from HostConfig.Mounts as tmpfs data (moby's ConvertTmpfsOptions): "ro", the mode in
 * octal, the size with the largest suffix that divides it evenly.
 */
export function tmpfsMountData(opts: { SizeBytes?: number; Mode?: number } | undefined, readOnly: boolean): string {
  const raw: string[] = readOnly ? ["ro"] : [];
  if (opts?.Mode) raw.push(`mode=${opts.Mode.toString(8)}`);
  if (opts?.SizeBytes) {
    const size = opts.SizeBytes;
    const unit = ([["g", 2 ** 30], ["m", 2 ** 20], ["k", 2 ** 10]] as const).find(([, d]) => size % d === 0);
    raw.push(unit ? `size=${size / unit[1]}${unit[0]}` : `size=${size}`);
  }
  return raw.join(",");
}

/** A HostConfig.Tmpfs entry as an OCI mount (Docker's defaults noexec,nosuid,nodev,rprivate, then the user's). */
export function tmpfsMount(destination: string, data: string): Mount {
  if (!destination.startsWith("/")) {
    throw invalidParameter(`invalid mount config for type "tmpfs": invalid mount path: '${destination}' mount path must be absolute`);
  }
  const options = ["noexec", "nosuid", "nodev", "rprivate"];
  if (data !== "") options.push(...data.split(","));
  return { destination, type: "tmpfs", source: "tmpfs", options: mergeTmpfsOptions(options) };
}

// ---------------------------------------------------------------------------------------------
// Sysctls (runc's validation; Docker passes them through and runc refuses the others)

const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

export function validateSysctls(
  sysctls: Record<string, string>,
  ns: { ipc: boolean; uts: boolean; hostNetwork: boolean },
): void {
  for (const key of Object.keys(sysctls)) {
    if (IPC_SYSCTLS.has(key) || key.startsWith("fs.mqueue.")) {
      if (!ns.ipc) throw invalidParameter(`sysctl ${goQuote(key)} is not allowed in the hosts ipc namespace`);
      continue;
    }
    if (key.startsWith("net.")) {
      if (ns.hostNetwork) throw invalidParameter(`sysctl ${goQuote(key)} not allowed in host network namespace`);
      continue;
    }
    if (ns.uts) {
      if (key === "kernel.domainname") continue;
      if (key === "kernel.hostname") {
        throw invalidParameter(`sysctl ${goQuote(key)} is not allowed as it conflicts with the OCI "hostname" field`);
      }
    }
    throw invalidParameter(`sysctl ${goQuote(key)} is not in a separate kernel namespace`);
  }
}

// ---------------------------------------------------------------------------------------------
// Ulimits

const ULIMIT_NAMES = new Set([
  "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
  "rtprio", "rttime", "sigpending", "stack",
]);

/** Docker's rlimits: HostConfig.Ulimits plus the daemon defaults it does not name. */
export function buildRlimits(
  ulimits: { Name: string; Soft: number; Hard: number }[] | null | undefined,
  defaults: { Name: string; Soft: number; Hard: number }[] | undefined,
): POSIXRlimit[] {
  const merged = [...(ulimits ?? [])];
  const named = new Set(merged.map((u) => u.Name));
  for (const d of defaults ?? []) if (!named.has(d.Name)) merged.push(d);
  const toRlim = (n: number) => (n < 0 ? RLIM_INFINITY : n);
  return merged.map((u) => {
    if (!ULIMIT_NAMES.has(u.Name)) throw invalidParameter(`invalid ulimit type: ${u.Name}`);
    if (u.Hard >= 0 && (u.Soft < 0 || u.Soft > u.Hard)) {
      throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    }
    return { type: `RLIMIT_${u.Name.toUpperCase()}`, soft: toRlim(u.Soft), hard: toRlim(u.Hard) };
  });
}

// ---------------------------------------------------------------------------------------------
// Devices

/** Major/minor from a Linux dev_t (glibc's gnu_dev_major/minor). */
function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

const S_IFMT = 0o170000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;

class NotADeviceError extends Error {
  constructor() {
    super("not a device node");
  }
}

/** containerd's DeviceFromPath: lstat, block/char/fifo with a non-zero major. */
function deviceFromPath(p: string): LinuxDevice {
  const st = fs.lstatSync(p, { bigint: true });
  const major = devMajor(st.rdev);
  const minor = devMinor(st.rdev);
  if (major === 0) throw new NotADeviceError();
  const mode = Number(st.mode);
  let type: string;
  switch (mode & S_IFMT) {
    case S_IFBLK:
      type = "b";
      break;
    case S_IFCHR:
      type = "c";
      break;
    case S_IFIFO:
      type = "p";
      break;
    default:
      throw new NotADeviceError();
  }
  return { path: p, type, major, minor, fileMode: mode & ~S_IFMT, uid: Number(st.uid), gid: Number(st.gid) };
}

function errnoText(err: unknown): string {
  if (err instanceof NotADeviceError) return err.message;
  const e = err as NodeJS.ErrnoException;
  const texts: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    ENOTDIR: "not a directory",
    ELOOP: "too many levels of symbolic links",
  };
  return (e.code && texts[e.code]) || e.message;
}

/** moby oci.DevicesFromPath: one device, or every device below a directory. */
export function devicesFromPath(
  pathOnHost: string,
  pathInContainer: string,
  permissions: string,
): { devices: LinuxDevice[]; rules: LinuxDeviceCgroup[] } {
  const devices: LinuxDevice[] = [];
  const rules: LinuxDeviceCgroup[] = [];
  const add = (d: LinuxDevice) => {
    devices.push(d);
    rules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: permissions });
  };
  let resolved = pathOnHost;
  try {
    if (fs.lstatSync(pathOnHost).isSymbolicLink()) resolved = fs.realpathSync(pathOnHost);
  } catch {
    /* reported below */
  }
  let err: unknown;
  try {
    const d = deviceFromPath(resolved);
    d.path = pathInContainer;
    add(d);
    return { devices, rules };
  } catch (e) {
    err = e;
  }
  if (err instanceof NotADeviceError) {
    let isDir = false;
    try {
      isDir = fs.statSync(resolved).isDirectory();
    } catch {
      /* not a directory */
    }
    if (isDir) {
      const walk = (dir: string) => {
        let entries: fs.Dirent[];
        try {
          entries = fs.readdirSync(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) {
            walk(full);
            continue;
          }
          try {
            const d = deviceFromPath(full);
            d.path = full.replace(resolved, pathInContainer);
            add(d);
          } catch {
            /* not a device: ignored */
          }
        }
      };
      walk(resolved);
    }
  }
  if (devices.length > 0) return { devices, rules };
  throw invalidParameter(
    `error gathering device information while adding custom device ${goQuote(pathOnHost)}: ${errnoText(err)}`,
  );
}

/** containerd's HostDevices: every device under /dev except pts, shm, fd, mqueue, console and fifos. */
export function hostDevices(dir = "/dev"): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw systemError(`error reading device directory ${dir}: ${(err as Error).message}`, err);
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if ([".lxc", ".lxd-mounts", ".udev", "pts", "shm", "fd", "mqueue"].includes(e.name)) continue;
      out.push(...hostDevices(full));
      continue;
    }
    if (e.name === "console") continue;
    try {
      const d = deviceFromPath(full);
      if (d.type === "p") continue;
      out.push(d);
    } catch (err) {
      if (err instanceof NotADeviceError) continue;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EACCES") continue;
      throw systemError(`error reading device ${full}: ${(err as Error).message}`, err);
    }
  }
  return out;
}

function validDeviceMode(mode: string): boolean {
  if (mode === "" || mode.length > 3) return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!"rwm".includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

/** Docker's --device-cgroup-rule syntax: "c 1:3 rwm", "b *:* m", "a". */
export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  if (rule === "a") return { allow: true, type: "a", major: -1, minor: -1, access: "rwm" };
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
  if (!m) throw invalidParameter(`invalid device cgroup rule format: '${rule}'`);
  const num = (s: string, max: number, what: string) => {
    if (s === "*") return -1;
    const n = Number(s);
    if (n > max) throw invalidParameter(`invalid ${what} value in device cgroup rule format: '${rule}'`);
    return n;
  };
  return {
    allow: true,
    type: m[1]!,
    major: num(m[2]!, 2 ** 12 - 1, "major"),
    minor: num(m[3]!, 2 ** 20 - 1, "minor"),
    access: m[4]!,
  };
}

// ---------------------------------------------------------------------------------------------
// Resources (moby daemon verifyPlatformContainerResources + WithResources)

/** Go's sysinfo/parsers ParseUintList for cpuset strings: "0-3,5". */
function parseUintList(s: string): Set<number> | undefined {
  const out = new Set<number>();
  if (s === "") return out;
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

function checkCpuset(requested: string, available: string | undefined, what: "cpus" | "mems"): void {
  const req = parseUintList(requested);
  if (!req) throw invalidParameter(`Invalid value ${requested} for cpuset ${what}`);
  if (available === undefined) return;
  const avail = parseUintList(available);
  if (!avail) return;
  for (const n of req) {
    if (!avail.has(n)) {
      throw invalidParameter(
        what === "cpus"
          ? `Requested CPUs are not available - requested ${requested}, available: ${available}`
          : `Requested memory nodes are not available - requested ${requested}, available: ${available}`,
      );
    }
  }
}

const MIN_MEMORY = 6 * 1024 * 1024;

export function buildResources(hc: HostConfigInput, warn: (msg: string) => void): LinuxResources {
  const f = cgroupFeatures();
  const memory = hc.Memory ?? 0;
  let swap = hc.MemorySwap ?? 0;
  const reservation = hc.MemoryReservation ?? 0;
  const nano = hc.NanoCpus ?? 0;
  const period = hc.CpuPeriod ?? 0;
  const quota = hc.CpuQuota ?? 0;
  const shares = hc.CpuShares ?? 0;
  let blkioWeight = hc.BlkioWeight ?? 0;

  if (memory !== 0 && memory < MIN_MEMORY) throw invalidParameter("Minimum memory limit allowed is 6MB");
  if (memory > 0 && swap === 0) swap = memory * 2; // Docker: swap defaults to twice the memory
  if (swap > 0 && memory === 0) {
    throw invalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage");
  }
  if (swap > 0 && swap < memory) {
    throw invalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (swap > 0 && !f.swap) {
    warn("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
    swap = -1;
  }
  let swappiness = hc.MemorySwappiness ?? undefined;
  if (swappiness !== undefined && swappiness !== -1) {
    if (swappiness < 0 || swappiness > 100) {
      throw invalidParameter(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
    }
    if (!f.swappiness) {
      warn("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.");
      swappiness = undefined;
    }
  }
  if (reservation !== 0 && reservation < MIN_MEMORY) throw invalidParameter("Minimum memory reservation allowed is 6MB");
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw invalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage");
  }
  let oomKillDisable = hc.OomKillDisable ?? false;
  if (oomKillDisable && !f.oomKillDisable) {
    warn("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
    oomKillDisable = false;
  }
  if (oomKillDisable && memory === 0) {
    warn("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");
  }

  if (nano > 0 && period > 0) throw invalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano > 0 && quota > 0) throw invalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  const ncpu = os.availableParallelism();
  if (nano < 0 || nano > ncpu * 1e9) {
    throw invalidParameter(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  }
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw invalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  if (quota > 0 && quota < 1000) throw invalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (shares < 0) throw invalidParameter("shares: invalid argument");
  if (hc.CpusetCpus) checkCpuset(hc.CpusetCpus, f.cpusAvailable, "cpus");
  if (hc.CpusetMems) checkCpuset(hc.CpusetMems, f.memsAvailable, "mems");
  if (blkioWeight > 0 && (blkioWeight < 10 || blkioWeight > 1000)) {
    throw invalidParameter("Range of blkio weight is from 10 to 1000");
  }
  if (blkioWeight > 0 && !f.blkioWeight) {
    warn("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
    blkioWeight = 0;
  }

  const res: LinuxResources = {};
  const mem: NonNullable<LinuxResources["memory"]> = {};
  if (memory > 0) mem.limit = memory;
  if (reservation > 0) mem.reservation = reservation;
  if (swap > 0) mem.swap = swap;
  if (swappiness !== undefined && swappiness !== -1) mem.swappiness = swappiness;
  mem.disableOOMKiller = oomKillDisable;
  res.memory = mem;

  const cpu: NonNullable<LinuxResources["cpu"]> = { shares };
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (nano > 0) {
    cpu.period = 100000;
    cpu.quota = Math.trunc((nano * 100000) / 1e9);
  }
  if (period !== 0) cpu.period = period;
  if (quota !== 0) cpu.quota = quota;
  res.cpu = cpu;

  if (blkioWeight > 0) res.blockIO = { weight: blkioWeight };
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null) {
    res.pids = { limit: hc.PidsLimit <= 0 ? -1 : hc.PidsLimit };
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Mount propagation (moby ensureShared / ensureSharedOrSlave)

interface MountInfo {
  mountpoint: string;
  optional: string;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function readMountinfo(): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of (readText("/proc/self/mountinfo") ?? "").split("\n")) {
    const f = line.split(" ");
    if (f.length < 7) continue;
    const sep = f.indexOf("-", 6);
    out.push({ mountpoint: unescapeMountinfo(f[4]!), optional: f.slice(6, sep < 0 ? undefined : sep).join(" ") });
  }
  return out;
}

/** The mount point holding `source` and its optional fields ("shared:N master:M"). */
function sourceMount(source: string): MountInfo {
  let real: string;
  try {
    real = fs.realpathSync(source);
  } catch (err) {
    throw invalidParameter(`${(err as Error).message}`);
  }
  let best: MountInfo | undefined;
  for (const m of readMountinfo()) {
    const mp = m.mountpoint;
    const under = mp === "/" || real === mp || real.startsWith(mp.endsWith("/") ? mp : `${mp}/`);
    if (under && (!best || mp.length >= best.mountpoint.length)) best = m;
  }
  if (!best) throw invalidParameter(`Can't find mount point of ${source}`);
  return best;
}

const hasOptional = (optional: string, ...prefixes: string[]) =>
  optional.split(" ").some((o) => prefixes.some((p) => o.startsWith(p)));

function applyPropagation(spec: Spec, mounts: Mount[], daemonRoot: string | undefined): void {
  for (const m of mounts) {
    if (m.type === "tmpfs" || !m.source) continue;
    const opts = m.options ?? [];
    const prop = opts.find((o) => ["shared", "rshared", "slave", "rslave"].includes(o));
    if (!prop) continue;
    const linux = spec.linux!;
    const root = linux.rootfsPropagation;
    if (prop === "shared" || prop === "rshared") {
      const sm = sourceMount(m.source);
      if (!hasOptional(sm.optional, "shared:")) {
        throw invalidParameter(`path ${m.source} is mounted on ${sm.mountpoint} but it is not a shared mount`);
      }
      if (root !== "shared" && root !== "rshared") linux.rootfsPropagation = "shared";
    } else {
      const sm = sourceMount(m.source);
      if (!hasOptional(sm.optional, "shared:", "master:")) {
        const inRoot = daemonRoot !== undefined && (m.source.startsWith(daemonRoot) || daemonRoot.startsWith(m.source));
        if (!inRoot) {
          throw invalidParameter(`path ${m.source} is mounted on ${sm.mountpoint} but it is not a shared or slave mount`);
        }
        continue; // fall back to private propagation for the daemon's own root
      }
      if (!["shared", "rshared", "slave", "rslave"].includes(root ?? "")) linux.rootfsPropagation = "rslave";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Namespace modes

function validateModes(hc: HostConfigInput): void {
  const ipc = hc.IpcMode ?? "";
  const ipcValid =
    ["", "private", "shareable", "host", "none"].includes(ipc) || (ipc.startsWith("container:") && ipc.length > 10);
  if (!ipcValid) throw invalidParameter(`invalid IPC mode: ${ipc}`);
  const pid = hc.PidMode ?? "";
  if (!(pid === "" || pid === "host" || (pid.startsWith("container:") && pid.length > 10))) {
    throw invalidParameter(`invalid PID mode: ${pid}`);
  }
  const uts = hc.UTSMode ?? "";
  if (!(uts === "" || uts === "host")) throw invalidParameter(`invalid UTS mode: ${uts}`);
}

function setNamespace(list: LinuxNamespace[], ns: LinuxNamespace): void {
  const i = list.findIndex((n) => n.type === ns.type);
  if (i >= 0) list[i] = ns;
  else list.push(ns);
}

function removeNamespace(list: LinuxNamespace[], type: LinuxNamespace["type"]): void {
  const i = list.findIndex((n) => n.type === type);
  if (i >= 0) list.splice(i, 1);
}

/** A mount destination as Go's filepath.Clean writes it (no trailing slash, no "." or ".."). */
const cleanDest = (p: string): string => {
  const c = path.posix.normalize(p);
  return c.length > 1 ? c.replace(/\/+$/, "") : c;
};
const pathDepth = (p: string) => (cleanDest(p).match(/\//g) ?? []).length;

// ---------------------------------------------------------------------------------------------

/** Build the OCI runtime spec of a container as Docker 24/25 would for the same HostConfig. */
export function buildSpec(opts: SpecOptions): Spec {
  const hc = opts.hostConfig ?? {};
  const warn = opts.onWarning ?? (() => {});
  const privileged = hc.Privileged === true;
  const sec = parseSecurityOpt(hc.SecurityOpt);
  validateModes(hc);
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000)) {
    throw invalidParameter(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw invalidParameter("SHM size can not be less than 0");

  const ipcMode = hc.IpcMode ?? "";
  const pidMode = hc.PidMode ?? "";
  const utsHost = hc.UTSMode === "host";

  // --- process
  let args = [...opts.args];
  const initMounts: Mount[] = [];
  const pidPrivate = pidMode !== "host" && !pidMode.startsWith("container:");
  if (hc.Init === true && pidPrivate) {
    if (!opts.initPath) throw systemError("an init process was requested (--init) but no init binary is configured");
    args = [CONTAINER_INIT_PATH, "--", ...args];
    initMounts.push({ destination: CONTAINER_INIT_PATH, type: "bind", source: opts.initPath, options: ["bind", "ro"] });
  }

  const spec: Spec = {
    ociVersion: "1.0.2-dev",
    process: {
      terminal: opts.tty,
      user: { uid: opts.user.uid, gid: opts.user.gid },
      args,
      env: [...opts.env],
      cwd: opts.cwd === "" ? "/" : opts.cwd,
    },
    root: { path: opts.rootfs, readonly: hc.ReadonlyRootfs === true },
    mounts: [],
    linux: {},
  };
  if (opts.user.additionalGids.length > 0) spec.process.user.additionalGids = [...opts.user.additionalGids];
  const linux = spec.linux!;

  // --- hostname, domainname (Docker sets the NIS domain name through the kernel.domainname sysctl)
  const sysctl: Record<string, string> = {};
  if (!utsHost && opts.hostname) spec.hostname = opts.hostname;
  if (!utsHost && opts.domainname) sysctl["kernel.domainname"] = opts.domainname;
  const netPrivate = opts.network.mode === "new" || (opts.network.mode === "path" && !opts.network.fromContainer);
  if (netPrivate) {
    if (!runningInUserNS() && sysctlExists("net.ipv4.ping_group_range")) {
      sysctl["net.ipv4.ping_group_range"] = "0 2147483647";
    }
    if (sysctlExists("net.ipv4.ip_unprivileged_port_start")) sysctl["net.ipv4.ip_unprivileged_port_start"] = "0";
  }
  for (const [k, v] of Object.entries(hc.Sysctls ?? {})) sysctl[k] = v;

  // --- cgroups and resources
  linux.cgroupsPath = opts.cgroupsPath;
  linux.resources = buildResources(hc, warn);

  // --- devices
  if (privileged) {
    const devices = hostDevices();
    for (const dm of hc.Devices ?? []) {
      const inContainer = dm.PathInContainer || dm.PathOnHost;
      if (dm.PathOnHost === inContainer) continue; // already there through /dev
      devices.push(...devicesFromPath(dm.PathOnHost, inContainer, "rwm").devices);
    }
    linux.devices = devices;
    linux.resources.devices = [{ allow: true, access: "rwm" }];
  } else {
    const devices: LinuxDevice[] = [];
    const rules = defaultDeviceRules();
    for (const dm of hc.Devices ?? []) {
      const perms = dm.CgroupPermissions || "rwm";
      if (!validDeviceMode(perms)) throw invalidParameter(`invalid device mode: ${perms}`);
      const r = devicesFromPath(dm.PathOnHost, dm.PathInContainer || dm.PathOnHost, perms);
      devices.push(...r.devices);
      rules.push(...r.rules);
    }
    for (const rule of hc.DeviceCgroupRules ?? []) rules.push(parseDeviceCgroupRule(rule));
    if (devices.length > 0) linux.devices = devices;
    linux.resources.devices = rules;
  }

  // --- rlimits
  const rlimits = buildRlimits(hc.Ulimits, opts.defaultUlimits);
  if (rlimits.length > 0) spec.process.rlimits = rlimits;

  // --- namespaces
  const namespaces: LinuxNamespace[] = [
    { type: "mount" },
    { type: "network" },
    { type: "uts" },
    { type: "pid" },
    { type: "ipc" },
  ];
  if (opts.network.mode === "host") removeNamespace(namespaces, "network");
  else if (opts.network.mode === "path") setNamespace(namespaces, { type: "network", path: opts.network.path });
  if (ipcMode === "host") {
    removeNamespace(namespaces, "ipc");
  } else if (ipcMode.startsWith("container:")) {
    if (!opts.namespacePaths?.ipc) throw invalidParameter(`invalid IPC mode: ${ipcMode}: no namespace path to join`);
    setNamespace(namespaces, { type: "ipc", path: opts.namespacePaths.ipc });
  }
  if (pidMode === "host") {
    removeNamespace(namespaces, "pid");
  } else if (pidMode.startsWith("container:")) {
    if (!opts.namespacePaths?.pid) throw invalidParameter(`invalid PID mode: ${pidMode}: no namespace path to join`);
    setNamespace(namespaces, { type: "pid", path: opts.namespacePaths.pid });
  }
  if (utsHost) removeNamespace(namespaces, "uts");
  if (hc.CgroupnsMode === "private") namespaces.push({ type: "cgroup" });
  linux.namespaces = namespaces;

  validateSysctls(sysctl, {
    ipc: ipcMode !== "host",
    uts: !utsHost,
    hostNetwork: opts.network.mode === "host",
  });
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;

  // --- capabilities (after the user: a non-root user only gets the bounding set, as execve would)
  const caps = tweakCapabilities(DEFAULT_CAPABILITIES, hc.CapAdd, hc.CapDrop, privileged);
  spec.process.capabilities =
    opts.user.uid === 0 ? { bounding: caps, effective: caps.slice(), permitted: caps.slice() } : { bounding: caps };

  // --- seccomp
  linux.seccomp = seccompFor(sec.seccomp, privileged, caps, opts.seccompProfile, warn);
  if (!linux.seccomp) delete linux.seccomp;

  // --- mounts
  const tmpfs: Mount[] = [];
  const callerDest = new Set(opts.mounts.map((m) => cleanDest(m.destination)));
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    if (callerDest.has(cleanDest(dest))) throw invalidParameter(`Duplicate mount point: ${dest}`);
    tmpfs.push(tmpfsMount(dest, data ?? ""));
  }
  const userMounts = [...opts.mounts, ...tmpfs]
    .map((m, i) => ({ m, i }))
    .sort((a, b) => pathDepth(a.m.destination) - pathDepth(b.m.destination) || a.i - b.i)
    .map(({ m }) => ({ ...m, options: m.options ? [...m.options] : undefined }));
  const userDest = new Set(userMounts.map((m) => cleanDest(m.destination)));
  const mountDev = userDest.has("/dev");
  const mounts: Mount[] = [];
  for (const m of [...defaultMounts(), ...initMounts]) {
    if (userDest.has(m.destination)) continue;
    if (mountDev && m.destination.startsWith("/dev/")) continue;
    if (m.destination === "/dev/shm") {
      if (ipcMode === "none") continue;
      m.options = [...(m.options ?? []), `size=${hc.ShmSize || DEFAULT_SHM_SIZE}`];
    }
    mounts.push(m);
  }
  for (const m of userMounts) {
    if (m.options === undefined) delete m.options;
    mounts.push(m);
  }
  applyPropagation(spec, userMounts, opts.daemonRoot);

  if (spec.root.readonly) {
    for (const m of mounts) {
      if (["/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"].includes(m.destination)) continue;
      if (userDest.has(cleanDest(m.destination))) continue;
      if (!(m.options ?? []).includes("ro")) m.options = [...(m.options ?? []), "ro"];
    }
  }
  if (privileged) {
    for (const m of mounts) {
      if (m.destination === "/sys" || m.type === "cgroup") m.options = (m.options ?? []).filter((o) => o !== "ro");
    }
  }
  spec.mounts = mounts;

  // --- masked and read-only paths (an explicit HostConfig list wins, even when privileged)
  const masked = hc.MaskedPaths ?? (privileged ? [] : DEFAULT_MASKED_PATHS);
  const readonly = hc.ReadonlyPaths ?? (privileged ? [] : DEFAULT_READONLY_PATHS);
  if (masked.length > 0) linux.maskedPaths = [...masked];
  if (readonly.length > 0) linux.readonlyPaths = [...readonly];

  // --- apparmor (only where the host has it; Docker's docker-default profile is not loaded by Pier)
  if (apparmorSupported()) {
    if (sec.apparmor) spec.process.apparmorProfile = sec.apparmor;
    else if (privileged) spec.process.apparmorProfile = "unconfined";
  }

  if (sec.noNewPrivileges) spec.process.noNewPrivileges = true;
  spec.process.oomScoreAdj = hc.OomScoreAdj ?? 0;
  return spec;
}

/** Whether the kernel supports seccomp filters (a "Seccomp:" line in /proc/self/status). */
const seccompSupported = memo((): boolean => /^Seccomp:/m.test(readText("/proc/self/status") ?? ""));

function seccompFor(
  choice: string | undefined,
  privileged: boolean,
  caps: string[],
  daemonProfile: string | undefined,
  warn: (msg: string) => void,
): LinuxSeccomp | undefined {
  if (choice === "unconfined" || privileged) return undefined;
  if (!seccompSupported()) {
    if (choice !== undefined && choice !== "" && choice !== "builtin") {
      throw invalidParameter("seccomp is not enabled in your kernel, cannot run a custom seccomp profile");
    }
    warn("seccomp is not enabled in your kernel, running container without default profile");
    return undefined;
  }
  const ctx = { capabilities: caps, arch: hostGoArch(), kernelRunsX32: kernelRunsX32() };
  if (choice === "builtin") return resolveSeccomp(defaultSeccompProfile(), ctx);
  if (choice !== undefined && choice !== "") return resolveSeccomp(parseSeccompProfile(choice), ctx);
  if (daemonProfile !== undefined) {
    if (daemonProfile === "unconfined") return undefined;
    return resolveSeccomp(parseSeccompProfile(daemonProfile), ctx);
  }
  return resolveSeccomp(defaultSeccompProfile(), ctx);
}

/**
 * Serialize a spec for config.json. JSON.stringify cannot write RLIM_INFINITY (2^64-1) exactly,
 * and runc rejects the rounded value; this writes it as 18446744073709551615.
 */
export function specToJSON(spec: Spec): string {
  return JSON.stringify(spec, null, 2).replace(/(?<![\d.])18446744073709552000(?![\d.])/g, "18446744073709551615");
}
