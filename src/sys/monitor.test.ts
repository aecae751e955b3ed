// Runs real containers with runc through the container monitor (Pier's own pier-monitor, and
// conmon when it is installed: both must behave the same for pierd): exit codes, signals, the
// k8s-file log, tty and pipes, stdin, the attach socket, resize, runtime errors, exec sessions,
// and a monitor that outlives the process that started it.
// Skipped unless root with runc and a static busybox on the machine.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundledMonitor, RuntimeCreateError, startMonitor, startMonitorExec, type MonitorOptions } from "./monitor.js";
import { seqpacketClose, seqpacketConnect, seqpacketRead, seqpacketShutdown, seqpacketWrite } from "./native.js";

function which(bin: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    const p = path.join(dir, bin);
    if (dir && fs.existsSync(p)) return p;
  }
  return undefined;
}

const runc = which("runc");
const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => fs.existsSync(p));
const skip = process.getuid?.() !== 0 ? "needs root" : !runc ? "runc not installed" : !busybox ? "busybox not installed" : undefined;
const monitors: [string, string | undefined][] = [
  ["pier-monitor", bundledMonitor()],
  ["conmon", which("conmon")],
];

let tmp = "";
let rootfs = "";
let baseSpec: Record<string, unknown> & { process: Record<string, unknown> };
const created: string[] = [];
const stateRoot = () => path.join(tmp, "runc");

