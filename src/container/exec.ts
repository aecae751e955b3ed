import { closeSync, existsSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import { Duplex, type Readable } from "node:stream";
import { conflict, invalidParameter, isENOENT, notFound, PierError } from "../errdefs/index.js";
import { frame, newID, secureJoin, writeFileReplace, type Logger } from "../lib/index.js";
import type { Process, Spec } from "../oci/index.js";
import { availableCapabilities, getAdditionalGroups, getExecUser } from "../runtime/index.js";
import {
  capabilityMasks, containerCgroups, encodeNsExecPlan, nsExecHelper, openStartShim, rlimitNumber, RuntimeCreateError, sealedCopy, seccompFlagsMask, startMonitorExec, startNsExec,
  type CgroupDir, type StartShimChannel, type NsExecOutcome, type NsExecPlan, type NsExecProcess,
} from "../sys/index.js";
import { AttachBridge, connectAttachSocket, onceEnded, parseDetachKeys, resizeMonitorTty } from "./attach.js";
import type { ContainerRecord } from "./record.js";
import { shimProcess, START_SHIM_ANNOTATION, type ShimmedProcess } from "./start-shim.js";

// Exec sessions (`docker exec`). Two ways to run the process:
//  - without a tty: the pier-exec helper (sys/nsexec.ts, native/pier_exec.c) joins the
//    container the way `runc exec` does, in ~2 ms instead of ~50, with the process's stdio as
//    pipes that pierd reads directly;
//  - with a tty (or when the helper cannot serve a container): the monitor's exec mode, which runs
//    `runc exec` and holds the pty; pierd attaches to it through the monitor's attach socket.

/** The container service, as far as exec needs it. */
export interface ExecHost {
  get(ref: string): ContainerRecord;
  find(ref: string): ContainerRecord | undefined;
  emit(c: ContainerRecord, action: string, extra?: Record<string, string>): void;
  beforeStart(id: string, fn: (bundle: string) => Promise<void>): () => void;
  wait(ref: string, condition: "next-exit" | "removed"): Promise<unknown>;
  /** The <ALIAS>_… variables of the container's links (throws when a child is not running). */
  linkedEnv(c: ContainerRecord): string[];
}

/** An interactive attach to a container (its stdin through the monitor's attach socket). */
export interface ContainerAttach {
  socket: Duplex;
  pending?: Buffer;
  /** Forward the client's stdin (default); false for an output-only attach (a container with no log). */
  stdin?: boolean;
  stdout: boolean;
  stderr: boolean;
  /** The detach keys asked for ("" or undefined: ctrl-p,ctrl-q); only a tty detaches. */
  detachKeys?: string;
}

export interface ExecManagerOptions {
  execRoot: string;
  runtimePath: string;
  /** The monitor that runs `runc exec` for tty sessions (pier-monitor or conmon). */
  monitorPath: string;
  log: Logger;
  /** Force every exec through the monitor + runc (tests compare both ways). */
  noHelper?: boolean;
}

export interface ExecConfigRequest {
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

interface ExecInstance {
  id: string;
  containerId: string;
  entrypoint: string;
  args: string[];
  env: string[];
  /** Of the container's links, taken at create as moby does. */
  linkedEnv: string[];
  workingDir: string;
  user: string;
  privileged: boolean;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  consoleSize?: [number, number];
  running: boolean;
  started: boolean;
  /** Listed in the container's ExecIDs: from create until it ends (or fails to start). */
  listed: boolean;
  exitCode: number | null;
  pid: number;
  canRemove: boolean;
  /** The monitor's directory of a tty session (resize goes to its ctl fifo). */
  monitorDir?: string;
  whenStarted: Promise<void>;
  markStarted: () => void;
}

/** A running health-check exec. */
export interface ProbeRun {
  /** Settles when the process runs, or could not be started. */
  started: Promise<void>;
  /** The exit code; rejects with why the process could not run. */
  done: Promise<number>;
  /** SIGKILL the process and what it started (an overrunning check). */
  kill(): void;
}

/** Where the client's stdio goes for an attached start. */
export interface ExecClient {
  socket: Duplex;
  /** Bytes the client sent after the request body: the first stdin bytes. */
  pending?: Buffer;
  /** Raw stream (the start request's Tty) or multiplexed frames. */
  raw: boolean;
}

const GC_AFTER_MS = 5 * 60_000;

export class ExecManager {
  private readonly execs = new Map<string, ExecInstance>();
  /** Per container: its spec, whether runc runs its processes through the start shim, its cgroups. */
  private readonly specs = new Map<string, { startedAt: string; spec: Spec; shimmed: boolean; cgroups?: CgroupDir[] }>();
  private gcTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: ExecHost, private readonly o: ExecManagerOptions) {}

  // ------------------------------------------------------------------ create / inspect

  create(ref: string, req: ExecConfigRequest): { Id: string } {
    const c = this.host.get(ref);
    const cmd = req.Cmd ?? [];
    if (!Array.isArray(cmd) || cmd.length === 0) throw invalidParameter("No exec command specified");
    this.checkRunning(c, ref);
    if (req.DetachKeys) parseDetachKeys(req.DetachKeys);
    const linkedEnv = this.host.linkedEnv(c);
    let resolveStarted!: () => void;
    const whenStarted = new Promise<void>((r) => (resolveStarted = r));
    const ex: ExecInstance = {
      id: newID(),
      containerId: c.Id,
      entrypoint: cmd[0]!,
      args: cmd.slice(1),
      env: req.Env ?? [],
      linkedEnv,
      workingDir: req.WorkingDir ?? "",
      user: req.User ?? "",
      privileged: !!req.Privileged,
      tty: !!req.Tty,
      attachStdin: !!req.AttachStdin,
      attachStdout: !!req.AttachStdout,
      attachStderr: !!req.AttachStderr,
      detachKeys: req.DetachKeys ?? "",
      consoleSize: req.ConsoleSize && req.ConsoleSize.length === 2 ? [req.ConsoleSize[0], req.ConsoleSize[1]] : undefined,
      running: false,
      started: false,
      listed: true,
      exitCode: null,
      pid: 0,
      canRemove: false,
      whenStarted,
      markStarted: resolveStarted,
    };
    this.execs.set(ex.id, ex);
    this.scheduleGC();
    this.host.emit(c, `exec_create: ${ex.entrypoint} ${ex.args.join(" ")}`, { execID: ex.id });
    return { Id: ex.id };
  }

  private find(id: string): ExecInstance {
    const ex = this.execs.get(id);
    if (!ex) throw notFound(`No such exec instance: ${id}`);
    return ex;
  }

  /** Throws 404 for an unknown exec, as Docker checks before hijacking the connection. */
  exists(id: string): void {
    this.find(id);
  }

  inspect(id: string): Record<string, unknown> {
    const ex = this.find(id);
    const pc: Record<string, unknown> = { tty: ex.tty, entrypoint: ex.entrypoint, arguments: ex.args, privileged: ex.privileged };
    if (ex.user) pc.user = ex.user;
    return {
      ID: ex.id,
      Running: ex.running,
      ExitCode: ex.exitCode,
      ProcessConfig: pc,
      OpenStdin: ex.attachStdin,
      OpenStderr: ex.attachStderr,
      OpenStdout: ex.attachStdout,
      CanRemove: ex.canRemove,
      ContainerID: ex.containerId,
      DetachKeys: ex.detachKeys,
      Pid: ex.pid,
    };
  }

  /** The exec IDs of a container, for its inspect (null when none, as Docker shows). */
  idsFor(containerId: string): string[] | null {
    const ids: string[] = [];
    for (const ex of this.execs.values()) if (ex.containerId === containerId && ex.listed) ids.push(ex.id);
    return ids.length ? ids : null;
  }

  /** moby's getActiveContainer: the paused message names the container as the client did. */
  private checkRunning(c: ContainerRecord, ref = c.Id): void {
    if (!c.State.Running) throw conflict(`container ${c.Id} is not running`);
    if (c.State.Paused) throw conflict(`Container ${ref} is paused, unpause the container before exec`);
    if (c.State.Restarting) throw conflict(`Container ${c.Id} is restarting, wait until the container is running`);
  }

  /** Docker's checks at start: the container still runs, the exec has not run. */
  private claim(ex: ExecInstance): ContainerRecord {
    const c = this.host.find(ex.containerId);
    if (!c) throw notFound(`No such container: ${ex.containerId}`);
    this.checkRunning(c);
    if (ex.exitCode !== null) throw conflict(`Error: Exec command ${ex.id} has already run`);
    if (ex.running || ex.started) throw conflict(`Error: Exec command ${ex.id} is already running`);
    ex.started = true;
    ex.running = true;
    return c;
  }

  // ------------------------------------------------------------------ start

  /**
   * Start detached: resolves once the process runs (or throws why it could not: Docker answers a
   * detached start's failure as an HTTP error).
   */
  async startDetached(id: string, consoleSize?: [number, number]): Promise<void> {
    await this.run(this.find(id), undefined, consoleSize);
  }

  /**
   * Start attached to a hijacked client (whose 101 head is already written). Resolves when the
   * session is over and the client connection has been ended. Errors go into the stream, as
   * Docker writes them: the message and "\r\n" on stdout.
   */
  async startAttached(id: string, client: ExecClient, consoleSize?: [number, number]): Promise<void> {
    const ex = this.find(id);
    try {
      await this.run(ex, client, consoleSize);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const text = Buffer.from(`${msg}\r\n`);
      if (!client.socket.destroyed) client.socket.end(client.raw ? text : frame(1, text));
    }
  }

  /** Start attached to `client` or detached; throws why the process could not run. */
  private async run(ex: ExecInstance, client: ExecClient | undefined, consoleSize?: [number, number]): Promise<void> {
    const c = this.claim(ex);
    if (consoleSize) ex.consoleSize = consoleSize;
    this.host.emit(c, `exec_start: ${ex.entrypoint} ${ex.args.join(" ")}`, { execID: ex.id });
    try {
      if (!ex.tty && !this.o.noHelper && nsExecHelper()) {
        const r = await this.runWithHelper(ex, c, client);
        if (r !== "fallback") return;
      }
      await this.runWithMonitor(ex, c, client);
    } catch (err) {
      this.failed(ex, err);
      throw err;
    }
  }

  /**
   * A health check's process (moby's cmdProbe): an exec created, announced and listed in
   * ExecIDs like any other while it runs, with no stdin and stdout and stderr both into
   * `output`; the container's user and working dir apply.
   */
  probe(containerId: string, cmd: string[], output: (d: Buffer) => void): ProbeRun {
    const { Id } = this.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const ex = this.find(Id);
    const sink = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        output(chunk);
        cb();
      },
    });
    const done = this.run(ex, { socket: sink, raw: true }).then(() => {
      if (ex.exitCode === null) throw new Error(`healthcheck for container ${containerId} has no exit code`);
      return ex.exitCode;
    });
    done.catch(() => {});
    return { started: ex.whenStarted, done, kill: () => killProcessGroup(ex.pid) };
  }

  /** A start that failed: Docker's exit code (126, see execStartError), no longer listed. */
  private failed(ex: ExecInstance, err: unknown): void {
    if (ex.exitCode !== null) return;
    ex.running = false;
    ex.listed = false;
    ex.exitCode = err instanceof ExecStartError ? err.exitCode : 126;
    ex.markStarted();
  }

  private exited(ex: ExecInstance, code: number): void {
    ex.running = false;
    ex.listed = false;
    ex.exitCode = code;
    const c = this.host.find(ex.containerId);
    if (c) this.host.emit(c, "exec_die", { execID: ex.id, exitCode: String(code) });
  }

  /**
   * Docker's execCommandGC: every 5 minutes, execs that no longer run (or whose container
   * stopped) are marked CanRemove, and those already marked are forgotten.
   */
  private scheduleGC(): void {
    if (this.gcTimer) return;
    this.gcTimer = setInterval(() => {
      for (const ex of [...this.execs.values()]) {
        if (ex.canRemove) {
          this.execs.delete(ex.id);
          continue;
        }
        const c = this.host.find(ex.containerId);
        if (!ex.running && (ex.exitCode !== null || !c || !c.State.Running)) ex.canRemove = true;
      }
      if (this.execs.size === 0) {
        clearInterval(this.gcTimer);
        this.gcTimer = undefined;
      }
    }, GC_AFTER_MS);
    this.gcTimer.unref();
  }

  // ------------------------------------------------------------------ the helper (no tty)

  private async runWithHelper(ex: ExecInstance, c: ContainerRecord, client: ExecClient | undefined): Promise<"done" | "fallback"> {
    const spec = await this.containerSpec(c);
    const plan = await this.helperPlan(ex, c, spec);
    if (!plan) return "fallback";
    const p = startNsExec(nsExecHelper()!, plan, {
      stdin: !!client && ex.attachStdin,
      stdout: !!client && ex.attachStdout,
      stderr: !!client && ex.attachStderr,
    });
    // The output is taken from the first moment, before any await: a child whose exit is seen
    // while its streams have no reader gets them drained and dropped (Node's flushStdio, kept
    // by spawnProcess), which lost the whole output of short commands now and then.
    const outputs = client ? this.relayOutput(p, client) : Promise.resolve();
    const pid = await p.pid;
    if (pid === undefined) {
      const out = await p.outcome;
      if (out.kind === "fallback") {
        this.o.log.debug("exec helper cannot serve this container; using runc", { id: c.Id, why: out.message });
        return "fallback";
      }
      throw execStartError(out, ex);
    }
    ex.pid = pid;
    if (!client) {
      // Detached: answer once the command runs, or with why it could not.
      if (!(await p.running)) {
        const out = await p.outcome;
        if (out.kind === "fallback") return "fallback";
        throw execStartError(out, ex);
      }
      ex.markStarted();
      void p.outcome.then((out) => this.settleHelper(ex, out));
      return "done";
    }
    const sock = client.socket;
    // Input: the client's bytes are stdin; its half-close (or going away) closes stdin.
    const stdin = p.stdin;
    if (stdin) {
      if (client.pending?.length) stdin.write(client.pending);
      const onData = (d: Buffer) => {
        if (!stdin.write(d)) {
          sock.pause();
          stdin.once("drain", () => sock.resume());
        }
      };
      sock.on("data", onData);
      onceEnded(sock, () => stdin.end());
      sock.once("close", () => stdin.end());
      stdin.on("error", () => sock.off("data", onData));
    } else {
      sock.on("data", () => {});
    }
    sock.on("error", () => {});
    sock.resume();
    void p.running.then(() => ex.markStarted());
    const out = await p.outcome;
    await outputs;
    if (out.kind === "exit") {
      this.exited(ex, out.code);
    } else {
      throw execStartError(out, ex);
    }
    if (!sock.destroyed) sock.end();
    return "done";
  }

  /** The process's stdout and stderr to the client, as frames (or raw), in the order they come. */
  private relayOutput(p: NsExecProcess, client: ExecClient): Promise<void> {
    const sock = client.socket;
    const pipeOut = (r: Readable | undefined, stream: 1 | 2) => {
      if (!r) return Promise.resolve();
      return new Promise<void>((resolve) => {
        r.on("data", (d: Buffer) => {
          if (sock.destroyed || sock.writableEnded) return;
          if (!sock.write(client.raw ? d : frame(stream, d))) {
            r.pause();
            sock.once("drain", () => r.resume());
          }
        });
        r.on("end", resolve);
        r.on("error", () => resolve());
        r.on("close", resolve);
      });
    };
    return Promise.all([pipeOut(p.stdout, 1), pipeOut(p.stderr, 2)]).then(() => {});
  }

  private settleHelper(ex: ExecInstance, out: NsExecOutcome): void {
    if (out.kind === "exit") this.exited(ex, out.code);
    else this.failed(ex, execStartError(out, ex));
  }

  /** What the helper needs, or undefined when this container is one for runc. */
  private async helperPlan(ex: ExecInstance, c: ContainerRecord, spec: Spec): Promise<NsExecPlan | undefined> {
    const proc = spec.process;
    const linux = spec.linux ?? {};
    if ((linux.namespaces ?? []).some((n) => n.type === "user")) return undefined;
    if (proc.apparmorProfile && proc.apparmorProfile !== "unconfined") return undefined;
    if (proc.selinuxLabel) return undefined;
    const cgroupsPath = linux.cgroupsPath ?? "";
    if (!cgroupsPath || cgroupsPath.includes(":")) return undefined;
    const seccomp = linux.seccomp as (Spec["linux"] & object)["seccomp"] & { listenerPath?: string } | undefined;
    let seccompFlags = 0;
    if (seccomp) {
      if (seccomp.listenerPath) return undefined;
      const f = seccompFlagsMask(seccomp.flags);
      if (f === undefined) return undefined;
      seccompFlags = f;
    }
    const p = await this.execProcess(ex, c, spec);
    const masks = capabilityMasks(p.capabilities);
    if (!masks) return undefined;
    const rlimits: NsExecPlan["rlimits"] = [];
    for (const r of p.rlimits ?? []) {
      const type = rlimitNumber(r.type);
      if (type === undefined) return undefined;
      const lim = (v: number) => (v < 0 || v >= 2 ** 64 - 1 || !Number.isFinite(v) ? "unlimited" as const : v);
      rlimits.push({ type, soft: lim(r.soft), hard: lim(r.hard) });
    }
    const cached = this.specs.get(c.Id)!;
    cached.cgroups ??= await containerCgroups(c.State.Pid).catch(() => undefined);
    if (!cached.cgroups || cached.cgroups.length === 0) return undefined;
    return {
      initPid: c.State.Pid,
      cgroupCheck: `:${cgroupsPath}\n`,
      cgroups: cached.cgroups,
      seccompCache: seccomp ? path.join(this.bundle(c.Id), "exec-seccomp.bpf") : undefined,
      seccompFlags,
      noNewPrivileges: !!p.noNewPrivileges,
      uid: p.user.uid,
      gid: p.user.gid,
      additionalGids: p.user.additionalGids ?? [],
      cwd: p.cwd,
      args: p.args,
      env: p.env ?? [],
      caps: masks,
      rlimits,
      oomScoreAdj: p.oomScoreAdj,
      keyring: `_ses.${c.Id}`,
    };
  }

  // ------------------------------------------------------------------ the monitor (tty)

  private async runWithMonitor(ex: ExecInstance, c: ContainerRecord, client: ExecClient | undefined): Promise<void> {
    const spec = await this.containerSpec(c);
    const proc = await this.execProcess(ex, c, spec);
    // `runc exec` needs runc's state, which a container made by the builtin runtime
    // (the default; not with PIER_RUNTIME=runc) does not have: the builtin runtime's `exec -d` runs it instead,
    // from the exec helper's plan (process.plan beside process.json).
    const builtinRoot = path.join(this.o.execRoot, "builtin");
    const builtinPlan = existsSync(path.join(builtinRoot, c.Id, "state.json")) ? await this.helperPlan(ex, c, spec) : undefined;
    if (existsSync(path.join(builtinRoot, c.Id, "state.json")) && !builtinPlan) {
      throw new ExecStartError(`cannot exec in container ${c.Id.slice(0, 12)}: this process cannot be run by the builtin runtime`, 126);
    }
    // runc's copy of a shimmed container's config has no seccomp profile: its execs go through
    // the shim too, with the filter the container's init has.
    let shimmed: ShimmedProcess | undefined;
    const filter = path.join(this.bundle(c.Id), "exec-seccomp.bpf");
    if (this.specs.get(c.Id)?.shimmed && !builtinPlan) {
      shimmed = shimProcess(proc, spec);
      if (!shimmed || !nsExecHelper() || !existsSync(filter)) throw new ExecStartError(`cannot exec in container ${c.Id.slice(0, 12)}: its seccomp filter cannot be applied to this process`, 126);
    }
    const dir = path.join(this.o.execRoot, "exec", ex.id);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileReplace(path.join(dir, "process.json"), JSON.stringify(shimmed ? shimmed.runcProcess : proc));
    if (builtinPlan) await writeFileReplace(path.join(dir, "process.plan"), encodeNsExecPlan(builtinPlan));
    // A sealed copy: the shim's fd 5 must not lead a process of the container to a file.
    const filterFd = shimmed ? sealedCopy(filter) : undefined;
    let shim: StartShimChannel | undefined;
    try {
      shim = shimmed ? openStartShim(nsExecHelper()!, filterFd!, shimmed.plan) : undefined;
    } catch (err) {
      if (filterFd !== undefined) closeSync(filterFd);
      throw err;
    }
    ex.monitorDir = ex.tty ? dir : undefined;
    const attachStdin = !!client && ex.attachStdin;
    let session: ReturnType<typeof startMonitorExec>;
    try {
      session = startMonitorExec({
        monitorPath: this.o.monitorPath,
        runtimePath: builtinPlan ? nsExecHelper()! : this.o.runtimePath,
        runtimeRoot: path.join(this.o.execRoot, "runc"),
        runtimeArgs: builtinPlan ? ["--runtime", `--root=${builtinRoot}`] : undefined,
        containerId: c.Id,
        execId: ex.id,
        name: c.Name.slice(1),
        dir,
        tty: ex.tty,
        stdin: attachStdin,
        passFds: shim?.fds,
      });
    } finally {
      shim?.release(); // the monitor has them now
      if (filterFd !== undefined) closeSync(filterFd);
    }
    // Removed once the monitor is gone (it writes its files until it exits).
    const cleanup = () => session.done.then(() => fsp.rm(dir, { recursive: true, force: true })).catch(() => {});
    try {
      await session.attachReady;
    } catch (err) {
      await cleanup();
      throw err;
    }
    let bridge: AttachBridge | undefined;
    if (client) {
      let fd: number;
      try {
        fd = connectAttachSocket(dir);
      } catch (err) {
        session.start();
        await cleanup();
        throw err;
      }
      bridge = new AttachBridge(client.socket, fd, {
        raw: client.raw,
        stdin: attachStdin,
        stdout: ex.attachStdout,
        stderr: ex.attachStderr,
        onStdinEnd: ex.tty ? "detach" : "close-stdin",
        detachKeys: ex.tty ? parseDetachKeys(ex.detachKeys) : undefined,
        pending: client.pending,
      });
    }
    if (ex.tty && ex.consoleSize) await resizeMonitorTty(dir, ex.consoleSize[0], ex.consoleSize[1]);
    session.start();
    let pid: number;
    try {
      pid = await session.pid;
      const why = await shim?.result();
      if (why !== undefined) throw execStartError({ kind: "error", message: why }, ex);
    } catch (err) {
      // The caller writes why into the stream and ends it.
      shim?.abandon();
      bridge?.detach();
      void cleanup();
      if (err instanceof RuntimeCreateError) throw execStartError({ kind: "fallback", message: err.message }, ex);
      throw err;
    }
    ex.pid = pid;
    ex.markStarted();
    const exit = session.exit.then((code) => {
      this.exited(ex, code);
      ex.monitorDir = undefined;
      void cleanup();
    });
    if (!bridge) return;
    const how = await bridge.ended;
    // The output ended because the monitor did: record the exit before the client learns it is over.
    if (how === "output-ended") await exit;
    bridge.finish();
  }

  // ------------------------------------------------------------------ the process

  /** The container is gone: drop what is cached for it (its spec holds the whole seccomp profile). */
  forgetContainer(containerId: string): void {
    this.specs.delete(containerId);
  }

  /**
   * The container's spec (cached per start): the base of every exec. That is config.json as
   * runc got it, or, for a container started through the start shim, spec.json beside it (runc's
   * copy has the shim as its process and no seccomp profile).
   */
  private async containerSpec(c: ContainerRecord): Promise<Spec> {
    const hit = this.specs.get(c.Id);
    if (hit && hit.startedAt === c.State.StartedAt) return hit.spec;
    const read = async (file: string) => JSON.parse(await fsp.readFile(path.join(this.bundle(c.Id), file), "utf8")) as Spec;
    let spec: Spec;
    let shimmed = false;
    try {
      const runcSpec = await read("config.json");
      shimmed = runcSpec.annotations?.[START_SHIM_ANNOTATION] === "1";
      spec = shimmed ? await read("spec.json") : runcSpec;
    } catch (err) {
      if (isENOENT(err)) throw conflict(`container ${c.Id} is not running`);
      throw err;
    }
    this.specs.set(c.Id, { startedAt: c.State.StartedAt, spec, shimmed });
    return spec;
  }

  private bundle(id: string): string {
    return path.join(this.o.execRoot, "containers", id);
  }

  /** The exec's process: the container's, with Docker's exec settings on top (moby ContainerExecStart). */
  private async execProcess(ex: ExecInstance, c: ContainerRecord, spec: Spec): Promise<Process> {
    const base = spec.process;
    const rootfs = spec.root.path;
    const readFile = async (p: string) => {
      try {
        return await fsp.readFile(await secureJoin(rootfs, p), "utf8");
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw err;
      }
    };
    const [passwd, group] = await Promise.all([readFile("/etc/passwd"), readFile("/etc/group")]);
    const userSpec = ex.user || c.Config.User || "";
    let user: ReturnType<typeof getExecUser>;
    let extra: number[];
    try {
      user = getExecUser(userSpec, passwd, group);
      const groupAdd = (c.HostConfig.GroupAdd as string[] | null | undefined) ?? [];
      extra = groupAdd.length ? getAdditionalGroups(groupAdd, group) : [];
    } catch (err) {
      throw new ExecStartError(err instanceof Error ? err.message : String(err), 126);
    }
    const gids: number[] = [];
    for (const g of [user.gid, ...user.sgids, ...extra]) if (!gids.includes(g)) gids.push(g);
    const env = execEnv(c, ex, ex.linkedEnv);
    if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home || "/"}`);
    let capabilities = base.capabilities;
    if (ex.privileged) {
      // Docker 23+: every capability this kernel knows and pierd itself holds.
      const all = availableCapabilities().slice();
      capabilities = { bounding: all, effective: all, permitted: all };
    }
    const p: Process = {
      ...base,
      terminal: ex.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: gids },
      args: [ex.entrypoint, ...ex.args],
      env,
      cwd: ex.workingDir || c.Config.WorkingDir || base.cwd || "/",
      capabilities,
    };
    if (ex.tty && ex.consoleSize) p.consoleSize = { height: ex.consoleSize[0], width: ex.consoleSize[1] };
    else delete p.consoleSize;
    if (ex.privileged && p.apparmorProfile) p.apparmorProfile = "unconfined";
    return p;
  }

  // ------------------------------------------------------------------ attach

  /**
   * Attach with stdin to a container: the monitor's attach socket joined to the client. A container
   * not running yet (`docker run -i` attaches before start) is joined when it starts, before
   * its process runs. Resolves when the attach is over; the client connection is ended.
   */
  async attach(c: ContainerRecord, a: ContainerAttach): Promise<void> {
    const tty = !!c.Config.Tty;
    const keys = tty ? parseDetachKeys(a.detachKeys) : undefined;
    const client = a.socket;
    let bridge: AttachBridge | undefined;
    const join = (dir: string) => {
      bridge = new AttachBridge(client, connectAttachSocket(dir), {
        raw: tty,
        stdin: a.stdin ?? true,
        stdout: a.stdout,
        stderr: a.stderr,
        // Docker closes the container's stdin at the client's EOF only for StdinOnce without a tty;
        // otherwise the attach ends and stdin stays open for the next one.
        onStdinEnd: c.Config.StdinOnce && !tty ? "close-stdin" : "detach",
        detachKeys: keys,
        pending: a.pending,
      });
    };
    if (c.State.Running) {
      try {
        join(this.bundle(c.Id));
      } catch (err) {
        // No attach socket (a monitor gone, or one from before this engine): end, never hang.
        this.o.log.warn("cannot attach to the container's monitor", { id: c.Id, err: String(err) });
      }
    } else {
      client.pause();
      await new Promise<void>((resolve) => {
        let cancel = () => {};
        const gone = () => {
          cancel();
          resolve();
        };
        cancel = this.host.beforeStart(c.Id, async (bundle) => {
          try {
            join(bundle);
          } finally {
            resolve();
          }
        });
        // A start that fails, a removal, or a client that leaves ends the wait.
        this.host.wait(c.Id, "next-exit").then(gone, gone);
        client.once("close", gone);
      });
    }
    if (!bridge) {
      if (!client.destroyed) client.end();
      return;
    }
    await bridge.ended;
    bridge.finish();
  }

  // ------------------------------------------------------------------ resize

  async resize(id: string, height: number, width: number): Promise<void> {
    const ex = this.find(id);
    // Docker waits (up to 10 s) for the exec to have started.
    await Promise.race([ex.whenStarted, delayValue(10_000, undefined)]);
    if (!ex.running) return;
    if (ex.monitorDir) await resizeMonitorTty(ex.monitorDir, height, width);
  }

  /** POST /containers/{id}/resize: the container's tty, held by its monitor. */
  async resizeContainer(ref: string, height: number, width: number): Promise<void> {
    const c = this.host.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (!c.Config.Tty) return;
    await resizeMonitorTty(this.bundle(c.Id), height, width);
  }
}

/** A failed start, with Docker's exit code for `docker exec`. */
export class ExecStartError extends PierError {
  constructor(message: string, readonly exitCode: number) {
    super("InvalidParameter", message);
  }
}

/**
 * The runtime's words as Docker wraps them, and Docker's exit code: 126 for every exec that
 * could not start, a missing command included. moby's translateContainerdStartErr says 127 for
 * a missing command, but ContainerExecStart's deferred error handling then sets 126 over it in
 * every release of the API 1.45 era (moby#45795; only moby#48552, 2024-09, keeps the 127), and
 * Docker 20.10 answers 126 too: `docker exec c nosuchcommand` exits 126.
 */
function execStartError(out: NsExecOutcome, ex: ExecInstance): PierError {
  if (out.kind === "exit") return new ExecStartError("exec ended early", 126);
  // The helper reports what failed; runc (through the monitor) says it with its own prefix.
  const runtimeMsg = out.kind === "error" ? `exec failed: unable to start container process: ${out.message}` : out.message;
  const msg = `OCI runtime exec failed: ${runtimeMsg}: unknown`;
  const lower = msg.toLowerCase();
  return new ExecStartError(msg, 126);
}

/**
 * Docker's exec environment: PATH and HOSTNAME (and TERM for a tty), then the container's Env,
 * then the exec's Env, each replacing variables of the same name (container.CreateDaemonEnvironment
 * and ReplaceOrAppendEnvValues).
 */
/** moby's CreateDaemonEnvironment: PATH, HOSTNAME, TERM, the links' variables; then Config.Env, then the exec's. */
export function execEnv(c: ContainerRecord, ex: { tty: boolean; env: string[] }, linked: string[] = []): string[] {
  let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", `HOSTNAME=${c.Config.Hostname ?? ""}`];
  if (ex.tty) env.push("TERM=xterm");
  env = replaceOrAppendEnv(env, linked);
  env = replaceOrAppendEnv(env, c.Config.Env ?? []);
  return replaceOrAppendEnv(env, ex.env);
}

export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const out = [...defaults];
  const keyOf = (e: string) => (e.includes("=") ? e.slice(0, e.indexOf("=")) : e);
  for (const o of overrides) {
    const k = keyOf(o);
    const i = out.findIndex((e) => keyOf(e) === k);
    if (!o.includes("=")) {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) out[i] = o;
    else out.push(o);
  }
  return out;
}

const delayValue = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms).unref());

/**
 * SIGKILL a process and its process group: the exec helper makes each exec a session leader,
 * so a shell's children (`sleep` in `sh -c 'sleep 9'`) go too and release the output pipes.
 * A process that is no group leader (runc's exec) is killed alone.
 */
function killProcessGroup(pid: number): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
