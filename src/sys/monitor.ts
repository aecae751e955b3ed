import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { Readable, Writable } from "node:stream";
import { notImplemented, systemError } from "../errdefs/index.js";
import { builtProgram } from "./built.js";
import { spawnProcess } from "./spawn.js";

// The per-container monitor: Pier's own (native/pier_monitor.c, built into
// build/Release/pier-monitor) or conmon. Both take the same command line (pier-monitor
// implements the subset of conmon's that is passed here) and speak the same pipes, files and
// attach socket, so one driver serves both and a pierd may adopt containers started by either.

/** Pier's own monitor as built by `npm ci` (binding.gyp), or undefined when it was not built. */
export function bundledMonitor(): string | undefined {
  return builtProgram("pier-monitor");
}

/** "pier-monitor" or "conmon": what a monitor binary is, by its name. */
export function monitorName(monitorPath: string): string {
  return path.basename(monitorPath).startsWith("conmon") ? "conmon" : "pier-monitor";
}

export interface MonitorOptions {
  monitorPath: string;
  runtimePath: string;
  runtimeRoot: string;
  /** The runtime's global arguments; default `--root=<runtimeRoot>` (runc's). */
  runtimeArgs?: string[];
  id: string;
  name: string;
  bundle: string;
  /** Directory the monitor keeps for this container: pidfile, attach socket, ctl fifo, oom marker. */
  runDir: string;
  exitDir: string;
  /** The k8s-file log; undefined keeps none (Docker's none driver). */
  logPath: string | undefined;
  /** Rotate the log when it has reached this many bytes (json-file/local max-size). */
  logMaxSize?: number;
  /** Files kept at rotation, the current one included (max-file); 1: the log starts afresh. */
  logMaxFiles?: number;
  /** gzip the rotated files (`<log>.1.gz` …, json-file/local compress); pier-monitor only. */
  logCompress?: boolean;
  tty: boolean;
  stdin: boolean;
  /**
   * Close the container's stdin when an attached client's stdin ends or it disconnects
   * (Docker's StdinOnce without a tty). Otherwise the monitor keeps it open for the next attach.
   */
  stdinOnce?: boolean;
  logLevel?: string;
  /** Our fds to hand on to the container's process as its fds 3, 4, … (runc --preserve-fds). */
  passFds?: readonly number[];
  /**
   * How long the runtime may take to create the container (its answer on the sync pipe);
   * past it, or when `signal` aborts, the monitor and the runtime are killed and the start
   * fails. Undefined: no deadline.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface MonitorStarted {
  /** The container's init process, as seen from the host. */
  pid: number;
}

/** What `runc create` (or `runc exec`) said when it failed, as the monitor relays it. */
export class RuntimeCreateError extends Error {}

/**
 * Kill a monitor that is still creating its container, with its runtime and whatever that
 * started: all of them are in the monitor's session, whose leader is the forked monitor
 * (pid in <runDir>/monitor.pid once written) or, before its setsid, the process we started.
 * SIGKILL ends a stopped process too; the runtime also has SIGKILL as its parent-death signal.
 */
