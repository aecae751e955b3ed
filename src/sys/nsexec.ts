import { promises as fsp } from "node:fs";
import * as path from "node:path";
import type { Readable, Writable } from "node:stream";
import { builtProgram } from "./built.js";
import { spawnProcess } from "./spawn.js";

// Driver for native/pier_exec.c ("pier-exec"): runs one process inside a running container the
// way `runc exec` does, in a few milliseconds. See that file for what it does and in which order.

/** Linux capability numbers (<linux/capability.h>). */
const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5,
  CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

/** RLIMIT_* numbers (<sys/resource.h>), by the OCI spec's names. */
const RLIMIT_NUMBERS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** seccomp(2) filter flags the helper can pass on, by the OCI spec's names. */
const SECCOMP_FLAGS: Record<string, number> = { SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };

export function capabilityMask(names: readonly string[] | undefined): bigint | undefined {
  let m = 0n;
  for (const n of names ?? []) {
    const bit = CAP_NUMBERS[n];
    if (bit === undefined) return undefined; // unknown to us: let runc handle it
    m |= 1n << BigInt(bit);
  }
  return m;
}

/** A process's five capability sets as masks; undefined when one names a capability we do not know. */
export function capabilityMasks(caps: { bounding?: string[]; effective?: string[]; permitted?: string[]; inheritable?: string[]; ambient?: string[] } | undefined): ProcessPlan["caps"] | undefined {
  const c = caps ?? {};
  const bounding = capabilityMask(c.bounding);
  const effective = capabilityMask(c.effective);
  const permitted = capabilityMask(c.permitted);
  const inheritable = capabilityMask(c.inheritable);
  const ambient = capabilityMask(c.ambient);
  if (bounding === undefined || effective === undefined || permitted === undefined || inheritable === undefined || ambient === undefined) return undefined;
  return { bounding, effective, permitted, inheritable, ambient };
}

export function rlimitNumber(name: string): number | undefined {
  return RLIMIT_NUMBERS[name];
}

export function seccompFlagsMask(names: readonly string[] | undefined): number | undefined {
  let m = 0;
  for (const n of names ?? []) {
    const v = SECCOMP_FLAGS[n];
    if (v === undefined) return undefined;
    m |= v;
  }
  return m;
}

export interface NsExecPlan extends ProcessPlan {
  /** The container's init process (host pid). */
  initPid: number;
  /** Text /proc/<initPid>/cgroup must contain, e.g. "/pier/<id>": proves the pid is still the init. */
  cgroupCheck: string;
  /** The init's cgroups, which the process joins (from containerCgroups). */
  cgroups: CgroupDir[];
  /** Where the container's compiled seccomp filter is cached; undefined: no seccomp. */
  seccompCache?: string;
  seccompFlags?: number;
  env: string[];
  rlimits: { type: number; soft: number | "unlimited"; hard: number | "unlimited" }[];
  oomScoreAdj?: number;
  /** Session keyring to join ("_ses.<container id>", as runc), or undefined for none. */
  keyring?: string;
}

export type NsExecOutcome =
  | { kind: "exit"; code: number }
  /** The process never ran: the message is runc's wording (`exec: "x": executable file not found in $PATH`). */
  | { kind: "error"; message: string }
  /** This container cannot be exec'd by the helper (user namespace, ptrace refused, …): use runc. */
  | { kind: "fallback"; message: string };

export interface NsExecProcess {
  /** Host pid of the process, once forked (undefined if it never was). */
  pid: Promise<number | undefined>;
  /** True once the command was exec'd (it runs); false when it never will. */
  running: Promise<boolean>;
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** Settles when the process has ended and its output has been handed over. */
  outcome: Promise<NsExecOutcome>;
  /** Signal the helper itself (it outlives the process only for a moment). */
  kill(signal: NodeJS.Signals): void;
}

/** The built helper (build/Release/pier-exec), or undefined when it was not built. */
export function nsExecHelper(): string | undefined {
  return builtProgram("pier-exec");
}

/** What the helper finalizes a process with (runc's init's last steps), in every mode. */
export interface ProcessPlan {
  noNewPrivileges: boolean;
  uid: number;
  gid: number;
  additionalGids: number[];
  cwd: string;
  args: string[];
  caps: { bounding: bigint; effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint };
}

export function processPlanItems(p: ProcessPlan): string[] {
  const items = [
    `uid=${p.uid}`,
    `gid=${p.gid}`,
    `groups=${p.additionalGids.join(",")}`,
    `cwd=${p.cwd}`,
    `capb=${p.caps.bounding.toString(16)}`,
    `cape=${p.caps.effective.toString(16)}`,
    `capp=${p.caps.permitted.toString(16)}`,
    `capi=${p.caps.inheritable.toString(16)}`,
    `capa=${p.caps.ambient.toString(16)}`,
  ];
  if (p.noNewPrivileges) items.push("nnp=1");
  for (const a of p.args) items.push(`arg=${a}`);
  return items;
}

/** The helper's plan format: NUL-terminated "key=value" items, ended by an empty one. */
export function encodePlanItems(items: string[]): Buffer {
  for (const i of items) if (i.includes("\0")) throw new Error("NUL byte in an argument or environment variable");
  return Buffer.from(items.map((i) => `${i}\0`).join("") + "\0");
}

