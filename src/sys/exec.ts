import { systemError } from "../errdefs/index.js";
import { spawnProcess, type SpawnedProcess, type StdioKind } from "./spawn.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Don't throw on a non-zero exit; the caller reads `code`. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

/**
 * Run a system binary to completion and collect its output. The only way daemon code
 * runs other programs (mount, runc, iptables, …): errors become System PierErrors that
 * carry the command's stderr, so a failure says what went wrong.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnProcess(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(systemError(`${cmd}: ${e.message}`, e));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const res = {
        code: code ?? 128 + (signal ? signalNumber(signal) : 0),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if (res.code !== 0 && !opts.allowFailure) {
        reject(systemError(`${cmd} ${args.join(" ")}: ${res.stderr.trim() || `exit status ${res.code}`}`));
      } else resolve(res);
    });
    child.stdin!.on("error", () => {});
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/**
 * Start a system binary whose stdio the caller streams (tar in and out of the copy helper).
 * The caller owns the child: it must read its pipes and wait for "close".
 */
export function spawnStreaming(cmd: string, args: string[], opts: { stdio: StdioKind[]; env?: NodeJS.ProcessEnv; cwd?: string }): SpawnedProcess {
  return spawnProcess(cmd, args, { stdio: opts.stdio, env: opts.env ?? process.env, cwd: opts.cwd });
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22,
  SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
};

export function signalNumber(name: string): number {
  return SIGNALS[name] ?? 0;
}

/**
 * Parse a signal as Docker accepts it: "KILL", "SIGKILL", "9", "SIGRTMIN+3".
 * Returns undefined for an unknown signal.
 */
export function parseSignal(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const up = s.toUpperCase();
  const name = up.startsWith("SIG") ? up : `SIG${up}`;
  if (SIGNALS[name] !== undefined) return SIGNALS[name];
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith("SIGRTMIN") ? 34 + off : 64 - off;
    return n >= 34 && n <= 64 ? n : undefined;
  }
  return undefined;
}
