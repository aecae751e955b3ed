#!/usr/bin/env node
// Pier's own networking benchmarks, side by side with Docker (`npm run bench` runs them when
// BENCH_ONLY names them; or run this file directly as root):
//   net-run         what networking adds to `docker run --rm busybox true`: the median on the
//                   default bridge minus the median with --network none (runs interleaved)
//   net-throughput  TCP throughput container→container on the default bridge, and host→published
//                   port through 127.0.0.1 and through the host's own address
// Throughput is measured with the same small Node sender/receiver for both engines, run on the
// host inside the containers' network namespaces with nsenter (busybox has no iperf), so only
// the engines' network paths differ.
//
// Each engine runs privately: pierd from bin/pierd.js with temporary roots; dockerd with its own
// socket, data root, exec root, pidfile and its own bridge (--bridge pnbdk0, 10.202.0.1/24, made
// here and removed after), so neither clashes with Pier's bridges or another dockerd.
//
// Env: BENCH_NET=net-run,net-throughput  BENCH_ENGINES=pier,docker  RUNS=15 (net-run per mode)
//      TP_RUNS=5  TP_MIB=1024 (per throughput run)  NET_BENCH_PIER_HOST / NET_BENCH_DOCKER_HOST
//      (use an engine already running on that socket instead of starting one)
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(new URL("..", import.meta.url).pathname);
const DOCKER = process.env.DOCKER_CLI || "/usr/local/bin/docker";
const RUNS = Number(process.env.RUNS || 15);
const TP_RUNS = Number(process.env.TP_RUNS || 5);
const TP_MIB = Number(process.env.TP_MIB || 1024);
const which = (process.env.BENCH_NET || "net-run,net-throughput").split(",").map((s) => s.trim());
const engines = (process.env.BENCH_ENGINES || "pier,docker").split(",").map((s) => s.trim());
const log = (...a) => console.error(`[bench-net ${new Date().toISOString().slice(11, 19)}]`, ...a);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
function must(cmd, args, opts) {
  const r = sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ engines

async function waitFor(fn, what, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return;
    await sleep(200);
  }
  throw new Error(`${what} did not come up`);
}

function busyboxTar() {
  const tar = "/var/tmp/pier-test-busybox.tar";
  if (!fs.existsSync(tar)) must(process.execPath, [path.join(ROOT, "dist/scripts/make-busybox-image.js"), "-o", tar]);
  return tar;
}

async function startEngine(name) {
  const given = process.env[name === "pier" ? "NET_BENCH_PIER_HOST" : "NET_BENCH_DOCKER_HOST"];
  if (given) return { name, host: given, stop: async () => {} };
  const dir = fs.mkdtempSync(`/var/tmp/pier-bench-net-${name}-`);
  let child;
  let cleanup = () => {};
  let host;
  if (name === "pier") {
    host = `unix://${dir}/pier.sock`;
    child = spawn(path.join(ROOT, "bin/pierd.js"), ["-H", host, "--data-root", `${dir}/data`, "--exec-root", `${dir}/run`, "--log-level", "warn"], { stdio: ["ignore", "ignore", fs.openSync(`${dir}/pierd.log`, "a")] });
  } else {
    sh("ip", ["link", "del", "pnbdk0"]);
    must("ip", ["link", "add", "name", "pnbdk0", "type", "bridge"]);
    must("ip", ["addr", "add", "10.202.0.1/24", "dev", "pnbdk0"]);
    must("ip", ["link", "set", "pnbdk0", "up"]);
    host = `unix://${dir}/docker.sock`;
    const execRoot = `/run/pnb-${path.basename(dir).slice(-6)}`;
    child = spawn("dockerd", ["--host", host, "--data-root", `${dir}/root`, "--exec-root", execRoot, "--pidfile", `${dir}/dockerd.pid`, "--bridge", "pnbdk0", "--config-file", `${dir}/daemon.json`], {
      stdio: ["ignore", "ignore", fs.openSync(`${dir}/dockerd.log`, "a")],
      env: { ...process.env, DOCKER_HOST: "" },
    });
    fs.writeFileSync(`${dir}/daemon.json`, "{}");
    cleanup = () => {
      sh("ip", ["link", "del", "pnbdk0"]);
      fs.rmSync(execRoot, { recursive: true, force: true });
    };
  }
  const e = { name, host, dir };
  await waitFor(() => sh(DOCKER, ["version"], { env: { ...process.env, DOCKER_HOST: host } }).code === 0, name);
  must(DOCKER, ["load", "-i", busyboxTar()], { env: { ...process.env, DOCKER_HOST: host } });
  e.stop = async () => {
    const d = (args) => sh(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host } });
    const ids = d(["ps", "-aq"]).stdout.split("\n").filter(Boolean);
    if (ids.length) d(["rm", "-f", ...ids]);
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(30_000)]);
    cleanup();
    for (const m of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((m) => m?.startsWith(dir)).reverse()) sh("umount", ["-l", m]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return e;
}

