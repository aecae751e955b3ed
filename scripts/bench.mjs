#!/usr/bin/env node
// `npm run bench`: the shared Docker-API benchmarks (../shared/bench) against a pierd started here
// and, when Debian's docker.io is installed, against a dockerd started here, one engine at a time,
// then a side-by-side table (console + bench/results/<date>.md).
//
// Each engine gets its own socket, data root and exec root under /var/tmp/pier-bench-XXXXXX (never
// /run/pier, /var/lib/pier or the system dockerd's dirs), the same offline busybox image
// (dist/scripts/make-busybox-image.js, tagged busybox:local), and is stopped and its dirs removed
// at the end. Benchmarks inform and never gate: the exit status is 0 even when a target is
// missed, non-zero only when an engine could not be started (or died during the run).
//
// Env:
//   BENCH_ONLY=run-latency,logs     scripts to run (default run-latency,start-many,api-latency,build,
//                                   logs,exec-latency,daemon-restart,net-run,net-throughput;
//                                   image-ops, registry run only when named here). exec-latency,
//                                   daemon-restart and net-* are Pier's own (bench/scripts/,
//                                   daemon-restart here: it restarts the engine; net-* in
//                                   scripts/bench-net.mjs); daemon-restart runs against Pier only.
//   RESTART_N=100, RESTART_ROUNDS=3 containers kept running across each daemon-restart round
//   BENCH_ENGINES=pier,docker       engines to run (default: pier, plus docker if dockerd exists)
//   BENCH_SHARED=DIR                the shared bench folder (default <project>/../shared/bench)
//   BENCH_SCRIPT_TIMEOUT=900        bound on one script, seconds
//   BENCH_KEEP_LOGS=DIR             copy pierd.log / dockerd.log there before the dirs are removed
//   BENCH_NO_INSTALL=1              do not `npm i -g autocannon` when it is missing
//   and every knob of the shared scripts (RUNS, N, PAR, DURATION, LINES, CMD_TIMEOUT, ...).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as http from "node:http";

const ROOT = path.resolve(new URL("..", import.meta.url).pathname);
const SHARED = path.resolve(process.env.BENCH_SHARED || path.join(ROOT, "..", "shared", "bench"));
const IMAGE = process.env.IMAGE || "busybox:local";
const SCRIPT_TIMEOUT_S = Number(process.env.BENCH_SCRIPT_TIMEOUT || 900);
const ENGINE_START_TIMEOUT_S = 60;
const ENGINE_STOP_TIMEOUT_S = 30;
const AUTOCANNON_SPEC = "autocannon@9"; // no engines field; runs on Node 20 (checked with --version after install)

const DEFAULT_SCRIPTS = ["run-latency", "start-many", "api-latency", "build", "logs", "exec-latency", "daemon-restart"];
const ALL_SCRIPTS = ["run-latency", "start-many", "api-latency", "image-ops", "build", "registry", "logs", "exec-latency", "daemon-restart"];
/** Pier's own benchmarks, not in the shared folder: shell scripts here, or a function below. */
const OWN = path.join(ROOT, "bench", "scripts");
const OWN_SCRIPTS = new Set(["exec-latency"]);
const NEEDS_MISSING = { "image-ops": "not run by default: it debootstraps a Debian tar first", registry: "Pier has no pull/push yet" };

const notes = []; // lines for the report
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const note = (s) => {
  notes.push(s);
  log(s);
};

// ------------------------------------------------------------------ process helpers

/** Run a command to completion, bounded in time (its whole process group is killed on timeout). */
function run(cmd, args, { env = process.env, timeoutS = 120, input, onStderr, onStdout } = {}) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(cmd, args, { env, detached: true, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    } catch (err) {
      resolve({ code: -1, stdout: "", stderr: String(err), timedOut: false });
      return;
    }
    current.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (b) => {
      stdout += b;
      onStdout?.(b);
    });
    child.stderr.on("data", (b) => {
      stderr += b;
      onStderr?.(b);
    });
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
    }, timeoutS * 1000);
    child.on("error", (err) => {
      stderr += String(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current.delete(child);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, timedOut });
    });
  });
}
const current = new Set(); // commands in flight (killed on SIGINT)

