// End-to-end harness: a real pierd on a temporary socket and data root, driven by the real
// docker CLI (/usr/local/bin/docker). Set PIER_TEST_DOCKER_HOST=unix:///var/run/docker.sock to
// run the same tests against Docker instead: a test that fails there tests the wrong thing.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, promises as fsp } from "node:fs";
import * as path from "node:path";
import * as net from "node:net";
import { request as httpRequest } from "node:http";

export const ROOT = process.env.PIER_ROOT ?? new URL("../..", import.meta.url).pathname;
export const DOCKER = process.env.PIER_TEST_DOCKER_CLI ?? "/usr/local/bin/docker";
const BUSYBOX_TAR = "/var/tmp/pier-test-busybox.tar";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Engine {
  host: string;
  /** Only for a pierd the harness started. */
  dataRoot?: string;
  execRoot?: string;
  pid?: number;
  docker(args: string[], opts?: { input?: string; timeoutMs?: number; env?: Record<string, string> }): Promise<RunResult>;
  pier(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  stop(): Promise<void>;
  /**
   * Kill pierd (SIGKILL unless told) and start it again on the same roots; `whileDown` runs
   * after it has exited and before it starts again; `daemonArgs` replaces the extra flags.
   */
  /** daemonArgs / daemonEnv, when given, replace the engine's from then on. */
  restart?(signal?: NodeJS.Signals, whileDown?: () => Promise<void>, daemonArgs?: string[], daemonEnv?: Record<string, string>): Promise<void>;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out after ${timeoutMs} ms: ${cmd} ${args.join(" ")}`));
    }, timeoutMs);
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // A command that exits without reading its stdin must not fail the test with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}

/** Until pierd answers a ping on `sock` (a socket that only takes the connection is not it). */
function waitForSocket(sock: string, timeoutMs: number, child?: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child && child.exitCode !== null) return reject(new Error(`pierd exited with ${child.exitCode}`));
      const c = net.connect(sock);
      let answered = false;
      c.once("connect", () => c.write("GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
      c.once("data", () => {
        answered = true;
        c.destroy();
        resolve();
      });
      c.once("close", () => {
        if (answered) return;
        if (Date.now() > deadline) reject(new Error(`pierd did not listen on ${sock}`));
        else setTimeout(attempt, 25);
      });
      c.once("error", () => {});
    };
    attempt();
  });
}

/** Make the offline busybox image once per machine (deterministic: same bytes every time). */
export function busyboxTar(): string {
  if (!existsSync(BUSYBOX_TAR)) {
    const r = spawnSync(process.execPath, [path.join(ROOT, "dist/scripts/make-busybox-image.js"), "-o", BUSYBOX_TAR], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`make-busybox-image failed: ${r.stderr}`);
  }
  return BUSYBOX_TAR;
}

/**
 * Start an engine for a test file. With PIER_TEST_DOCKER_HOST set, use that daemon instead.
 * The busybox image is loaded either way. `daemonArgs` go to pierd after the harness's own
 * (a test that needs them cannot run against an external daemon). `privateNetwork` starts
 * pierd in a network namespace of its own (`unshare --net`), so what it does to network
 * sysctls, bridges and rules is seen by nothing else on the machine and goes with it; its
 * published ports are then out of the host's reach. `netnsSetup`, with `privateNetwork`: shell
 * run in that namespace before pierd starts (e.g. to give it sysctls the host does not have).
 */
/** daemonEnv: variables for this pierd only (e.g. PIER_RUNTIME=builtin), over the test's environment. */
/** inheritFds: {pierd's fd: our fd}, what a launcher may leave open to pierd (its other fds from 3 stay closed). */
export async function startEngine(opts: { busybox?: boolean; daemonArgs?: string[]; privateNetwork?: boolean; netnsSetup?: string; daemonEnv?: Record<string, string>; inheritFds?: Record<number, number> } = {}): Promise<Engine> {
  const dockerConfig = mkdtempSync("/tmp/pier-test-dockercfg-");
  const external = process.env.PIER_TEST_DOCKER_HOST;
  let engine: Engine;
  if (external) {
    const env = { ...process.env, DOCKER_HOST: external, DOCKER_CONFIG: dockerConfig };
    engine = {
      host: external,
      docker: (args, o) => exec(DOCKER, args, { ...env, ...o?.env }, o?.input, o?.timeoutMs),
      pier: (args, o) => exec(process.execPath, [path.join(ROOT, "bin/pier.js"), ...args], env, o?.input, o?.timeoutMs),
      stop: async () => {
        await fsp.rm(dockerConfig, { recursive: true, force: true });
      },
    };
  } else {
    const base = mkdtempSync("/var/tmp/pier-test-");
    const dataRoot = path.join(base, "data");
    const execRoot = path.join(base, "run");
    const sock = path.join(base, "pier.sock");
    const host = `unix://${sock}`;
    const env = { ...process.env, DOCKER_HOST: host, PIER_HOST: host, DOCKER_CONFIG: dockerConfig };
    let child: ReturnType<typeof spawn>;
    let logs = "";
    let extraArgs = opts.daemonArgs ?? [];
    let daemonEnv = opts.daemonEnv ?? {};
    const launch = async () => {
      // Started as a user starts it, so the V8 flags in its #! line apply.
      // PIER_TEST_MONITOR runs the suite on another monitor (e.g. "conmon").
      const monitor = process.env.PIER_TEST_MONITOR ? ["--monitor", process.env.PIER_TEST_MONITOR] : [];
      const args = ["-H", host, "--data-root", dataRoot, "--exec-root", execRoot, "--log-level", process.env.PIER_TEST_LOG_LEVEL ?? "warn", ...monitor, ...extraArgs];
      const pierd = path.join(ROOT, "bin/pierd.js");
      // unshare execs pierd in the same process (through sh's exec with a setup), so the pid
      // and signals are pierd's.
      const inNetns = opts.netnsSetup ? ["sh", "-c", `${opts.netnsSetup}\nexec "$0" "$@"`, pierd] : [pierd];
      child = spawn(opts.privateNetwork ? "unshare" : pierd, opts.privateNetwork ? ["--net", "--", ...inNetns, ...args] : args, {
        stdio: ["ignore", "ignore", "pipe", ...Array.from({ length: Math.max(2, ...Object.keys(opts.inheritFds ?? {}).map(Number)) - 2 }, (_, i) => opts.inheritFds?.[i + 3] ?? "ignore")],
        env: { ...process.env, ...daemonEnv },
      });
      child.stderr!.on("data", (d) => {
        logs += d.toString();
        if (process.env.PIER_TEST_VERBOSE) process.stderr.write(d);
      });
      await waitForSocket(sock, 15_000, child);
      engine.pid = child.pid;
    };
    engine = {
      host,
      dataRoot,
      execRoot,
      docker: (args, o) => exec(DOCKER, args, { ...env, ...o?.env }, o?.input, o?.timeoutMs),
      pier: (args, o) => exec(process.execPath, [path.join(ROOT, "bin/pier.js"), ...args], env, o?.input, o?.timeoutMs),
      restart: async (signal = "SIGKILL", whileDown, daemonArgs, newEnv) => {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill(signal);
        await exited;
        await whileDown?.();
        if (daemonArgs) extraArgs = daemonArgs;
        if (newEnv) daemonEnv = newEnv;
        await launch();
      },
      stop: async () => {
        // Remove every container so no process, mount or cgroup outlives the test.
        const ps = await exec(DOCKER, ["ps", "-aq"], env).catch(() => undefined);
        const ids = ps?.stdout.split("\n").filter(Boolean) ?? [];
        if (ids.length) await exec(DOCKER, ["rm", "-f", "-v", ...ids], env).catch(() => {});
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        // Anything still mounted under the roots (a failed test) is detached before removal.
        const mounts = (await fsp.readFile("/proc/self/mountinfo", "utf8")).split("\n").map((l) => l.split(" ")[4]).filter((m): m is string => !!m && m.startsWith(base));
        for (const m of mounts.reverse()) spawnSync("umount", ["-l", m]);
        await fsp.rm(base, { recursive: true, force: true });
        await fsp.rm(dockerConfig, { recursive: true, force: true });
        if (process.env.PIER_TEST_VERBOSE) process.stderr.write(logs);
      },
    };
    await launch();
  }
  if (opts.busybox !== false) {
    const load = await engine.docker(["load", "-i", busyboxTar()]);
    if (load.code !== 0) throw new Error(`docker load of busybox failed: ${load.stderr}`);
  }
  return engine;
}

/** An engine for one test, stopped however the test ends (a failed test must not leak it). */
export async function withEngine(opts: Parameters<typeof startEngine>[0], fn: (e: Engine) => Promise<void>): Promise<void> {
  const e = await startEngine(opts);
  try {
    await fn(e);
  } finally {
    await e.stop();
  }
}

export interface RawResponse {
  status: number;
  headers: import("node:http").IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * One raw API request over the engine's socket, for what the CLI would never send. A Buffer body
 * goes as a tar (archive uploads), anything else as JSON.
 */
export function apiRequest(e: Engine, method: string, urlPath: string, body?: unknown): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const headers = data ? { "Content-Type": Buffer.isBuffer(body) ? "application/x-tar" : "application/json", "Content-Length": data.length } : {};
    const req = httpRequest({ socketPath: e.host.replace(/^unix:\/\//, ""), method, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text, json: () => JSON.parse(text) });
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** Run the docker CLI against the engine; fail the test unless it exits 0. Its stdout, trimmed. */
export async function dockerOk(e: Engine, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string> {
  const r = await e.docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}
