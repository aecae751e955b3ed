import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { systemError } from "../errdefs/index.js";

export interface ConmonOptions {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  id: string;
  name: string;
  bundle: string;
  /** Directory conmon keeps for this container: pidfile, attach socket, oom marker. */
  runDir: string;
  exitDir: string;
  logPath: string;
  tty: boolean;
  stdin: boolean;
  /**
   * Close the container's stdin when an attached client's stdin ends or it disconnects
   * (Docker's StdinOnce without a tty). Otherwise conmon keeps it open for the next attach.
   */
  stdinOnce?: boolean;
  logLevel?: string;
}

export interface ConmonStarted {
  /** The container's init process, as seen from the host. */
  pid: number;
}

/** What `runc create` said when it failed, as conmon relays it. */
export class RuntimeCreateError extends Error {}

/**
 * Start a container's monitor. conmon runs `runc create` and reports the container's pid (or
 * runc's error) on the sync pipe; it waits for a byte on the start pipe before it begins, the
 * way Podman drives it (without the start pipe conmon was seen to skip the exit file).
 * conmon double-forks, so the monitor outlives pierd; nothing of it is kept in this process.
 */
export function startConmon(o: ConmonOptions): Promise<ConmonStarted> {
  const args = [
    "--api-version", "1",
    "-c", o.id,
    "-u", o.id,
    "-n", o.name,
    "-r", o.runtimePath,
    "--runtime-arg", `--root=${o.runtimeRoot}`,
    "-b", o.bundle,
    "-p", `${o.runDir}/pidfile`,
    "-P", `${o.runDir}/conmon.pid`,
    "-0", o.runDir,
    "--exit-dir", o.exitDir,
    "--full-attach",
    "--socket-dir-path", o.runDir,
    "-l", `k8s-file:${o.logPath}`,
    "--log-level", o.logLevel ?? "error",
  ];
  if (o.tty) args.push("-t");
  if (o.stdin) args.push("-i");
  if (o.stdin && !o.stdinOnce) args.push("--leave-stdin-open");
  return new Promise((resolve, reject) => {
    const child = spawn(o.conmonPath, args, {
      stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", _OCI_SYNCPIPE: "3", _OCI_STARTPIPE: "4" },
      detached: true,
    });
    const stderr: Buffer[] = [];
    child.stderr!.on("data", (d: Buffer) => stderr.push(d));
    const sync = child.stdio[3] as Readable;
    const start = child.stdio[4] as Writable;
    let buf = "";
    let settled = false;
    const finish = (err: Error | undefined, pid?: number) => {
      if (settled) return;
      settled = true;
      sync.destroy();
      child.stderr!.destroy();
      child.unref();
      if (err) reject(err);
      else resolve({ pid: pid! });
    };
    sync.on("data", (d: Buffer) => {
      buf += d.toString();
      // conmon writes one JSON object per message; the first one answers create.
      const end = buf.indexOf("}");
      if (end < 0) return;
      let msg: { data: number; message?: string };
      try {
        msg = JSON.parse(buf.slice(0, end + 1));
      } catch (e) {
        return finish(systemError(`conmon sent an unreadable message: ${buf}`, e));
      }
      if (msg.data < 0) finish(new RuntimeCreateError(cleanRuntimeMessage(msg.message ?? "runtime create failed")));
      else finish(undefined, msg.data);
    });
    sync.on("end", () => finish(systemError(`conmon exited before creating the container: ${Buffer.concat(stderr).toString().trim()}`)));
    child.on("error", (e) => finish(systemError(`cannot start conmon: ${e.message}`, e)));
    start.on("error", () => {});
    start.end("0");
  });
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

export interface ConmonExecOptions {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  containerId: string;
  execId: string;
  name: string;
  /** The exec session's own directory: process.json, attach socket, ctl fifo, exit files. */
  dir: string;
  tty: boolean;
  stdin: boolean;
  logLevel?: string;
}

/** An exec session run by conmon (`runc exec -d`), attached through its socket. */
export interface ConmonExec {
  /** conmon's attach socket exists (`<dir>/attach`): connect, then call start(). */
  attachReady: Promise<void>;
  /** Let conmon run `runc exec`. */
  start(): void;
  /** The process's host pid; rejects with a RuntimeCreateError when runc exec failed. */
  pid: Promise<number>;
  /** Its exit status (code, or 128+signal), read from conmon's sync pipe. */
  exit: Promise<number>;
  /** conmon is gone (its sync pipe closed): its directory can be removed. */
  done: Promise<void>;
}

/**
 * Run a process in a container through conmon's exec mode, as Podman does for `exec`: conmon
 * reads the start pipe once to begin, creates the attach socket and says so on the attach pipe,
 * waits for a second start message, runs `runc exec --process <dir>/process.json`, and writes
 * the pid and later the exit status on the sync pipe.
 */
export function startConmonExec(o: ConmonExecOptions): ConmonExec {
  const args = [
    "--api-version", "1",
    "-c", o.containerId,
    "-u", o.execId,
    "-n", o.name,
    "-r", o.runtimePath,
    "--runtime-arg", `--root=${o.runtimeRoot}`,
    "-b", o.dir,
    "-p", `${o.dir}/pid`,
    "-P", `${o.dir}/conmon.pid`,
    "-0", o.dir,
    "--full-attach",
    "--socket-dir-path", o.dir,
    "-l", `none:${o.dir}/log`,
    "--log-level", o.logLevel ?? "error",
    "-e",
    "--exec-attach",
    "--exec-process-spec", `${o.dir}/process.json`,
  ];
  if (o.tty) args.push("-t");
  if (o.stdin) args.push("-i");
  const child = spawn(o.conmonPath, args, {
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", _OCI_SYNCPIPE: "3", _OCI_STARTPIPE: "4", _OCI_ATTACHPIPE: "5" },
    detached: true,
    cwd: o.dir,
  });
  const stderr: Buffer[] = [];
  child.stderr!.on("data", (d: Buffer) => stderr.push(d));
  const sync = child.stdio[3] as Readable;
  const startPipe = child.stdio[4] as Writable;
  const attachPipe = (child.stdio as unknown as Readable[])[5]!;
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
    attachPipe.on("end", () => reject(systemError(`conmon exited before its attach socket was ready: ${why()}`)));
    child.on("error", (e) => reject(systemError(`cannot start conmon: ${e.message}`, e)));
  });
  attachReady.catch(() => {});

  const messages: { data: number; message?: string }[] = [];
  const waiting: ((m: { data: number; message?: string } | undefined) => void)[] = [];
  let syncEnded = false;
  let buf = "";
  sync.on("data", (d: Buffer) => {
    buf += d.toString();
    let end: number;
    while ((end = buf.indexOf("}")) >= 0) {
      const raw = buf.slice(0, end + 1);
      buf = buf.slice(end + 1);
      let msg: { data: number; message?: string };
      try {
        msg = JSON.parse(raw.trim());
      } catch {
        msg = { data: -1, message: `conmon sent an unreadable message: ${raw}` };
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
    new Promise<{ data: number; message?: string } | undefined>((resolve) => {
      const m = messages.shift();
      if (m || syncEnded) resolve(m);
      else waiting.push(resolve);
    });

  const pid = next().then((m) => {
    if (!m) throw systemError(`conmon exited before starting the exec session: ${why()}`);
    if (m.data < 0) throw new RuntimeCreateError(cleanRuntimeMessage(m.message ?? "runtime exec failed"));
    return m.data;
  });
  pid.catch(() => {});
  const exit = pid.then(
    () => next().then((m) => (m ? m.data : 255)),
    () => 255,
  );
  child.unref();
  // conmon reads the start pipe once before it sets anything up.
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