function killMonitorGroup(firstPid: number | undefined, runDir: string): void {
  const groups = new Set<number>();
  if (firstPid) groups.add(firstPid);
  try {
    const forked = Number(readFileSync(path.join(runDir, "monitor.pid"), "utf8").trim());
    if (forked > 0) groups.add(forked);
  } catch {
    // not written yet: the monitor has not forked, and is in the first group
  }
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** The command line both monitors (pier-monitor and conmon) take for a container and for an exec. */
function commonArgs(a: { containerId: string; uuid: string; name: string; runtimePath: string; runtimeRoot: string; runtimeArgs?: string[]; bundle: string; pidFile: string; dir: string; log: string; logLevel?: string }): string[] {
  return [
    "--api-version", "1",
    "-c", a.containerId,
    "-u", a.uuid,
    "-n", a.name,
    "-r", a.runtimePath,
    ...(a.runtimeArgs ?? [`--root=${a.runtimeRoot}`]).flatMap((r) => ["--runtime-arg", r]),
    "-b", a.bundle,
    "-p", a.pidFile,
    "-P", `${a.dir}/monitor.pid`,
    "-0", a.dir,
    "--full-attach",
    "--socket-dir-path", a.dir,
    "-l", a.log,
    "--log-level", a.logLevel ?? "error",
  ];
}

/**
 * The monitor process, as Podman starts conmon: its own session, the fds to pass on to the
 * container from fd 3 (conmon's --preserve-fds), then the sync pipe, the start pipe and (for an
 * exec) the attach pipe; stderr collected for errors.
 */
function spawnMonitor(monitorPath: string, args: string[], cwd: string, withAttachPipe: boolean, passFds: readonly number[] = []) {
  const base = 3 + passFds.length;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", _OCI_SYNCPIPE: String(base), _OCI_STARTPIPE: String(base + 1) };
  if (withAttachPipe) env._OCI_ATTACHPIPE = String(base + 2);
  if (passFds.length) args = [...args, "--preserve-fds", String(passFds.length)];
  const child = spawnProcess(monitorPath, args, {
    stdio: ["ignore", "ignore", "pipe", ...passFds, "pipe", "pipe", ...(withAttachPipe ? (["pipe"] as const) : [])],
    env,
    detached: true,
    cwd,
  });
  const stderr: Buffer[] = [];
  child.stderr!.on("data", (d: Buffer) => stderr.push(d));
  return {
    child,
    stderr,
    sync: child.stdio[base] as Readable,
    start: child.stdio[base + 1] as Writable,
    attach: withAttachPipe ? (child.stdio[base + 2] as Readable) : undefined,
  };
}

/**
 * Start a container's monitor. It runs `runc create` and reports the container's pid (or
 * runc's error) on the sync pipe; it waits for a byte on the start pipe before it begins, the
 * way Podman drives conmon (without the start pipe conmon was seen to skip the exit file).
 * The monitor forks away, so it outlives pierd; nothing of it is kept in this process.
 */
export function startMonitor(o: MonitorOptions): Promise<MonitorStarted> {
  const args = [
    ...commonArgs({ containerId: o.id, uuid: o.id, name: o.name, runtimePath: o.runtimePath, runtimeRoot: o.runtimeRoot, runtimeArgs: o.runtimeArgs, bundle: o.bundle, pidFile: `${o.runDir}/pidfile`, dir: o.runDir, log: o.logPath === undefined ? "none:" : `k8s-file:${o.logPath}`, logLevel: o.logLevel }),
    "--exit-dir", o.exitDir,
    ...rotationArgs(o),
  ];
  if (o.tty) args.push("-t");
  if (o.stdin) args.push("-i");
  if (o.stdin && !o.stdinOnce) args.push("--leave-stdin-open");
  return new Promise((resolve, reject) => {
    const name = monitorName(o.monitorPath);
    // conmon also writes an "oom" marker into its working directory: keep it in the run dir.
    const { child, stderr, sync, start } = spawnMonitor(o.monitorPath, args, o.runDir, false, o.passFds);
    let buf = "";
    let settled = false;
    const finish = (err: Error | undefined, pid?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      o.signal?.removeEventListener("abort", onAbort);
      sync.destroy();
      child.stderr!.destroy();
      child.unref();
      if (err) reject(err);
      else resolve({ pid: pid! });
    };
    // A runtime that never answers (a mount source that blocks, a stopped process) must not
    // hold the start, and the container's lock, for good.
    const giveUp = (err: Error) => {
      if (settled) return;
      killMonitorGroup(child.pid, o.runDir);
      finish(err);
    };
    const onAbort = () => giveUp(o.signal!.reason instanceof Error ? o.signal!.reason : systemError(String(o.signal!.reason)));
    const deadline = o.timeoutMs === undefined ? undefined : setTimeout(() => giveUp(systemError(`the runtime did not create the container within ${o.timeoutMs! / 1000} s; it was killed`)), o.timeoutMs);
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener("abort", onAbort);
    sync.on("data", (d: Buffer) => {
      buf += d.toString();
      // One JSON object per line; the first one answers create.
      const end = buf.indexOf("\n");
      if (end < 0) return;
      let msg: SyncMessage;
      try {
        msg = JSON.parse(buf.slice(0, end));
      } catch (e) {
        return finish(systemError(`${name} sent an unreadable message: ${buf}`, e));
      }
      if (msg.data < 0) finish(new RuntimeCreateError(cleanRuntimeMessage(msg.message ?? "runtime create failed")));
      else finish(undefined, msg.data);
    });
    sync.on("end", () => finish(systemError(`${name} exited before creating the container: ${Buffer.concat(stderr).toString().trim()}`)));
    child.on("error", (e) => finish(systemError(`cannot start ${name} (${o.monitorPath}): ${e.message}`, e)));
    start.on("error", () => {});
    start.end("0");
  });
}

/**
 * Log rotation flags. `--log-size-max` is conmon's: at that size conmon starts its log afresh
 * (a max-file of 1); keeping older files (`--log-max-files`, renamed `<log>.1` … as dockerd
 * does) is pier-monitor's alone, so conmon is refused that rather than silently dropping them.
 */
function rotationArgs(o: MonitorOptions): string[] {
  if (o.logPath === undefined || o.logMaxSize === undefined) return [];
  const files = o.logMaxFiles ?? 1;
  if (files > 1 && monitorName(o.monitorPath) === "conmon") {
    throw notImplemented(`failed to initialize logging driver: max-file ${files} needs pier-monitor: conmon cannot keep rotated log files`);
  }
  return ["--log-size-max", String(o.logMaxSize), ...(files > 1 ? ["--log-max-files", String(files)] : []), ...(files > 1 && o.logCompress ? ["--log-compress"] : [])];
}

/** runc logs as logrus text (time="…" level=error msg="…"); keep just the message. */
export function cleanRuntimeMessage(raw: string): string {
  const lines = raw.trim().split("\n");
  const msgs = lines.map((l) => {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
    return m ? m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, "\\") : l;
  });
  return msgs.filter((m) => m !== "").join(": ");
}