function docker(e, args, opts = {}) {
  return sh(DOCKER, args, { env: { ...process.env, DOCKER_HOST: e.host }, ...opts });
}

// ------------------------------------------------------------------ net-run

function timedRun(e, extra) {
  const t0 = process.hrtime.bigint();
  const r = docker(e, ["run", "--rm", ...extra, "busybox", "true"]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`${e.name}: docker run failed: ${r.stderr.trim()}`);
  return ms;
}

function netRun(e) {
  for (let i = 0; i < 3; i++) timedRun(e, []); // warm-up (first bridge use makes it)
  const bridge = [];
  const none = [];
  for (let i = 0; i < RUNS; i++) {
    bridge.push(timedRun(e, []));
    none.push(timedRun(e, ["--network", "none"]));
  }
  return { bridge: median(bridge), none: median(none), cost: median(bridge) - median(none) };
}

// ------------------------------------------------------------------ net-throughput

const RECEIVER = `
const net = require("node:net");
const [port, total] = process.argv.slice(1).map(Number);
const srv = net.createServer((c) => {
  let n = 0;
  c.on("data", (d) => { n += d.length; if (n >= total) { c.end("ok"); } });
  c.on("error", () => {});
});
srv.listen(port, "0.0.0.0", () => process.stdout.write("ready\\n"));
`;
const SENDER = `
const net = require("node:net");
const host = process.argv[1], port = Number(process.argv[2]), total = Number(process.argv[3]);
const chunk = Buffer.alloc(1 << 20, 120);
const c = net.connect(port, host, () => {
  const t0 = process.hrtime.bigint();
  let sent = 0;
  const pump = () => { while (sent < total) { sent += chunk.length; if (!c.write(chunk)) return c.once("drain", pump); } };
  c.on("data", () => { const s = Number(process.hrtime.bigint() - t0) / 1e9; process.stdout.write(String(total * 8 / s / 1e9)); c.destroy(); });
  pump();
});
c.on("error", (e) => { process.stderr.write(String(e)); process.exit(1); });
`;

/** Start the receiver inside a container's namespace; resolves once it listens. */
function receiverIn(pid, port, total) {
  const child = spawn("nsenter", [`--net=/proc/${pid}/ns/net`, process.execPath, "-e", RECEIVER, String(port), String(total)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`receiver exited ${code}`)));
  });
}

function sendFrom(netnsPid, host, port, total) {
  const args = netnsPid ? ["nsenter", [`--net=/proc/${netnsPid}/ns/net`, process.execPath, "-e", SENDER, host, String(port), String(total)]] : [process.execPath, ["-e", SENDER, host, String(port), String(total)]];
  const r = sh(args[0], args[1], { timeout: 120_000 });
  if (r.code !== 0) throw new Error(`sender to ${host}:${port}: ${r.stderr}`);
  return Number(r.stdout);
}

function hostAddress() {
  for (const l of JSON.parse(must("ip", ["-j", "-4", "addr", "show", "scope", "global"]))) {
    if (/^(pier|docker|br-|pnbdk|netdk|pt)/.test(l.ifname)) continue;
    if (l.addr_info[0]) return l.addr_info[0].local;
  }
  throw new Error("no global IPv4 address");
}