function killGroup(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

function hasCmd(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const reEscape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Live processes (not zombies) whose command line mentions `needle`. */
function processesMentioning(needle) {
  const out = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const args = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (!args.includes(needle)) continue;
      const comm = fs.readFileSync(`/proc/${name}/comm`, "utf8").trim();
      out.push({ pid: Number(name), comm, args });
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/** Mount points at or below dir (deepest first). */
function mountsUnder(dir) {
  const unesc = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const pts = fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => unesc(l.split(" ")[4]))
    .filter((p) => p === dir || p.startsWith(dir + "/"));
  return [...new Set(pts)].sort((a, b) => b.length - a.length);
}

function countEntries(dir, filter = () => true) {
  try {
    return fs.readdirSync(dir).filter(filter).length;
  } catch {
    return 0;
  }
}

// ------------------------------------------------------------------ engines

class Engine {
  constructor(name, dir) {
    this.name = name; // "pier" | "docker"
    this.dir = dir;
    this.sock = path.join(dir, `${name}.sock`);
    this.dataRoot = path.join(dir, "data");
    this.execRoot = path.join(dir, "run");
    this.logFile = path.join(dir, name === "pier" ? "pierd.log" : "dockerd.log");
    this.child = undefined;
    this.exited = false;
    this.exitInfo = "";
    this.version = "";
    this.problems = []; // leaks and faults seen around the run
  }
  get host() {
    return `unix://${this.sock}`;
  }
  env(extra = {}) {
    return { ...process.env, DOCKER_HOST: this.host, ...extra };
  }
  docker(args, timeoutS = 120) {
    return run("docker", args, { env: this.env(), timeoutS });
  }
  /** Regexes lib.sh uses to pick this engine's daemon and per-container helper processes. */
  procRes() {
    const d = reEscape(this.dir);
    if (this.name === "pier") {
      return { DAEMON_RE: "^node$", DAEMON_ARGS_RE: `pierd\\.js .*${d}`, HELPER_RE: "^(pier-monitor|conmon)$", HELPER_ARGS_RE: reEscape(this.execRoot) };
    }
    return {
      DAEMON_RE: "^(dockerd|containerd)$",
      DAEMON_ARGS_RE: d,
      HELPER_RE: "^(containerd-shim|docker-proxy)$",
      HELPER_ARGS_RE: `-namespace moby.*${d}|docker-proxy.*${d}`,
    };
  }

  async start() {
    fs.mkdirSync(this.dir, { recursive: true });
    const cfg = path.join(this.dir, "daemon.json");
    fs.writeFileSync(cfg, "{}\n"); // keep /etc/pier/daemon.json and /etc/docker/daemon.json out of it
    this.spawnDaemon(cfg);
    const deadline = Date.now() + ENGINE_START_TIMEOUT_S * 1000;
    while (Date.now() < deadline && !this.exited) {
      const r = await this.docker(["version", "--format", "{{.Server.Version}}"], 10);
      if (r.code === 0 && r.stdout.trim()) {
        this.version = r.stdout.trim();
        log(`${this.name} ${this.version} answers on ${this.host} (pid ${this.child.pid})`);
        return true;
      }
      await sleep(250);
    }
    const why = this.exited ? `it exited (${this.exitInfo})` : `no answer within ${ENGINE_START_TIMEOUT_S}s`;
    note(`ERROR: ${this.name} could not be started: ${why}; last log lines:\n${tail(this.logFile, 10)}`);
    return false;
  }

  /**
   * Stop the daemon alone with `signal` (its containers keep running: pierd never stops them)
   * and start it again on the same dirs; resolves with the moment the new process was spawned.
   */
  async restartDaemon(signal) {
    const old = this.child;
    const gone = new Promise((r) => (old.exitCode !== null || old.signalCode !== null ? r() : old.once("exit", r)));
    process.kill(old.pid, signal); // the pid, not the group: conmon must survive, as in real life
    await gone;
    const t0 = performance.now();
    this.spawnDaemon(path.join(this.dir, "daemon.json"));
    return t0;
  }

  spawnDaemon(cfg) {
    const logFd = fs.openSync(this.logFile, "a");
    let cmd, args;
    if (this.name === "pier") {
      cmd = path.join(ROOT, "bin", "pierd.js"); // its #! line carries pierd's V8 flags
      // The same network as the dockerd below: no bridge, so containers get a namespace with
      // loopback only. (Pier's default bridge once did only that; since it is a real bridge,
      // Pier ran these with networking and dockerd without. scripts/bench-net.mjs compares
      // the two engines' networking itself.) It also leaves no bridge or rules behind.
      args = ["-H", this.host, "--data-root", this.dataRoot, "--exec-root", this.execRoot, "--config-file", cfg, "--bridge", "none"];
    } else {
      cmd = "dockerd";
      args = [
        "-H", this.host, "--data-root", this.dataRoot, "--exec-root", this.execRoot,
        "--pidfile", path.join(this.dir, "dockerd.pid"), "--config-file", cfg,
        // leave the host network alone: no docker0, no iptables rules; containers still get their
        // own network namespace with loopback only, as Pier's default network does today
        "--bridge=none", "--iptables=false", "--ip-masq=false",
      ];
    }
    log(`starting ${this.name}: ${cmd} ${args.join(" ")}`);
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", logFd, logFd] });
    fs.closeSync(logFd);
    this.child = child;
    this.exited = false;
    // Only the current process's end counts (a restarted daemon's old process ends on purpose).
    child.on("exit", (code, sig) => {
      if (this.child !== child) return;
      this.exited = true;
      this.exitInfo = sig ? `signal ${sig}` : `exit code ${code}`;
    });
    child.on("error", (err) => {
      if (this.child !== child) return;
      this.exited = true;
      this.exitInfo = String(err);
    });
  }

  async loadImage(tar) {
    const l = await this.docker(["load", "-i", tar], 300);
    if (l.code !== 0) return `docker load failed: ${(l.stderr || l.stdout).trim()}`;
    const m = /Loaded image: (\S+)/.exec(l.stdout);
    const loaded = m ? m[1] : "busybox:latest";
    if (loaded !== IMAGE) {
      const t = await this.docker(["tag", loaded, IMAGE], 60);
      if (t.code !== 0) return `docker tag ${loaded} ${IMAGE} failed: ${t.stderr.trim()}`;
    }
    const i = await this.docker(["image", "inspect", IMAGE], 60);
    if (i.code !== 0) return `image ${IMAGE} not found after load+tag: ${i.stderr.trim()}`;
    return "";
  }

  /** Containers left behind by the scripts, then leaks seen from outside (before the stop). */
  async checkAfterRun() {
    const ps = await this.docker(["ps", "-a", "--format", "{{.ID}} {{.Status}} {{.Labels}}"], 60);
    const left = ps.stdout.trim().split("\n").filter(Boolean);
    if (ps.code !== 0) this.problems.push(`\`docker ps -a\` failed after the run: ${ps.stderr.trim()}`);
    if (left.length) {
      this.problems.push(`${left.length} container(s) left in the engine after the scripts (they remove theirs): ${left.slice(0, 3).join("; ")}`);
      const ids = left.map((l) => l.split(" ")[0]);
      const rm = await this.docker(["rm", "-f", ...ids], 300);
      if (rm.code !== 0) this.problems.push(`\`docker rm -f\` of the leftovers failed: ${rm.stderr.trim()}`);
    }
    // with no container left, no per-container helper or mount should remain
    await sleep(1000);
    const helpers = processesMentioning(this.execRoot).filter((p) => /^(pier-monitor|conmon|containerd-shim|runc)/.test(p.comm));
    if (helpers.length) this.problems.push(`${helpers.length} helper process(es) still alive with 0 containers: ${helpers.slice(0, 3).map((p) => `${p.pid} ${p.comm}`).join(", ")}`);
    const mounts = mountsUnder(this.dir);
    if (this.name === "pier" && mounts.length) this.problems.push(`${mounts.length} mount(s) under the engine dirs with 0 containers: ${mounts.slice(0, 3).join(", ")}`);
    if (this.name === "pier") {
      const runcRoot = path.join(this.execRoot, "runc");
      const bundles = countEntries(path.join(this.execRoot, "containers"));
      const states = countEntries(runcRoot);
      const exits = countEntries(path.join(this.execRoot, "exits"));
      const records = countEntries(path.join(this.dataRoot, "containers", "_meta"));
      const ctrDirs = countEntries(path.join(this.dataRoot, "containers"), (n) => n !== "_meta");
      if (bundles) this.problems.push(`${bundles} bundle dir(s) left in <exec-root>/containers after every container was removed`);
      if (states) this.problems.push(`${states} runc state dir(s) left in <exec-root>/runc after every container was removed`);
      if (exits) this.problems.push(`${exits} exit file(s) left in <exec-root>/exits after every container was removed`);
      if (records) this.problems.push(`${records} container record(s) left in <data-root>/containers/_meta after every container was removed`);
      if (ctrDirs) this.problems.push(`${ctrDirs} container dir(s) left in <data-root>/containers after every container was removed`);
      const rss = rssMiB(this.child?.pid);
      if (rss !== undefined) this.finalRss = rss;
    }
  }

  async stop() {
    if (!this.child) return;
    if (!this.exited) {
      killGroup(this.child.pid, "SIGTERM");
      const deadline = Date.now() + ENGINE_STOP_TIMEOUT_S * 1000;
      while (!this.exited && Date.now() < deadline) await sleep(100);
      if (!this.exited) {
        this.problems.push(`${this.name} did not exit within ${ENGINE_STOP_TIMEOUT_S}s of SIGTERM; killed`);
        killGroup(this.child.pid, "SIGKILL");
        const d2 = Date.now() + 5000;
        while (!this.exited && Date.now() < d2) await sleep(100);
      }
    }
    // dockerd stops its containerd; pierd leaves containers running by design, but none should be
    // left at this point. Anything still mentioning our dirs is a leak: report it, then end it.
    const deadline = Date.now() + 10000;
    let procs = processesMentioning(this.dir);
    while (procs.length && Date.now() < deadline) {
      await sleep(250);
      procs = processesMentioning(this.dir);
    }
    if (this.name === "pier" && hasCmd("runc")) {
      const runcRoot = path.join(this.execRoot, "runc");
      const l = await run("runc", ["--root", runcRoot, "list", "-q"], { timeoutS: 20 });
      const ids = l.code === 0 ? l.stdout.trim().split("\n").filter(Boolean) : [];
      if (ids.length) {
        this.problems.push(`${ids.length} runc container(s) still exist after pierd stopped: ${ids.slice(0, 3).join(", ")}`);
        for (const id of ids) await run("runc", ["--root", runcRoot, "delete", "--force", id], { timeoutS: 20 });
      }
    }
    procs = processesMentioning(this.dir);
    if (procs.length) {
      this.problems.push(`${procs.length} process(es) still alive after ${this.name} stopped: ${procs.slice(0, 3).map((p) => `${p.pid} ${p.comm}`).join(", ")}`);
      for (const p of procs) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
  }

  async removeDirs() {
    if (this.removed) return;
    this.removed = true;
    let mounts = mountsUnder(this.dir);
    if (mounts.length) {
      this.problems.push(`${mounts.length} mount(s) left under the engine dirs after ${this.name} stopped: ${mounts.slice(0, 3).join(", ")}`);
      for (const m of mounts) await run("umount", [m], { timeoutS: 30 });
      mounts = mountsUnder(this.dir);
      for (const m of mounts) await run("umount", ["-l", m], { timeoutS: 30 });
      mounts = mountsUnder(this.dir);
    }
    const keep = process.env.BENCH_KEEP_LOGS;
    if (keep && fs.existsSync(this.logFile)) {
      fs.mkdirSync(keep, { recursive: true });
      fs.copyFileSync(this.logFile, path.join(keep, path.basename(this.logFile)));
    }
    if (mounts.length) {
      note(`WARNING: ${this.dir} not removed: still mounted: ${mounts.join(", ")}`);
      return;
    }
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** Error lines of the daemon's own log (pierd: JSON lines; dockerd: level=error). */
  logErrors() {
    let text = "";
    try {
      text = fs.readFileSync(this.logFile, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter((l) => (this.name === "pier" ? /"level":"(error|fatal)"/.test(l) || (l && !l.startsWith("{")) : /level=(error|fatal)/.test(l)));
  }
}

const loadavg = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

function rssMiB(pid) {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

// ------------------------------------------------------------------ scripts

/** "SUMMARY bench engine=x k=v ..." -> { bench, kv } */
function parseSummary(line) {
  const m = /SUMMARY (\S+) (.*)$/.exec(line);
  if (!m) return undefined;
  const kv = {};
  for (const t of m[2].matchAll(/(?:^|\s)([A-Za-z0-9_]+)=(\S+)/g)) if (!(t[1] in kv)) kv[t[1]] = t[2];
  return { bench: m[1], kv, line: line.replace(/^\S+Z (?=SUMMARY)/, "") };
}

async function runScript(engine, script, resultsFile, benchTmp) {
  if (script === "daemon-restart") return daemonRestart(engine, resultsFile);
  const file = path.join(OWN_SCRIPTS.has(script) ? OWN : SHARED, `${script}.sh`);
  const env = engine.env({ RESULTS_FILE: resultsFile, BENCH_TMP: benchTmp, BENCH_SHARED: SHARED, IMAGE, ...engine.procRes() });
  log(`=== ${engine.name}: ${script}.sh (load ${loadavg()})`);
  const prefix = `  [${engine.name} ${script}] `;
  let partial = "";
  const r = await run("bash", [file], {
    env,
    timeoutS: SCRIPT_TIMEOUT_S,
    onStderr: (b) => {
      partial += b.toString();
      const lines = partial.split("\n");
      partial = lines.pop();
      for (const l of lines) process.stderr.write(prefix + l + "\n");
    },
  });
  if (partial) process.stderr.write(prefix + partial + "\n");
  const line = r.stdout.split("\n").find((l) => l.startsWith("SUMMARY "));
  if (line) console.error(line);
  if (r.code !== 0 || !line) {
    const why = r.timedOut ? `timed out after ${SCRIPT_TIMEOUT_S}s` : `exit ${r.code}`;
    const last = r.stderr.trim().split("\n").slice(-2).join(" / ");
    engine.problems.push(`${script}.sh failed (${why}): ${last}`);
    return { bench: script, failed: `${why}: ${last}`, kv: line ? parseSummary(line).kv : {} };
  }
  return parseSummary(line);
}

// ------------------------------------------------------------------ daemon-restart

/** GET over the engine's socket; the parsed JSON body, or undefined while it does not answer. */
function apiGet(engine, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: engine.sock, path: urlPath }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        try {
          resolve(res.statusCode === 200 ? JSON.parse(body) : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("error", () => resolve(undefined));
  });
}

/**
 * Pier's own: RESTART_N running containers; the daemon is killed (kill -9, then SIGTERM in the
 * last round) and started again; timed from the new process's spawn until GET /containers/json
 * (what `docker ps` asks) lists all of them running. Target: under 1 s. Pier only: dockerd as
 * the bench starts it has no --live-restore, so its containers would not survive.
 */
async function daemonRestart(engine, resultsFile) {
  if (engine.name !== "pier") return undefined;
  const n = Number(process.env.RESTART_N || 100);
  const rounds = Number(process.env.RESTART_ROUNDS || 3);
  const lbl = "docker-bench=daemon-restart";
  const list = `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [lbl], status: ["running"] }))}`;
  log(`=== ${engine.name}: daemon-restart (${n} containers, ${rounds} rounds; load ${loadavg()})`);
  let failed = 0;
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, () => engine.docker(["run", "-d", "--label", lbl, IMAGE, "sleep", "86400"], 120));
    failed += (await Promise.all(batch)).filter((r) => r.code !== 0).length;
  }
  const running = (await apiGet(engine, list))?.length ?? 0;
  const times = { SIGKILL: [], SIGTERM: [] };
  let lost = 0;
  for (let r = 0; r < rounds && running === n; r++) {
    const signal = r === rounds - 1 ? "SIGTERM" : "SIGKILL";
    const t0 = await engine.restartDaemon(signal);
    let seen = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !engine.exited) {
      seen = (await apiGet(engine, list))?.length ?? 0;
      if (seen === n) break;
      await sleep(5);
    }
    if (seen !== n) {
      lost = n - seen;
      break;
    }
    times[signal].push((performance.now() - t0) / 1000);
  }
  const ids = (await engine.docker(["ps", "-aq", "--filter", `label=${lbl}`], 60)).stdout.split("\n").filter(Boolean);
  if (ids.length) await engine.docker(["rm", "-f", ...ids], 300);
  const med = (a) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)].toFixed(3) : "NA");
  const all = [...times.SIGKILL, ...times.SIGTERM];
  const line = `SUMMARY daemon-restart engine=${engine.name}-${engine.version} containers=${n} run_failures=${failed} running_before=${running} lost_after=${lost} restart_s=${med(all)} kill9_s=${med(times.SIGKILL)} term_s=${med(times.SIGTERM)} (all: [${all.map((t) => t.toFixed(3)).join(" ")}])`;
  console.error(line);
  fs.appendFileSync(resultsFile, `${new Date().toISOString().replace(/\.\d+Z$/, "Z")} ${line}\n`);
  const parsed = parseSummary(line);
  if (failed || running !== n || lost || engine.exited) {
    const why = engine.exited ? `pierd died (${engine.exitInfo})` : `${failed} run failures, ${running}/${n} running before, ${lost} lost after a restart`;
    engine.problems.push(`daemon-restart failed: ${why}`);
    return { ...parsed, failed: why };
  }
  return parsed;
}

