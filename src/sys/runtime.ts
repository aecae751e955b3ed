import { constants as fsc, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

// The lifecycle of containers created by Pier's own runtime (`pier-exec --runtime`, see
// native/pier_runtime.c), which keeps no state of its own beyond the start fifo: what `runc
// kill/delete/pause/resume/update` do, done here on the container's cgroups.
//
// State, per container, under <exec-root>/builtin/<id>/ (made by pierd before the create):
//   state.json   the container's cgroup directories, its pid file, the text its init's
//                /proc/<pid>/cgroup must contain (so a reused pid is never signalled)
//   exec.fifo    made by the runtime; opening it for reading lets the init exec its command

export interface BuiltinState {
  /** The container's directory in every hierarchy (v1 ones and the unified one). */
  cgroups: string[];
  /** Where the runtime wrote the init's pid. */
  pidFile: string;
  /** Text /proc/<pid>/cgroup must contain for the pid to be this container's init. */
  cgroupCheck: string;
}

/** The operations the engine needs from a runtime, whichever made the container. */
export interface ContainerRuntime {
  start(id: string): Promise<void>;
  kill(id: string, signal: number, all?: boolean): Promise<void>;
  delete(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** `runc update`'s flags (--memory=…, --cpu-quota=…, --pids-limit=…). */
  update(id: string, flags: string[]): Promise<void>;
}

/**
 * Let a created container run through its exec.fifo: open it for reading, which lets the
 * init, blocked opening it for writing, go on; read its byte; remove the fifo. False when the
 * init is not waiting (gone, or no fifo).
 */
export async function startThroughFifo(fifo: string): Promise<boolean> {
  let fd: number;
  try {
    // Non-blocking: if the init died, a blocking open would wait forever.
    fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch {
    return false;
  }
  // Read through the event loop (a pipe handle), so the byte is taken the moment the init
  // writes it, instead of polling a non-blocking read on a timer.
  const got = await new Promise<boolean>((resolve) => {
    const sock = new net.Socket({ fd, readable: true, writable: false });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 2000);
    sock.once("data", () => done(true));
    sock.once("end", () => done(false)); // the writer went away without the byte
    sock.once("error", () => done(false));
  });
  if (!got) return false;
  rmSync(fifo, { force: true });
  return true;
}

export class BuiltinRuntime implements ContainerRuntime {
  constructor(readonly root: string) {}

  /** Whether this runtime made the container (its state is here). */
  owns(id: string): boolean {
    return existsSync(path.join(this.root, id, "state.json"));
  }

  /** Before the create: the state the lifecycle needs, and the directory the runtime puts its fifo in. */
  prepare(id: string, state: BuiltinState): void {
    const dir = path.join(this.root, id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
  }

  private state(id: string): BuiltinState {
    try {
      return JSON.parse(readFileSync(path.join(this.root, id, "state.json"), "utf8")) as BuiltinState;
    } catch {
      throw new Error(`container ${id} does not exist`);
    }
  }

  async start(id: string): Promise<void> {
    if (!(await startThroughFifo(path.join(this.root, id, "exec.fifo")))) throw new Error("cannot start a container that has stopped");
  }

  /** The init's pid, if it is still this container's init. */
  private initPid(s: BuiltinState): number | undefined {
    let pid: number;
    try {
      pid = Number(readFileSync(s.pidFile, "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      if (!readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(s.cgroupCheck)) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  /** The container's processes: in its cgroup and in any it made below it (runc's GetAllPids). */
  private procs(s: BuiltinState): number[] {
    const dir = s.cgroups[0];
    if (!dir) return [];
    const out: number[] = [];
    for (const d of cgroupTree(dir)) {
      try {
        out.push(...readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number));
      } catch {
        // removed meanwhile
      }
    }
    return out;
  }

  private freezer(s: BuiltinState): string | undefined {
    return s.cgroups.find((d) => existsSync(path.join(d, "freezer.state")));
  }

  async kill(id: string, signal: number, all = false): Promise<void> {
    const s = this.state(id);
    if (!all) {
      const pid = this.initPid(s);
      if (pid === undefined) throw new Error("container not running");
      process.kill(pid, signal);
      return;
    }
    // Every process of the container, frozen meanwhile so none forks away from the signal
    // (runc's signalAllProcesses).
    // A freeze that does not take (a process stuck in the kernel) does not stop the signal:
    // runc warns and signals all the same. The thaw in `finally` undoes a half-made freeze.
    const freezer = this.freezer(s);
    if (freezer) await this.freeze(freezer, "FROZEN").catch(() => {});
    try {
      for (const pid of this.procs(s)) {
        try {
          process.kill(pid, signal);
        } catch {
          // gone meanwhile
        }
      }
    } finally {
      if (freezer) await this.freeze(freezer, "THAWED");
    }
  }

  /** Kill what is left, remove the cgroups and the state; nothing to do when there is no state. */
  async delete(id: string): Promise<void> {
    const dir = path.join(this.root, id);
    if (!existsSync(dir)) return;
    let s: BuiltinState | undefined;
    try {
      s = this.state(id);
    } catch {
      s = undefined;
    }
    if (s) {
      if (this.procs(s).length > 0) await this.kill(id, 9, true).catch(() => {});
      for (let i = 0; i < 200 && this.procs(s).length > 0; i++) await sleep(10);
      // Deepest first: the cgroups the container made below its own go with it (runc's RemovePath).
      for (const cg of s.cgroups.flatMap((d) => cgroupTree(d).reverse())) {
        for (let i = 0; ; i++) {
          try {
            rmdirSync(cg);
            break;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === "ENOENT") break;
            // EBUSY: a process that was just killed is still leaving it.
            if (i >= 100) throw new Error(`remove cgroup ${cg}: ${(err as Error).message}`);
            await sleep(10);
          }
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  private async freeze(dir: string, to: "FROZEN" | "THAWED"): Promise<void> {
    const file = path.join(dir, "freezer.state");
    for (let i = 0; i < 500; i++) {
      writeFileSync(file, to);
      if (readFileSync(file, "utf8").trim() === to) return;
      await sleep(2);
    }
    throw new Error(`the container's processes did not become ${to.toLowerCase()}`);
  }

  async pause(id: string): Promise<void> {
    const s = this.state(id);
    const freezer = this.freezer(s);
    if (!freezer) throw new Error("the freezer cgroup is not available");
    if (this.initPid(s) === undefined) throw new Error("container not running");
    await this.freeze(freezer, "FROZEN");
  }

  async resume(id: string): Promise<void> {
    const s = this.state(id);
    const freezer = this.freezer(s);
    if (!freezer) throw new Error("the freezer cgroup is not available");
    await this.freeze(freezer, "THAWED");
  }

  async update(id: string, flags: string[]): Promise<void> {
    const s = this.state(id);
    for (const [file, value] of cgroupWritesForUpdate(flags, (f) => readCgroupValue(s, f))) {
      const dir = s.cgroups.find((d) => existsSync(path.join(d, file)));
      if (!dir) throw new Error(`cannot update ${file}: not supported by this host's cgroups`);
      writeFileSync(path.join(dir, file), value);
    }
  }
}

/** A cgroup directory and every cgroup below it, parents before children ([] when it is gone). */
function cgroupTree(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return [dir, ...entries.filter((e) => e.isDirectory()).flatMap((e) => cgroupTree(path.join(dir, e.name)))];
}

function readCgroupValue(s: BuiltinState, file: string): string | undefined {
  for (const d of s.cgroups) {
    try {
      return readFileSync(path.join(d, file), "utf8").trim();
    } catch {
      // not in this hierarchy
    }
  }
  return undefined;
}

/**
 * The cgroup v1 files `runc update` writes for its flags, in its order (memory and swap in the
 * order the kernel accepts: swap first when it grows past the current limit).
 */
export function cgroupWritesForUpdate(flags: string[], current: (file: string) => string | undefined): [string, string][] {
  const v = new Map<string, string>();
  for (const f of flags) {
    const m = /^--([a-z-]+)=(.*)$/.exec(f);
    if (!m) throw new Error(`unsupported update flag ${f}`);
    v.set(m[1]!, m[2]!);
  }
  const out: [string, string][] = [];
  const num = (s: string) => (Number(s) === -1 ? "-1" : s);
  const memory = v.get("memory");
  const swap = v.get("memory-swap");
  if (memory !== undefined && swap !== undefined) {
    const cur = Number(current("memory.limit_in_bytes") ?? Number.MAX_SAFE_INTEGER);
    if (Number(swap) === -1 || cur < Number(swap)) out.push(["memory.memsw.limit_in_bytes", num(swap)], ["memory.limit_in_bytes", num(memory)]);
    else out.push(["memory.limit_in_bytes", num(memory)], ["memory.memsw.limit_in_bytes", num(swap)]);
  } else if (memory !== undefined) out.push(["memory.limit_in_bytes", num(memory)]);
  else if (swap !== undefined) out.push(["memory.memsw.limit_in_bytes", num(swap)]);
  const known: Record<string, string> = {
    "memory-reservation": "memory.soft_limit_in_bytes",
    "cpu-share": "cpu.shares",
    "cpu-period": "cpu.cfs_period_us",
    "cpu-quota": "cpu.cfs_quota_us",
    "cpuset-cpus": "cpuset.cpus",
    "cpuset-mems": "cpuset.mems",
    "blkio-weight": "blkio.weight",
  };
  for (const [flag, file] of Object.entries(known)) {
    const val = v.get(flag);
    if (val !== undefined) out.push([file, val]);
  }
  const pids = v.get("pids-limit");
  if (pids !== undefined) out.push(["pids.max", Number(pids) > 0 ? pids : "max"]);
  for (const k of v.keys()) if (k !== "memory" && k !== "memory-swap" && k !== "pids-limit" && !(k in known)) throw new Error(`unsupported update flag --${k}`);
  return out;
}