async function netThroughput(e) {
  const total = TP_MIB * 2 ** 20;
  const port = e.name === "pier" ? 18761 : 18762;
  docker(e, ["rm", "-f", "tp-a", "tp-b"]);
  must(DOCKER, ["run", "-d", "--name", "tp-a", "-p", `${port}:5001`, "busybox", "sleep", "3600"], { env: { ...process.env, DOCKER_HOST: e.host } });
  must(DOCKER, ["run", "-d", "--name", "tp-b", "busybox", "sleep", "3600"], { env: { ...process.env, DOCKER_HOST: e.host } });
  const info = (n) => docker(e, ["inspect", "-f", "{{.State.Pid}} {{.NetworkSettings.IPAddress}}", n]).stdout.trim().split(" ");
  const [pidA, ipA] = info("tp-a");
  const [pidB] = info("tp-b");
  const out = { c2c: [], loopback: [], hostAddr: [] };
  const me = hostAddress();
  for (let i = 0; i < TP_RUNS; i++) {
    for (const [k, from, host, p] of [["c2c", pidB, ipA, 5001], ["loopback", undefined, "127.0.0.1", port], ["hostAddr", undefined, me, port]]) {
      const rx = await receiverIn(pidA, 5001, total);
      try {
        out[k].push(sendFrom(from, host, p, total));
      } finally {
        rx.kill("SIGKILL");
        await new Promise((r) => rx.once("exit", r));
      }
    }
  }
  docker(e, ["rm", "-f", "tp-a", "tp-b"]);
  return { c2c: median(out.c2c), loopback: median(out.loopback), hostAddr: median(out.hostAddr), all: out };
}

// ------------------------------------------------------------------ main

async function main() {
  if (process.getuid?.() !== 0) throw new Error("must run as root");
  const results = {};
  for (const name of engines) {
    if (name === "docker" && sh("which", ["dockerd"]).code !== 0) {
      log("dockerd not installed: Docker not measured");
      continue;
    }
    log(`starting ${name}`);
    const e = await startEngine(name);
    try {
      results[name] = {};
      if (which.includes("net-run")) {
        log(`${name}: net-run (${RUNS} runs per mode)`);
        results[name].run = netRun(e);
      }
      if (which.includes("net-throughput")) {
        log(`${name}: net-throughput (${TP_RUNS} × ${TP_MIB} MiB per path)`);
        results[name].tp = await netThroughput(e);
      }
    } finally {
      await e.stop();
    }
  }
  const f = (x, d = 1) => (x === undefined ? "—" : x.toFixed(d));
  const rows = [["benchmark", "Pier", "Docker", "Pier/Docker"]];
  const add = (label, get, d) => {
    const p = results.pier && get(results.pier);
    const dk = results.docker && get(results.docker);
    rows.push([label, f(p, d), f(dk, d), p !== undefined && dk !== undefined ? `${(p / dk).toFixed(2)}×` : "—"]);
  };
  if (which.includes("net-run")) {
    add("run --rm true, bridge (ms, median)", (r) => r.run?.bridge);
    add("run --rm true, --network none (ms, median)", (r) => r.run?.none);
    add("net-run: cost of networking (ms)", (r) => r.run?.cost);
  }
  if (which.includes("net-throughput")) {
    add("net-throughput container→container (Gbit/s)", (r) => r.tp?.c2c, 2);
    add("net-throughput host 127.0.0.1→published port (Gbit/s)", (r) => r.tp?.loopback, 2);
    add("net-throughput host address→published port (Gbit/s)", (r) => r.tp?.hostAddr, 2);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r, j) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |${j === 0 ? `\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|` : ""}`).join("\n");
  const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  const text = `# Network benchmarks ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}\n\n${table}\n\nRUNS=${RUNS}, TP_RUNS=${TP_RUNS}, TP_MIB=${TP_MIB}; load average at the end ${load}. Docker: dockerd ${sh("dockerd", ["--version"]).stdout.trim()} on its own bridge (userland-proxy on, as by default).\n\nRaw: ${JSON.stringify(results)}\n`;
  console.log(text);
  const outDir = path.join(ROOT, "bench", "results");
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `${new Date().toISOString().slice(0, 19).replace(/:/g, "")}-net.md`);
  fs.writeFileSync(out, text);
  log(`written to ${path.relative(ROOT, out)}`);
}

main().catch((err) => {
  console.error(`bench-net: ${err?.stack || err}`);
  process.exit(1);
});
