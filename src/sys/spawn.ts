import { EventEmitter } from "node:events";
import { closeSync } from "node:fs";
import net from "node:net";
import { nativeSpawn } from "./native.js";

// Child processes started with posix_spawn (native/pier_native.cc) rather than
// child_process.spawn. libuv fork()s the whole daemon, whose page tables take longer to copy
// the bigger it gets, and blocks the event loop until the child has exec'd; glibc's posix_spawn
// shares the parent's memory until the exec (CLONE_VM|CLONE_VFORK) and costs a fraction of it.
// Two such starts sit on the path of every container start (the monitor, the network setup).
// What a caller sees is kept to Node's ChildProcess: the same stdio sockets (a socketpair per
// "pipe", as libuv makes), the same events in the same order.

/**
 * What a child's fd i is: a new socketpair to us, /dev/null, our own fd i, or (a number) our
 * fd of that number (it stays ours too: the caller closes it when the child has it).
 */
export type StdioKind = "pipe" | "ignore" | "inherit" | number;

export interface SpawnProcessOptions {
  /** One entry per child fd from 0; fds 0-2 left out are "pipe", as with Node. */
  stdio?: readonly StdioKind[];
  /** The child's whole environment (process.env when left out); PATH in it finds `cmd`. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Start the child in a session of its own (setsid), as Node's `detached`. */
  detached?: boolean;
}

type SpawnError = NodeJS.ErrnoException & { spawnargs: string[] };

type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

export interface SpawnedProcess {
  on(event: "exit" | "close", listener: ExitListener): this;
  on(event: "error", listener: (err: SpawnError) => void): this;
  on(event: "spawn", listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "exit" | "close", listener: ExitListener): this;
  once(event: "error", listener: (err: SpawnError) => void): this;
  once(event: "spawn", listener: () => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * A running (or failed) child, shaped like the part of Node's ChildProcess that Pier uses.
 * Events, as Node emits them: "spawn" on the next tick, or instead "error" on the next tick when
 * the program could not be run (never a synchronous throw); "exit" (code, signal) once it is
 * reaped; then "close" (code, signal) once it has exited AND every output stream (fd > 0) has
 * closed, so all of its output has been read by then.
 */
export class SpawnedProcess extends EventEmitter {
  /** Undefined when the program could not be run. */
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  /** Our end of each "pipe" entry; null for "ignore" and "inherit". */
  readonly stdio: (net.Socket | null)[] = [];
  private exited = false;
  private closesNeeded = 1; // the exit, plus one per output stream
  private closesGot = 0;

  readonly spawnfile: string;
  /** argv as the child gets it: the file first. */
  readonly spawnargs: string[];

  constructor(file: string, args: readonly string[], opts: SpawnProcessOptions = {}) {
    super();
    this.spawnfile = file;
    this.spawnargs = [file, ...args];
    const kinds: StdioKind[] = [...(opts.stdio ?? [])];
    while (kinds.length < 3) kinds.push("pipe");
    const envp = Object.entries(opts.env ?? process.env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const sys = nativeSpawn();
    const parentEnds: (number | undefined)[] = [];
    const childFds: number[] = [];
    const childEnds: number[] = [];
    let failure: SpawnError | undefined;
    try {
      for (let i = 0; i < kinds.length; i++) {
        const kind = kinds[i];
        if (kind === "pipe") {
          const [ours, theirs] = sys.socketpair();
          parentEnds[i] = ours;
          childEnds.push(theirs);
          childFds.push(theirs);
        } else {
          childFds.push(typeof kind === "number" ? kind : kind === "inherit" ? i : -1);
        }
      }
      this.pid = sys.spawn(file, this.spawnargs, envp, opts.cwd ?? null, childFds, opts.detached ?? false, (code, signal) => this.onExit(code, signal));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (typeof err.errno !== "number") {
        // A programming error (a NUL byte in an argument, a bad type): thrown, as Node does.
        for (const fd of [...childEnds, ...parentEnds]) if (fd !== undefined) closeSync(fd);
        throw e;
      }
      failure = Object.assign(new Error(`spawn ${file} ${err.code}`), {
        code: err.code,
        errno: err.errno,
        syscall: `spawn ${file}`,
        path: file,
        spawnargs: [...args],
      });
    }
    // The child has its copies now (or never will): ours would only hold the pipes open.
    for (const fd of childEnds) closeSync(fd);
    for (let i = 0; i < kinds.length; i++) {
      if (kinds[i] !== "pipe") {
        this.stdio.push(null);
        continue;
      }
      const fd = parentEnds[i];
      // Like Node: stdin is write-only, the others duplex. Without a socket (socketpair itself
      // failed), a destroyed one stands in so that listeners and "close" still work.
      const socket = fd === undefined ? new net.Socket().destroy() : new net.Socket({ fd, readable: i > 0, writable: true });
      this.stdio.push(socket);
      if (i > 0) {
        this.closesNeeded++;
        socket.on("close", () => this.maybeClose());
      }
    }
    if (failure) {
      const err = failure;
      process.nextTick(() => {
        this.exitCode = err.errno!;
        this.exited = true;
        this.stdin?.destroy();
        this.emit("error", err);
        process.nextTick(() => this.flushStdio());
        this.maybeClose();
      });
    } else {
      process.nextTick(() => this.emit("spawn"));
    }
  }

  get stdin(): net.Socket | null {
    return this.stdio[0] ?? null;
  }
  get stdout(): net.Socket | null {
    return this.stdio[1] ?? null;
  }
  get stderr(): net.Socket | null {
    return this.stdio[2] ?? null;
  }

  /** Send a signal; false once the child has exited (its pid may belong to another process then). */
  kill(signal: NodeJS.Signals | number = "SIGTERM"): boolean {
    if (this.pid === undefined || this.exited) return false;
    try {
      process.kill(this.pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
      throw e;
    }
    this.killed = true;
    return true;
  }

  /** Let the event loop end while the child runs (its stdio sockets have their own unref). */
  unref(): void {
    if (this.pid !== undefined && !this.exited) nativeSpawn().childRef(this.pid, false);
  }

  ref(): void {
    if (this.pid !== undefined && !this.exited) nativeSpawn().childRef(this.pid, true);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    if (signal) this.signalCode = signal;
    else this.exitCode = code;
    this.stdin?.destroy();
    this.emit("exit", this.exitCode, this.signalCode);
    // Output nobody reads is drained so that its stream can end and "close" can follow. Node does
    // it on the next tick; here after the I/O callbacks of this loop turn: the pidfd reports the
    // exit together with whatever the child wrote last, and a reader that starts on such a
    // message (the exec helper's "pid" line, then its output) must not lose the output.
    setImmediate(() => this.flushStdio());
    this.maybeClose();
  }

  private flushStdio(): void {
    for (const s of this.stdio) {
      if (!s || !s.readable || s.readableFlowing !== null || s.listenerCount("readable") > 0) continue;
      s.resume();
    }
  }

  private maybeClose(): void {
    if (++this.closesGot === this.closesNeeded) this.emit("close", this.exitCode, this.signalCode);
  }
}

/**
 * Start `cmd` (looked up in the PATH of `opts.env`) with `args`. Never throws for a program that
 * cannot be run: that is an "error" event, as with child_process.spawn.
 */
export function spawnProcess(cmd: string, args: readonly string[], opts: SpawnProcessOptions = {}): SpawnedProcess {
  return new SpawnedProcess(cmd, args, opts);
}
