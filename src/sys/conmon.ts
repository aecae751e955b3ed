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
  if (o.stdin) args.push("-i", "--leave-stdin-open");
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