/** The helper's plan for an exec: what it reads on fd 3, or (builtin runtime) from process.plan. */
export function encodeNsExecPlan(p: NsExecPlan): Buffer {
  const items: string[] = [
    `pid=${p.initPid}`,
    `cgroupcheck=${p.cgroupCheck}`,
    ...p.cgroups.map((c) => `${c.v2 ? "cgroup2" : "cgroup"}=${c.dir}`),
    ...processPlanItems({ ...p, args: [] }),
  ];
  if (p.seccompCache) items.push(`seccomp=${p.seccompCache}`, `seccompflags=${p.seccompFlags ?? 0}`);
  if (p.oomScoreAdj !== undefined) items.push(`oom=${p.oomScoreAdj}`);
  if (p.keyring) items.push(`keyring=${p.keyring}`);
  for (const r of p.rlimits) items.push(`rlimit=${r.type}:${r.soft === "unlimited" ? "u" : r.soft}:${r.hard === "unlimited" ? "u" : r.hard}`);
  for (const a of p.args) items.push(`arg=${a}`);
  for (const e of p.env) items.push(`env=${e}`);
  return encodePlanItems(items);
}

/**
 * Start a process in a container through the helper. Streams not asked for are /dev/null in
 * the process (a detached exec); the others are pipes inside the container.
 */
export function startNsExec(helper: string, plan: NsExecPlan, stdio: { stdin: boolean; stdout: boolean; stderr: boolean }): NsExecProcess {
  const child = spawnProcess(helper, [], {
    stdio: [stdio.stdin ? "pipe" : "ignore", stdio.stdout ? "pipe" : "ignore", stdio.stderr ? "pipe" : "ignore", "pipe"],
    env: {},
  });
  const ctl = child.stdio[3]!;
  let resolvePid!: (p: number | undefined) => void;
  const pid = new Promise<number | undefined>((r) => (resolvePid = r));
  let resolveRunning!: (v: boolean) => void;
  const running = new Promise<boolean>((r) => (resolveRunning = r));
  let buf = "";
  let outcome: NsExecOutcome | undefined;
  ctl.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const sp = line.indexOf(" ");
      const kind = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? "" : line.slice(sp + 1);
      if (kind === "pid") resolvePid(Number(rest));
      else if (kind === "exec") resolveRunning(true);
      else if (kind === "exit") outcome ??= { kind: "exit", code: Number(rest) };
      else if (kind === "error") outcome ??= { kind: "error", message: rest };
      else if (kind === "fallback") outcome ??= { kind: "fallback", message: rest };
      if (kind === "error" || kind === "fallback") resolveRunning(false);
    }
  });
  ctl.on("error", () => {});
  child.stdin?.on("error", () => {});
  const outcomeP = new Promise<NsExecOutcome>((resolve) => {
    child.on("error", (err) => {
      resolvePid(undefined);
      resolveRunning(false);
      resolve({ kind: "fallback", message: `cannot run ${helper}: ${err.message}` });
    });
    // "close": the helper exited and every stdio stream of it ended.
    child.on("close", (code, signal) => {
      resolvePid(undefined);
      resolveRunning(false);
      resolve(outcome ?? { kind: "fallback", message: `exec helper ended (${signal ?? `status ${code}`}) without a result` });
    });
  });
  ctl.end(encodeNsExecPlan(plan));
  return {
    pid,
    running,
    stdin: child.stdin ?? undefined,
    stdout: child.stdout ?? undefined,
    stderr: child.stderr ?? undefined,
    outcome: outcomeP,
    kill: (signal) => {
      child.kill(signal);
    },
  };
}

export interface CgroupDir {
  /** The unified (v2) hierarchy, or a v1 one. */
  v2: boolean;
  dir: string;
}

/**
 * The cgroup directories of every hierarchy a process is in (v1 controllers, named
 * hierarchies, the v2 unified tree), from /proc/<pid>/cgroup and our mount table.
 */
export async function containerCgroups(pid: number): Promise<CgroupDir[]> {
  const [cg, mi] = await Promise.all([fsp.readFile(`/proc/${pid}/cgroup`, "utf8"), fsp.readFile("/proc/self/mountinfo", "utf8")]);
  const mounts: { point: string; root: string; v2: boolean; opts: Set<string> }[] = [];
  for (const line of mi.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    const fstype = post[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    mounts.push({ point: unescapeMount(pre[4]!), root: unescapeMount(pre[3]!), v2: fstype === "cgroup2", opts: new Set((post[2] ?? "").split(",")) });
  }
  const out: CgroupDir[] = [];
  for (const line of cg.split("\n")) {
    if (!line) continue;
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    const ctrls = line.slice(first + 1, second);
    const p = line.slice(second + 1);
    const m = ctrls === ""
      ? mounts.find((x) => x.v2)
      : mounts.find((x) => !x.v2 && ctrls.split(",").every((c) => x.opts.has(c)));
    if (!m) continue;
    const rel = m.root === "/" ? p : p.startsWith(m.root) ? p.slice(m.root.length) : undefined;
    if (rel === undefined) continue;
    out.push({ v2: m.v2, dir: path.join(m.point, rel) });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}