/** One message on the sync pipe: `{"data": n}` or `{"data": -1, "message": "…"}`, a line each. */
interface SyncMessage {
  data: number;
  message?: string;
}

export interface MonitorExecOptions {
  monitorPath: string;
  runtimePath: string;
  runtimeRoot: string;
  /** The runtime's global arguments; default `--root=<runtimeRoot>` (runc's). */
  runtimeArgs?: string[];
  containerId: string;
  execId: string;
  name: string;
  /** The exec session's own directory: process.json, attach socket, ctl fifo, exit files. */
  dir: string;
  tty: boolean;
  stdin: boolean;
  logLevel?: string;
  /** Our fds to hand on to the process as its fds 3, 4, … (runc exec --preserve-fds). */
  passFds?: readonly number[];
}

/** An exec session run by a monitor (`runc exec -d`), attached through its socket. */
export interface MonitorExec {
  /** The monitor's attach socket exists (`<dir>/attach`): connect, then call start(). */
  attachReady: Promise<void>;
  /** Let the monitor run `runc exec`. */
  start(): void;
  /** The process's host pid; rejects with a RuntimeCreateError when runc exec failed. */
  pid: Promise<number>;
  /** Its exit status (code, or 128+signal), read from the monitor's sync pipe. */
  exit: Promise<number>;
  /** The monitor is gone (its sync pipe closed): its directory can be removed. */
  done: Promise<void>;
}

/**
 * Run a process in a container through the monitor's exec mode, as Podman does with conmon for
 * `exec`: the monitor reads the start pipe once to begin, creates the attach socket and says so
 * on the attach pipe, waits for a second start message, runs `runc exec --process
 * <dir>/process.json`, and writes the pid and later the exit status on the sync pipe.
 */
export function startMonitorExec(o: MonitorExecOptions): MonitorExec {
  const args = [
    ...commonArgs({ containerId: o.containerId, uuid: o.execId, name: o.name, runtimePath: o.runtimePath, runtimeRoot: o.runtimeRoot, runtimeArgs: o.runtimeArgs, bundle: o.dir, pidFile: `${o.dir}/pid`, dir: o.dir, log: `none:${o.dir}/log`, logLevel: o.logLevel }),
    "-e",
    "--exec-attach",
    "--exec-process-spec", `${o.dir}/process.json`,
  ];
  if (o.tty) args.push("-t");
  if (o.stdin) args.push("-i");
  const name = monitorName(o.monitorPath);
  const { child, stderr, sync, start: startPipe, attach } = spawnMonitor(o.monitorPath, args, o.dir, true, o.passFds);
  const attachPipe = attach!;
  startPipe.on("error", () => {});
  const why = () => Buffer.concat(stderr).toString().trim();

  const attachReady = new Promise<void>((resolve, reject) => {
    let got = "";
    attachPipe.on("data", (d: Buffer) => {
      got += d.toString();
      if (got.includes("}")) {
        attachPipe.destroy();
        resolve();
      }
    });
    attachPipe.on("end", () => reject(systemError(`${name} exited before its attach socket was ready: ${why()}`)));
    child.on("error", (e) => reject(systemError(`cannot start ${name} (${o.monitorPath}): ${e.message}`, e)));
  });
  attachReady.catch(() => {});

  const messages: SyncMessage[] = [];
  const waiting: ((m: SyncMessage | undefined) => void)[] = [];
  let syncEnded = false;
  let buf = "";
  sync.on("data", (d: Buffer) => {
    buf += d.toString();
    let end: number;
    while ((end = buf.indexOf("\n")) >= 0) {
      const raw = buf.slice(0, end);
      buf = buf.slice(end + 1);
      if (raw.trim() === "") continue;
      let msg: SyncMessage;
      try {
        msg = JSON.parse(raw);
      } catch {
        msg = { data: -1, message: `${name} sent an unreadable message: ${raw}` };
      }
      const w = waiting.shift();
      if (w) w(msg);
      else messages.push(msg);
    }
  });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const onSyncEnd = () => {
    syncEnded = true;
    resolveDone();
    for (const w of waiting.splice(0)) w(undefined);
    child.stderr!.destroy();
  };
  sync.on("end", onSyncEnd);
  sync.on("error", onSyncEnd);
  const next = () =>
    new Promise<SyncMessage | undefined>((resolve) => {
      const m = messages.shift();
      if (m || syncEnded) resolve(m);
      else waiting.push(resolve);
    });

  const pid = next().then((m) => {
    if (!m) throw systemError(`${name} exited before starting the exec session: ${why()}`);
    if (m.data < 0) throw new RuntimeCreateError(cleanRuntimeMessage(m.message ?? "runtime exec failed"));
    return m.data;
  });
  pid.catch(() => {});
  const exit = pid.then(
    () => next().then((m) => (m ? m.data : 255)),
    () => 255,
  );
  child.unref();
  // The monitor reads the start pipe once before it sets anything up.
  startPipe.write("0");
  return {
    attachReady,
    start: () => {
      startPipe.end("0");
    },
    pid,
    exit,
    done,
  };
}
