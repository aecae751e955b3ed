import { closeSync } from "node:fs";
import * as net from "node:net";
import { nativeSpawn, sealedCopy } from "./native.js";
import { encodePlanItems, processPlanItems, type ProcessPlan } from "./nsexec.js";
import { spawnProcess } from "./spawn.js";

// The two container-start modes of native/pier_exec.c ("pier-exec"):
//
// --dump-filter copies the seccomp filter runc installed in a running container's init (the
//   compiled BPF program, read with PTRACE_SECCOMP_GET_FILTER) to a file.
// --init is the start shim: runc creates the container without a seccomp profile, as root with
//   the capabilities the shim needs, and with the helper (passed as fd 3) as its process. After
//   the start the shim installs the filter runc compiled for an earlier container with the same
//   profile (fd 5), finalizes the process as runc's init would (user, groups, capabilities,
//   no_new_privs, cwd, PATH lookup) and execs the command. The plan comes on fd 4, a socket to
//   pierd, and a failure goes back on it; its closing without a word means the command runs.

/** The process the shim finalizes, and the seccomp(2) flags its filter is installed with. */
export interface StartShimPlan extends ProcessPlan {
  seccompFlags: number;
  /**
   * The process has no HOME of its own: runc sets it from /etc/passwd, but for the user it runs,
   * root (the shim), so the shim sets it again for the process's user.
   */
  setHome: boolean;
}

/** The container's end of a start shim: the fds for it, and what it says once started. */
export interface StartShimChannel {
  /** Our fds for the container's process, in order: its fds 3 (helper), 4 (plan socket), 5 (filter). */
  fds: readonly number[];
  /** Close our copies of `fds` (the monitor has its own once spawned). Idempotent. */
  release(): void;
  /**
   * Once the process was let go: undefined when the shim exec'd the command, else why not
   * (runc's wording, e.g. `exec: "x": executable file not found in $PATH`).
   */
  result(): Promise<string | undefined>;
  /** Give up on it (the start failed before the process was let go). */
  abandon(): void;
}

/**
 * Open what a start shim needs: the helper and a socketpair whose far end the shim reads its
 * plan from (written now: the socket buffers it until the shim runs). `filterFd` is the filter,
 * a sealed memfd the caller keeps: never a file that could be reopened for writing through the
 * shim's /proc/<pid>/fd/5 while it runs.
 */
export function openStartShim(helper: string, filterFd: number, plan: StartShimPlan): StartShimChannel {
  const items = [...processPlanItems(plan), "seccompfd=5", `seccompflags=${plan.seccompFlags}`];
  if (plan.setHome) items.push("sethome=1");
  const data = encodePlanItems(items);
  const opened: number[] = [];
  try {
    // The helper is exec'd from a sealed memfd: while it runs as the container's first process,
    // nothing in the container can rewrite it through /proc/1/exe (CVE-2019-5736). One per
    // start: a process allowed to open the shim's fds (CAP_SYS_PTRACE) can hold a memfd open
    // for writing, which makes every exec of it fail (ETXTBSY) — a shared one would have
    // failed the start of every other container.
    const exe = sealedCopy(helper);
    opened.push(exe);
    const [ours, theirs] = nativeSpawn().socketpair();
    opened.push(theirs);
    const sock = new net.Socket({ fd: ours, readable: true, writable: true });
    sock.on("error", () => {});
    sock.end(data);
    let said = "";
    sock.on("data", (d: Buffer) => {
      if (said.length < 8192) said += d.toString("utf8");
    });
    const ended = new Promise<string | undefined>((resolve) => sock.once("close", () => resolve(said === "" ? undefined : said)));
    let released = false;
    return {
      fds: [exe, theirs, filterFd],
      release() {
        if (released) return;
        released = true;
        for (const fd of opened) closeSync(fd);
      },
      async result() {
        const msg = await ended;
        // "fallback <why>": the shim could not even read its plan; the same to the caller.
        return msg?.replace(/^fallback /, "").trim();
      },
      abandon() {
        sock.destroy();
      },
    };
  } catch (err) {
    for (const fd of opened) closeSync(fd);
    throw err;
  }
}

/**
 * Copy the seccomp filter of a container's init (`pid`, proven to be the init by `cgroupCheck`
 * appearing in its /proc/<pid>/cgroup) to `out`. Rejects when the helper could not.
 */
export function dumpSeccompFilter(helper: string, pid: number, cgroupCheck: string, out: string): Promise<void> {
  const child = spawnProcess(helper, ["--dump-filter"], { stdio: ["ignore", "ignore", "ignore", "pipe"], env: {} });
  const ctl = child.stdio[3]!;
  let said = "";
  ctl.on("data", (d: Buffer) => (said += d.toString("utf8")));
  ctl.on("error", () => {});
  ctl.end(encodePlanItems([`pid=${pid}`, `cgroupcheck=${cgroupCheck}`, `seccomp=${out}`]));
  return new Promise((resolve, reject) => {
    child.on("error", (err) => reject(err));
    child.on("close", (code) => {
      if (code === 0 && said.startsWith("ok")) resolve();
      else reject(new Error(`cannot read the container's seccomp filter: ${said.replace(/^\w+ /, "").trim() || `status ${code}`}`));
    });
  });
}