// ------------------------------------------------------------------ report

const num = (v) => (v === undefined || v === "NA" || v === "" || Number.isNaN(Number(v)) ? undefined : Number(v));
const fmt = (v, d = 1) => (v === undefined ? "—" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 }));

function buildRows(res) {
  // res: { pier: {bench: summary}, docker: {bench: summary} }
  const g = (eng, bench, key) => res[eng]?.[bench]?.kv?.[key];
  const have = (eng, bench) => res[eng]?.[bench] && !res[eng][bench].failed;
  const cell = (eng, bench, f) => {
    if (!res[eng]) return "not run";
    if (!res[eng][bench]) return "skipped";
    if (res[eng][bench].failed) return "FAILED";
    return f(eng);
  };
  const rows = [];
  // rel: target for Pier relative to Docker ("le" Pier <= k*Docker; "ge" Pier >= k*Docker); abs: Pier vs a constant
  const add = (figure, bench, show, target) => (res.pier?.[bench] || res.docker?.[bench]) && rows.push({ figure, bench, pier: cell("pier", bench, show), docker: cell("docker", bench, show), target });

  const runMs = (e) => `${fmt(g(e, "run-latency", "median_ms"))} (${fmt(g(e, "run-latency", "min_ms"))}–${fmt(g(e, "run-latency", "max_ms"))})` + fails(g(e, "run-latency", "failures"));
  const fails = (n) => (num(n) ? `, ${n} failed` : "");
  add("run --rm true, median ms (min–max)", "run-latency", runMs, { rel: "le", k: 0.5, key: ["run-latency", "median_ms"] });
  const bad = (e, b, k, want) => (num(g(e, b, k)) !== undefined && num(g(e, b, k)) !== want ? ` (${k}=${g(e, b, k)})` : "");
  const N = Number(process.env.N || 50);
  add(`${N} × run -d, sequential, s`, "start-many", (e) => fmt(g(e, "start-many", "seq_start_s"), 3) + fails(g(e, "start-many", "seq_fail")) + bad(e, "start-many", "seq_running", N), { rel: "le", k: 0.4, key: ["start-many", "seq_start_s"] });
  add(`${N} × run -d, ${process.env.PAR || 10} concurrent, s`, "start-many", (e) => fmt(g(e, "start-many", "par_start_s"), 3) + fails(g(e, "start-many", "par_fail")) + bad(e, "start-many", "par_running", N), undefined);
  add(`rm -f of ${N} (after seq / after par), s`, "start-many", (e) => `${fmt(g(e, "start-many", "seq_rm_s"), 3)} / ${fmt(g(e, "start-many", "par_rm_s"), 3)}`, undefined);
  add("daemon RSS idle, MiB", "start-many", (e) => fmt(g(e, "start-many", "idle_daemon_rss_mib")), { abs: "le", v: 52, unit: "MiB", key: ["start-many", "idle_daemon_rss_mib"] });
  add(`daemon RSS with ${N} running / after rm, MiB`, "start-many", (e) => `${fmt(g(e, "start-many", "seq_daemon_rss_mib"))} / ${fmt(g(e, "start-many", "after_rm_daemon_rss_mib"))}`, undefined);
  const perHelper = (e) => {
    const r = num(g(e, "start-many", "seq_helper_rss_mib"));
    const n = num(g(e, "start-many", "seq_helpers"));
    return r !== undefined && n ? `${fmt(r / n, 2)} (${n} procs)` : "—";
  };
  add("helper RSS per container (pier-monitor / shim), MiB", "start-many", perHelper, undefined);
  add("per-container RSS overhead, MiB (seq / par)", "start-many", (e) => `${g(e, "start-many", "seq_per_ctr_rss_mib") ?? "—"} / ${g(e, "start-many", "par_per_ctr_rss_mib") ?? "—"}`, { abs: "le", v: 2, unit: "MiB", key: ["start-many", "seq_per_ctr_rss_mib", "par_per_ctr_rss_mib"] });
  add("per-container PSS overhead, MiB (seq / par)", "start-many", (e) => `${g(e, "start-many", "seq_per_ctr_pss_mib") ?? "—"} / ${g(e, "start-many", "par_per_ctr_pss_mib") ?? "—"}`, undefined);
  add("per-container system memory used, MiB (seq / par, noisy)", "start-many", (e) => `${g(e, "start-many", "seq_per_ctr_sysused_mib") ?? "—"} / ${g(e, "start-many", "par_per_ctr_sysused_mib") ?? "—"}`, undefined);
  const api = (ep) => (e) => {
    const errs = (num(g(e, "api-latency", `${ep}_non2xx`)) || 0) + (num(g(e, "api-latency", `${ep}_errors`)) || 0);
    return `${fmt(g(e, "api-latency", `${ep}_rps`))}; p50 ${g(e, "api-latency", `${ep}_p50_ms`) ?? "—"}, p99 ${g(e, "api-latency", `${ep}_p99_ms`) ?? "—"} ms` + (errs ? `; ${errs} non-2xx/errors` : "");
  };
  const conns = process.env.CONNS || 10;
  add(`GET /containers/json (${N}), c=${conns}: req/s; p50, p99`, "api-latency", api("list"), { rel: "ge", k: 2, key: ["api-latency", "list_rps"] });
  add(`GET /containers/{id}/json, c=${conns}: req/s; p50, p99`, "api-latency", api("inspect"), { rel: "ge", k: 1, key: ["api-latency", "inspect_rps"] });
  add(`GET /_ping, c=${conns}: req/s; p50, p99`, "api-latency", api("ping"), { rel: "ge", k: 1, key: ["api-latency", "ping_rps"] });
  for (const ep of ["ping", "list", "inspect"]) {
    add(`c=1 probe p50 / p99 µs: ${ep}`, "api-latency", (e) => `${fmt(g(e, "api-latency", `${ep}_c1_p50_us`))} / ${fmt(g(e, "api-latency", `${ep}_c1_p99_us`))}`, undefined);
  }
  const lines = process.env.LINES || 100000;
  add(`docker logs of ${Number(lines).toLocaleString("en-US")} lines, s (median)`, "logs", (e) => fmt(g(e, "logs", "logs_s"), 3) + (g(e, "logs", "lines_read") !== String(lines) ? ` (read ${g(e, "logs", "lines_read")} lines!)` : ""), { rel: "le", k: 0.5, key: ["logs", "logs_s"] });
  add(`run to exit of \`seq 1 ${lines}\`, s`, "logs", (e) => fmt(g(e, "logs", "run_to_exit_s"), 3), undefined);
  add("docker exec <ctr> true, median ms (min–max)", "exec-latency", (e) => `${fmt(g(e, "exec-latency", "median_ms"))} (${fmt(g(e, "exec-latency", "min_ms"))}–${fmt(g(e, "exec-latency", "max_ms"))})` + fails(g(e, "exec-latency", "failures")), { rel: "le", k: 0.5, key: ["exec-latency", "median_ms"] });
  const rn = process.env.RESTART_N || 100;
  add(`daemon restart until ps lists ${rn} running, s (median; kill -9 / SIGTERM)`, "daemon-restart", (e) => `${fmt(g(e, "daemon-restart", "restart_s"), 3)} (${fmt(g(e, "daemon-restart", "kill9_s"), 3)} / ${fmt(g(e, "daemon-restart", "term_s"), 3)})`, { abs: "le", v: 1, unit: "s", key: ["daemon-restart", "restart_s"] });
  for (const b of ["image-ops", "build", "registry"]) {
    if (!res.pier?.[b] && !res.docker?.[b]) continue;
    const keys = { "image-ops": ["build_s", "save_s", "rmi_s", "load_s"], build: ["legacy_cold_s", "legacy_cached_s"], registry: ["push_s", "pull_s"] }[b];
    for (const k of keys) add(`${b}: ${k}`, b, (e) => fmt(g(e, b, k), 3), undefined);
  }

  // verdicts
  for (const r of rows) {
    const t = r.target;
    if (!t) {
      r.targetText = "";
      r.result = "";
      continue;
    }
    const [bench, ...keys] = t.key;
    if (t.abs) {
      r.targetText = `≤ ${t.v} ${t.unit}`;
      if (!have("pier", bench)) {
        r.result = "n/a";
        continue;
      }
      const vals = keys.map((k) => num(g("pier", bench, k)));
      if (vals.some((v) => v === undefined)) {
        r.result = "n/a";
        continue;
      }
      const worst = Math.max(...vals);
      r.result = worst <= t.v ? "PASS" : "MISS";
      continue;
    }
    r.targetText = t.rel === "le" ? `≤ ${t.k}× Docker` : t.k === 1 ? "≥ Docker" : `≥ ${t.k}× Docker`;
    const p = num(g("pier", bench, keys[0]));
    const d = num(g("docker", bench, keys[0]));
    if (!have("pier", bench) || p === undefined) {
      r.result = "n/a";
      continue;
    }
    if (!have("docker", bench) || d === undefined || d === 0) {
      r.result = "n/a (no Docker figure)";
      continue;
    }
    const ratio = p / d;
    const ok = t.rel === "le" ? ratio <= t.k : ratio >= t.k;
    r.result = `${ok ? "PASS" : "MISS"} (${fmt(ratio, 2)}×)`;
  }
  // a figure whose correctness check failed is not a pass
  const invalid = (r) => /failed|!|non-2xx|_running=/.test(r.pier);
  for (const r of rows) if (r.result.startsWith("PASS") && invalid(r)) r.result = r.result.replace("PASS", "MISS") + " (invalid run)";
  return rows;
}