before(() => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pier-monitor-test-"));
  rootfs = path.join(tmp, "rootfs");
  for (const d of ["bin", "proc", "sys", "dev", "etc", "tmp"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync(busybox!, path.join(rootfs, "bin/busybox"));
  fs.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  for (const a of execFileSync(busybox!, ["--list"], { encoding: "utf8" }).split("\n")) {
    if (a && a !== "busybox" && !a.includes("/")) fs.symlinkSync("busybox", path.join(rootfs, "bin", a));
  }
  // runc's own default spec, pointed at the busybox rootfs.
  const d = path.join(tmp, "spec");
  fs.mkdirSync(d);
  execFileSync(runc!, ["spec"], { cwd: d });
  baseSpec = JSON.parse(fs.readFileSync(path.join(d, "config.json"), "utf8"));
  baseSpec.root = { path: rootfs, readonly: true };
});

after(() => {
  if (!tmp) return;
  for (const id of created) {
    try {
      execFileSync(runc!, [`--root=${stateRoot()}`, "delete", "--force", id], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Box {
  id: string;
  bundle: string;
  exitDir: string;
  logPath: string;
  opts: MonitorOptions;
}

/** A bundle running `args`, and the options to start it through `monitorPath`. */
function box(monitorPath: string, args: string[], o: { tty?: boolean; stdin?: boolean; stdinOnce?: boolean } = {}): Box {
  const id = `mon-${randomBytes(6).toString("hex")}`;
  // Long on purpose: the attach socket and console socket paths must not depend on sun_path.
  const bundle = path.join(tmp, "containers", `${id}-${"b".repeat(60)}`);
  const exitDir = path.join(tmp, "exits");
  fs.mkdirSync(bundle, { recursive: true });
  fs.mkdirSync(exitDir, { recursive: true });
  const spec = structuredClone(baseSpec);
  spec.process = { ...spec.process, args, terminal: !!o.tty };
  fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec));
  created.push(id);
  const logPath = path.join(bundle, "ctr.log");
  return {
    id,
    bundle,
    exitDir,
    logPath,
    opts: {
      monitorPath,
      runtimePath: runc!,
      runtimeRoot: stateRoot(),
      id,
      name: id,
      bundle,
      runDir: bundle,
      exitDir,
      logPath,
      tty: !!o.tty,
      stdin: !!o.stdin,
      stdinOnce: o.stdinOnce,
    },
  };
}

function runcCmd(...args: string[]): void {
  execFileSync(runc!, [`--root=${stateRoot()}`, ...args], { stdio: "ignore" });
}

async function until<T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The exit file's code, once the monitor wrote it. */
function exitCode(b: Box): Promise<number> {
  return until(`${b.id} to exit`, () => {
    try {
      const s = fs.readFileSync(path.join(b.exitDir, b.id), "utf8");
      return s === "" ? undefined : Number(s);
    } catch {
      return undefined;
    }
  });
}

interface Rec {
  time: string;
  stream: string;
  flag: string;
  text: string;
}

function records(b: Box): Rec[] {
  const text = fs.existsSync(b.logPath) ? fs.readFileSync(b.logPath, "latin1") : "";
  const out: Rec[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line);
    assert.ok(m, `a k8s-file record: ${JSON.stringify(line)}`);
    out.push({ time: m[1]!, stream: m[2]!, flag: m[3]!, text: m[4]! });
  }
  return out;
}

/** The lines of one stream, partial records joined. */
function lines(recs: Rec[], stream: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (const r of recs.filter((x) => x.stream === stream)) {
    cur += r.text;
    if (r.flag === "F") {
      out.push(cur);
      cur = "";
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Everything an attach client receives until the monitor closes the socket, by stream byte. */
async function readAttach(fd: number): Promise<{ 2: string; 3: string }> {
  const got = { 2: "", 3: "" };
  for (;;) {
    const msg = await seqpacketRead(fd, 65536);
    if (msg === null) break;
    const s = msg[0] as 2 | 3;
    assert.ok(s === 2 || s === 3, `stream byte ${s}`);
    assert.ok(msg.length - 1 <= 8192, "a message holds at most 8192 bytes of output");
    got[s] += msg.subarray(1).toString("latin1");
  }
  seqpacketClose(fd);
  return got;
}

for (const [name, monitorPath] of monitors) {
  describe(`container monitor: ${name}`, { skip: skip ?? (!monitorPath && `${name} is not available`) }, () => {
    const mp = monitorPath!;

    it("reports the pid, writes the exit file with the process's code, and the monitor pid file", async () => {
      const b = box(mp, ["sh", "-c", "exit 3"]);
      const { pid } = await startMonitor(b.opts);
      assert.ok(pid > 1);
      assert.equal(Number(fs.readFileSync(path.join(b.bundle, "pidfile"), "utf8")), pid);
      const monPid = Number(fs.readFileSync(path.join(b.bundle, "monitor.pid"), "utf8"));
      assert.ok(monPid > 1 && monPid !== process.pid);
      runcCmd("start", b.id);
      assert.equal(await exitCode(b), 3);
      assert.equal(fs.readFileSync(path.join(b.bundle, "exit"), "utf8"), "3");
      assert.equal(fs.existsSync(path.join(b.bundle, "oom")), false);
    });

    it("gives 128+signal for a killed process and forwards SIGTERM to the container", async () => {
      const killed = box(mp, ["sleep", "100"]);
      await startMonitor(killed.opts);
      runcCmd("start", killed.id);
      runcCmd("kill", killed.id, "KILL");
      assert.equal(await exitCode(killed), 137);

      const trapping = box(mp, ["sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"]);
      await startMonitor(trapping.opts);
      runcCmd("start", trapping.id);
      await until("the trap", () => (lines(records(trapping), "stdout").includes("ready") ? true : undefined));
      process.kill(Number(fs.readFileSync(path.join(trapping.bundle, "monitor.pid"), "utf8")), "SIGTERM");
      assert.equal(await exitCode(trapping), 42);
      assert.deepEqual(lines(records(trapping), "stdout"), ["ready", "got TERM"]);
    });

    it("writes the k8s-file log: a record per line and stream, partial records for split and unfinished lines", async () => {
      const b = box(mp, ["sh", "-c", "printf 'one\\ntwo\\n'; echo oops >&2; head -c 20000 /dev/zero | tr '\\0' a; echo; printf 'no newline'"]);
      await startMonitor(b.opts);
      runcCmd("start", b.id);
      assert.equal(await exitCode(b), 0);
      const recs = records(b);
      for (const r of recs) assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$/);
      assert.deepEqual(lines(recs, "stdout"), ["one", "two", "a".repeat(20000), "no newline"]);
      assert.deepEqual(lines(recs, "stderr"), ["oops"]);
      const out = recs.filter((r) => r.stream === "stdout");
      // The 20000-byte line came in reads of at most 8192 bytes: partial records, then a full one.
      assert.ok(out.filter((r) => r.text.startsWith("a")).length >= 3);
      assert.ok(out.every((r) => r.text.length <= 8192));
      assert.equal(out.at(-1)!.flag, "P");
      assert.equal(out.at(-1)!.text, "no newline");
    });

    it("holds a tty: output with CRLF, one stream, and resizes through the ctl fifo", async () => {
      const b = box(mp, ["sh", "-c", "echo hi; tty; while [ \"$(stty size 2>/dev/null)\" != '33 111' ]; do sleep 0.05; done; stty size"], { tty: true });
      await startMonitor(b.opts);
      const fd = seqpacketConnect(path.join(b.bundle, "attach"));
      const output = readAttach(fd);
      runcCmd("start", b.id);
      await until("the first output", () => (records(b).some((r) => r.text.startsWith("/dev/pts")) ? true : undefined));
      fs.writeFileSync(path.join(b.bundle, "ctl"), "1 33 111\n");
      assert.equal(await exitCode(b), 0);
      const got = await output;
      assert.equal(got[3], "", "a tty has no separate stderr");
      assert.match(got[2], /^hi\r\n\/dev\/pts\/\d+\r\n/);
      assert.match(got[2], /33 111\r\n$/);
      assert.ok(records(b).every((r) => r.stream === "stdout"));
    });

    it("passes an attach client's stdin and closes it at the client's EOF (stdin once)", async () => {
      const b = box(mp, ["sh", "-c", "cat; echo done >&2"], { stdin: true, stdinOnce: true });
      await startMonitor(b.opts);
      const fd = seqpacketConnect(path.join(b.bundle, "attach"));
      const output = readAttach(fd);
      runcCmd("start", b.id);
      await seqpacketWrite(fd, Buffer.from("hello\n"));
      await seqpacketWrite(fd, Buffer.from("x".repeat(8000) + "\n"));
      seqpacketShutdown(fd, "write");
      assert.equal(await exitCode(b), 0);
      const got = await output;
      assert.equal(got[2], "hello\n" + "x".repeat(8000) + "\n");
      assert.equal(got[3], "done\n");
    });

    it("keeps stdin open across attach clients unless stdin once", async () => {
      const b = box(mp, ["sh", "-c", "read a; read b; echo \"$a $b\""], { stdin: true });
      await startMonitor(b.opts);
      runcCmd("start", b.id);
      const first = seqpacketConnect(path.join(b.bundle, "attach"));
      await seqpacketWrite(first, Buffer.from("left\n"));
      seqpacketShutdown(first, "write");
      seqpacketClose(first);
      const second = seqpacketConnect(path.join(b.bundle, "attach"));
      const output = readAttach(second);
      await seqpacketWrite(second, Buffer.from("right\n"));
      assert.equal(await exitCode(b), 0);
      assert.equal((await output)[2], "left right\n");
    });

    it("writes the exit even when an attach client stopped reading", { skip: name === "conmon" && "conmon blocks on such a client for good" }, async () => {
      const b = box(mp, ["sh", "-c", "head -c 2000000 /dev/zero; echo never"]);
      await startMonitor(b.opts);
      const fd = seqpacketConnect(path.join(b.bundle, "attach"));  // and never read
      runcCmd("start", b.id);
      // The process blocks once the client's socket and the pipe are full: the log stops growing.
      const logSize = () => (fs.existsSync(b.logPath) ? fs.statSync(b.logPath).size : 0);
      for (let last = -1, end = Date.now() + 30_000; ; ) {
        const size = logSize();
        if (size > 0 && size === last) break;
        assert.ok(Date.now() < end, "the output never stalled");
        last = size;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(logSize() < 2_000_000, "the process is held back by the client");
      runcCmd("kill", b.id, "KILL");
      assert.equal(await exitCode(b), 137);
      seqpacketClose(fd);
    });

    it("reports the runtime's error when the process cannot be created, and leaves no exit file", async () => {
      const b = box(mp, ["/does-not-exist"]);
      await assert.rejects(startMonitor(b.opts), (err: unknown) => {
        assert.ok(err instanceof RuntimeCreateError, String(err));
        assert.match(err.message, /does-not-exist/);
        return true;
      });
      assert.equal(fs.existsSync(path.join(b.exitDir, b.id)), false);
    });

    it("runs an exec session with a tty through the attach socket, and reports exec errors", async () => {
      const b = box(mp, ["sleep", "100"]);
      await startMonitor(b.opts);
      runcCmd("start", b.id);
      const dir = path.join(tmp, "exec", randomBytes(6).toString("hex"));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "process.json"), JSON.stringify({ ...baseSpec.process, terminal: true, args: ["sh", "-c", "read x; echo got $x; stty size; exit 4"] }));
      const s = startMonitorExec({ monitorPath: mp, runtimePath: runc!, runtimeRoot: stateRoot(), containerId: b.id, execId: path.basename(dir), name: b.id, dir, tty: true, stdin: true });
      await s.attachReady;
      const fd = seqpacketConnect(path.join(dir, "attach"));
      const output = readAttach(fd);
      // A resize before the process (and its pty) exists applies once it does.
      fs.writeFileSync(path.join(dir, "ctl"), "1 20 70\n");
      s.start();
      assert.ok((await s.pid) > 1);
      await seqpacketWrite(fd, Buffer.from("abc\n"));
      assert.equal(await s.exit, 4);
      assert.match((await output)[2], /got abc\r\n20 70\r\n/);
      await s.done;

      const bad = path.join(tmp, "exec", randomBytes(6).toString("hex"));
      fs.mkdirSync(bad, { recursive: true });
      fs.writeFileSync(path.join(bad, "process.json"), JSON.stringify({ ...baseSpec.process, terminal: false, args: ["/nope"] }));
      const f = startMonitorExec({ monitorPath: mp, runtimePath: runc!, runtimeRoot: stateRoot(), containerId: b.id, execId: path.basename(bad), name: b.id, dir: bad, tty: false, stdin: false });
      await f.attachReady;
      f.start();
      await assert.rejects(f.pid, (err: unknown) => err instanceof RuntimeCreateError && /nope/.test(err.message));
      await f.done;
      runcCmd("kill", b.id, "KILL");
      assert.equal(await exitCode(b), 137);
    });

    it("outlives the process that started it", async () => {
      const b = box(mp, ["sh", "-c", "sleep 1; echo still here; exit 5"]);
      // Another node process starts the monitor and is killed before the container runs.
      const script = path.join(tmp, `starter-${b.id}.mjs`);
      const mod = new URL("./monitor.js", import.meta.url).href;
      fs.writeFileSync(script, `import { startMonitor } from ${JSON.stringify(mod)};\nconst { pid } = await startMonitor(JSON.parse(process.argv[2]));\nconsole.log(pid);\nsetInterval(() => {}, 1000);\n`);
      const child = spawn(process.execPath, [script, JSON.stringify(b.opts)], { stdio: ["ignore", "pipe", "inherit"] });
      const pid = await new Promise<number>((resolve, reject) => {
        child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once("exit", (code) => reject(new Error(`starter exited ${code}`)));
      });
      assert.ok(pid > 1);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      runcCmd("start", b.id);
      assert.equal(await exitCode(b), 5);
      assert.deepEqual(lines(records(b), "stdout"), ["still here"]);
    });
  });
}