function table(rows) {
  const head = ["figure", "Pier", "Docker", "target", "result"];
  const data = rows.map((r) => [r.figure, r.pier, r.docker, r.targetText, r.result]);
  const w = head.map((h, i) => Math.max(h.length, ...data.map((d) => d[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(" | ")} |`;
  return [line(head), `| ${w.map((n) => "-".repeat(n)).join(" | ")} |`, ...data.map(line)].join("\n");
}

// ------------------------------------------------------------------ main

/** rm -rf of the scratch root, never across a mount point. */
function removeTmpRoot() {
  if (!tmpRoot || !fs.existsSync(tmpRoot)) return;
  const m = mountsUnder(tmpRoot);
  if (m.length) {
    console.error(`bench: ${tmpRoot} left in place: still mounted: ${m.join(", ")}`);
    return;
  }
  fs.rmSync(tmpRoot, { recursive: true, force: true, maxRetries: 3 });
}

let engines = [];
let tmpRoot;
let interrupted = false;
const halt = () => new Promise(() => {}); // the signal handler cleans up and exits

async function cleanupAll() {
  for (const c of current) killGroup(c.pid, "SIGKILL");
  for (const e of engines) {
    try {
      if (e.removed) continue;
      if (e.child && !e.exited) {
        // remove containers first: pierd keeps them running when it stops
        const ids = (await e.docker(["ps", "-aq"], 30)).stdout.split("\n").filter(Boolean);
        if (ids.length) await e.docker(["rm", "-f", ...ids], 120);
      }
      await e.stop();
      await e.removeDirs();
    } catch (err) {
      log(`cleanup of ${e.name} failed: ${err}`);
    }
  }
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping the engines and removing their dirs`);
    cleanupAll().finally(() => {
      removeTmpRoot();
      process.exit(130);
    });
  });
}

/** Pier's own network benchmarks (scripts/bench-net.mjs): run first, with their own engines. */
const NET_SCRIPTS = ["net-run", "net-throughput"];

function runNetBenchmarks() {
  const only = (process.env.BENCH_ONLY || "").split(",").map((s) => s.trim()).filter(Boolean);
  const net = only.length ? only.filter((s) => NET_SCRIPTS.includes(s)) : NET_SCRIPTS;
  if (only.length) process.env.BENCH_ONLY = only.filter((s) => !NET_SCRIPTS.includes(s)).join(",");
  if (!net.length) return { ran: false, code: 0 };
  log(`network benchmarks: ${net.join(", ")} (scripts/bench-net.mjs)`);
  const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "bench-net.mjs")], { stdio: "inherit", env: { ...process.env, BENCH_NET: net.join(",") } });
  if (r.status !== 0) note(`network benchmarks failed (exit ${r.status}); see the output above`);
  return { ran: true, code: r.status ?? 1, onlyNet: only.length > 0 && !process.env.BENCH_ONLY };
}

async function main() {
  const netRun = process.getuid?.() === 0 ? runNetBenchmarks() : { ran: false, code: 0 };
  if (netRun.onlyNet) return netRun.code;
  if (!fs.existsSync(path.join(SHARED, "lib.sh"))) {
    console.log(`bench: the shared benchmark scripts are not at ${SHARED} (clone shared/ beside the project, or set BENCH_SHARED); nothing to do.`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error("bench: must run as root (pierd and dockerd run containers)");
    return 1;
  }
  const missing = ["docker", "curl", "jq", "ss", "runc"].filter((c) => !hasCmd(c));
  if (missing.length) {
    console.error(`bench: missing commands: ${missing.join(", ")} (docker CLI at /usr/local/bin/docker; apt-get install -y curl jq iproute2 runc)`);
    return 1;
  }

  let scripts = DEFAULT_SCRIPTS;
  if (process.env.BENCH_ONLY) {
    scripts = process.env.BENCH_ONLY.split(",").map((s) => s.trim().replace(/\.sh$/, "")).filter(Boolean);
    const unknown = scripts.filter((s) => !ALL_SCRIPTS.includes(s));
    if (unknown.length) {
      console.error(`bench: unknown script(s) in BENCH_ONLY: ${unknown.join(", ")} (known: ${ALL_SCRIPTS.join(", ")})`);
      return 1;
    }
    scripts = ALL_SCRIPTS.filter((s) => scripts.includes(s));
  }
  for (const [s, what] of Object.entries(NEEDS_MISSING)) {
    if (!scripts.includes(s) && !process.env.BENCH_ONLY) note(`${s}.sh skipped: ${what} (name it in BENCH_ONLY to run it anyway)`);
  }
  if (scripts.includes("api-latency") && !hasCmd(process.env.AUTOCANNON || "autocannon")) {
    if (process.env.BENCH_NO_INSTALL) {
      note("api-latency.sh skipped: autocannon is not installed (BENCH_NO_INSTALL set)");
      scripts = scripts.filter((s) => s !== "api-latency");
    } else {
      log(`autocannon missing: npm i -g ${AUTOCANNON_SPEC}`);
      const r = await run("npm", ["i", "-g", AUTOCANNON_SPEC], { timeoutS: 300 });
      const v = r.code === 0 ? await run("autocannon", ["--version"], { timeoutS: 30 }) : r;
      if (r.code !== 0 || v.code !== 0) {
        note(`api-latency.sh skipped: autocannon could not be installed: ${(r.stderr || v.stderr).trim().split("\n").slice(-2).join(" / ")}`);
        scripts = scripts.filter((s) => s !== "api-latency");
      } else log(`autocannon ${v.stdout.trim().split("\n")[0]} installed`);
    }
  }

  let wanted = (process.env.BENCH_ENGINES || "pier,docker").split(",").map((s) => s.trim());
  if (wanted.includes("docker") && !hasCmd("dockerd")) {
    note("Docker not measured: dockerd is not installed (apt-get install -y docker.io)");
    wanted = wanted.filter((e) => e !== "docker");
  }

  tmpRoot = fs.mkdtempSync("/var/tmp/pier-bench-");
  const tar = path.join(tmpRoot, "busybox.tar");
  const mk = await run(process.execPath, [path.join(ROOT, "dist", "scripts", "make-busybox-image.js"), "-o", tar], { timeoutS: 120 });
  if (mk.code !== 0) {
    console.error(`bench: making the busybox image failed (did the build run?): ${mk.stderr.trim()}`);
    fs.rmSync(tmpRoot, { recursive: true, force: true });
    return 1;
  }

  const results = {};
  const raw = [];
  let engineFailed = false;
  const started = new Date();
  for (const name of wanted) {
    const e = new Engine(name, path.join(tmpRoot, name));
    engines.push(e);
    if (!(await e.start())) {
      engineFailed = true;
      await e.stop();
      await e.removeDirs();
      continue;
    }
    const err = await e.loadImage(tar);
    if (err) {
      note(`ERROR: ${name}: ${err}`);
      engineFailed = true;
    } else {
      results[name] = {};
      const resultsFile = path.join(tmpRoot, `results-${name}.txt`);
      const benchTmp = path.join(tmpRoot, "bench-tmp");
      const load0 = loadavg();
      for (const s of scripts) {
        if (interrupted) await halt();
        if (e.exited) break;
        results[name][s] = await runScript(e, s, resultsFile, benchTmp);
        if (e.exited) {
          note(`ERROR: ${name} died during ${s}.sh (${e.exitInfo}); last log lines:\n${tail(e.logFile, 10)}`);
          engineFailed = true;
        }
      }
      try {
        raw.push(...fs.readFileSync(resultsFile, "utf8").split("\n").filter((l) => l.includes("SUMMARY")));
      } catch {
        /* no results */
      }
      if (interrupted) await halt();
      note(`load average (1/5/15 min) while ${name} ran: ${load0} at the start, ${loadavg()} at the end (other work on the machine skews the figures)`);
      if (!e.exited) await e.checkAfterRun();
    }
    // a load generator that closes its connections mid-response makes both daemons log write
    // errors: counted apart from real faults
    const daemon = name === "pier" ? "pierd" : "dockerd";
    const all = e.logErrors();
    const benign = all.filter((l) => /broken pipe|connection reset by peer|EPIPE|ECONNRESET/.test(l));
    const errs = all.filter((l) => !benign.includes(l));
    if (benign.length) note(`${daemon} log: ${benign.length} error line(s) about clients that hung up (broken pipe / reset, from autocannon stopping), e.g. ${benign[0].slice(0, 200)}`);
    if (errs.length) e.problems.push(`${errs.length} error line(s) in the ${daemon} log, e.g. ${errs.slice(0, 3).map((l) => l.slice(0, 300)).join(" | ")}`);
    await e.stop();
    await e.removeDirs();
    if (e.finalRss !== undefined) note(`pierd RSS at the end of the run (0 containers): ${fmt(e.finalRss)} MiB`);
  }
  removeTmpRoot();
  if (interrupted) return 130;

  const rows = buildRows(results);
  const tbl = table(rows);
  const versions = engines.filter((e) => e.version).map((e) => `${e.name === "pier" ? "Pier" : "Docker Engine"} ${e.version}`).join(" vs ");
  const cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8")) || [])[1] || "?";
  const machine = `${os.cpus().length} vCPU ${cpu.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, kernel ${os.release()}, Node ${process.version}`;
  const problems = engines.flatMap((e) => e.problems.map((p) => `- ${e.name}: ${p}`));
  const ran = Object.keys(results).length > 0;

  console.log(`\n${versions}; ${machine}\n`);
  console.log(tbl);
  if (notes.length) console.log(`\nNotes:\n${notes.map((n) => `- ${n}`).join("\n")}`);
  if (problems.length) console.log(`\nProblems seen:\n${problems.join("\n")}`);
  else if (ran) console.log("\nProblems seen: none (no leftover containers, processes or mounts; no error lines in the daemon logs)");

  const stamp = started.toISOString().slice(0, 10);
  const outDir = path.join(ROOT, "bench", "results");
  fs.mkdirSync(outDir, { recursive: true });
  let out = path.join(outDir, `${stamp}.md`);
  if (fs.existsSync(out)) out = path.join(outDir, `${stamp}-${started.toISOString().slice(11, 19).replace(/:/g, "")}.md`);
  const md = [
    `# Benchmarks ${started.toISOString().replace(/\.\d+Z$/, "Z")}`,
    "",
    `${versions}, one after the other on ${machine}. Made by \`npm run bench\` (scripts/bench.mjs) with the shared scripts in ../shared/bench; scripts: ${scripts.join(", ")}.`,
    "Both engines ran on their own socket, data root and exec root under /var/tmp; dockerd with `--bridge=none --iptables=false --ip-masq=false` and pierd with `--bridge none` (containers get a network namespace with loopback only on both; scripts/bench-net.mjs compares networking); image: the offline busybox image (`make-busybox-image.js`) loaded into both and tagged `busybox:local`.",
    "",
    tbl,
    "",
    notes.length ? `## Notes\n\n${notes.map((n) => `- ${n.replace(/\n/g, "\n  ")}`).join("\n")}\n` : "",
    problems.length ? `## Problems seen\n\n${problems.join("\n")}\n` : ran ? "## Problems seen\n\nNone: no leftover containers, processes or mounts; no error lines in the daemon logs.\n" : "",
    "## SUMMARY lines",
    "",
    "```",
    ...raw,
    "```",
    "",
  ].join("\n");
  fs.writeFileSync(out, md);
  console.log(`\nwritten to ${path.relative(ROOT, out)}`);
  return engineFailed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`bench: ${err?.stack || err}`);
    await cleanupAll();
    removeTmpRoot();
    process.exit(1);
  },
);
