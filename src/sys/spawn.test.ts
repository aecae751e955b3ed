import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnProcess, type SpawnedProcess } from "./spawn.js";
import { nativeSpawn } from "./native.js";

/** Everything the child wrote, its exit and close arguments, and the order of the events. */
async function collect(child: SpawnedProcess): Promise<{ stdout: string; stderr: string; exit: unknown[]; close: unknown[]; events: string[] }> {
  const events: string[] = [];
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on("end", () => events.push("stdout end"));
  child.on("spawn", () => events.push("spawn"));
  let exit: unknown[] = [];
  child.on("exit", (...a) => {
    events.push("exit");
    exit = a;
  });
  const close = await new Promise<unknown[]>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (...a) => {
      events.push("close");
      resolve(a);
    });
  });
  return { stdout, stderr, exit, close, events };
}

/** Children of this process that are zombies (exited, never reaped). */
function zombies(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync("/proc/self/task")) {
    const kids = readFileSync(`/proc/self/task/${tid}/children`, "utf8").trim();
    for (const k of kids ? kids.split(" ") : []) {
      try {
        if (procStat(Number(k)).state === "Z") out.push(Number(k));
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function procStat(pid: number): { state: string; ppid: number; pgrp: number; session: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

test("output through pipes: stdout and stderr, then exit, then close", async () => {
  const child = spawnProcess("sh", ["-c", "echo out; echo err >&2; echo more"]);
  assert.ok(child.pid! > 0);
  const r = await collect(child);
  assert.equal(r.stdout, "out\nmore\n");
  assert.equal(r.stderr, "err\n");
  assert.deepEqual(r.exit, [0, null]);
  assert.deepEqual(r.close, [0, null]);
  assert.equal(r.events[0], "spawn");
  assert.equal(r.events.at(-1), "close");
  assert.ok(r.events.indexOf("exit") < r.events.indexOf("close"));
  assert.ok(r.events.indexOf("stdout end") < r.events.indexOf("close"));
  assert.equal(child.exitCode, 0);
  assert.equal(child.signalCode, null);
});

test("stdin reaches the child (cat) and its end is the child's EOF", async () => {
  const child = spawnProcess("cat", []);
  const done = collect(child);
  child.stdin!.write("hello ");
  child.stdin!.end("world");
  const r = await done;
  assert.equal(r.stdout, "hello world");
  assert.deepEqual(r.close, [0, null]);
});

test("a large output arrives whole before close", async () => {
  const child = spawnProcess("head", ["-c", "3000000", "/dev/zero"], { stdio: ["ignore", "pipe", "pipe"] });
  let n = 0;
  child.stdout!.on("data", (d: Buffer) => (n += d.length));
  const code = await new Promise((resolve) => child.on("close", resolve));
  assert.equal(code, 0);
  assert.equal(n, 3_000_000);
});

test("exit codes come through, exit before close", async () => {
  const r = await collect(spawnProcess("sh", ["-c", "exit 7"]));
  assert.deepEqual(r.exit, [7, null]);
  assert.deepEqual(r.close, [7, null]);
});

test("a signal death is (null, signal name); kill after the exit is refused", async () => {
  const child = spawnProcess("sleep", ["30"], { stdio: ["ignore", "ignore", "ignore"] });
  await new Promise((r) => child.once("spawn", r));
  assert.equal(child.kill(), true);
  const [code, signal] = await new Promise<unknown[]>((resolve) => child.on("close", (...a) => resolve(a)));
  assert.equal(code, null);
  assert.equal(signal, "SIGTERM");
  assert.equal(child.signalCode, "SIGTERM");
  assert.equal(child.kill("SIGKILL"), false);

  const k = spawnProcess("sleep", ["30"], { stdio: ["ignore", "ignore", "ignore"] });
  k.kill("SIGKILL");
  const [, sig] = await new Promise<unknown[]>((resolve) => k.on("exit", (...a) => resolve(a)));
  assert.equal(sig, "SIGKILL");
});

test("a program that is not there is an 'error' event on a later tick, never a throw", async () => {
  const child = spawnProcess("pier-no-such-program", ["a", "b"]);
  assert.equal(child.pid, undefined);
  // Listeners added after the call still hear it.
  const events: string[] = [];
  child.on("spawn", () => events.push("spawn"));
  child.on("exit", () => events.push("exit"));
  const err = await new Promise<NodeJS.ErrnoException & { spawnargs: string[] }>((resolve) => child.on("error", (e) => {
    events.push("error");
    resolve(e as NodeJS.ErrnoException & { spawnargs: string[] });
  }));
  assert.equal(err.code, "ENOENT");
  assert.equal(err.message, "spawn pier-no-such-program ENOENT");
  assert.equal(err.syscall, "spawn pier-no-such-program");
  assert.equal(err.path, "pier-no-such-program");
  assert.deepEqual(err.spawnargs, ["a", "b"]);
  // As Node: "close" still follows (the pipes end), with the negative errno as the code.
  const close = await new Promise<unknown[]>((resolve) => child.on("close", (...a) => resolve(a)));
  assert.deepEqual(close, [-2, null]);
  assert.deepEqual(events, ["error"]);
  assert.deepEqual(zombies(), []);
});

test("a file that is not executable, a directory and a missing cwd are errors too", async (t) => {
  const d = mkdtempSync(path.join(os.tmpdir(), "pier-spawn-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(path.join(d, "plain"), "#!/bin/sh\n", { mode: 0o644 });
  const cases: [string, string[], { cwd?: string; env?: NodeJS.ProcessEnv }, string][] = [
    [path.join(d, "plain"), [], {}, "EACCES"],
    ["plain", [], { env: { PATH: d } }, "EACCES"],
    [d, [], {}, "EACCES"],
    ["true", [], { cwd: path.join(d, "missing") }, "ENOENT"],
  ];
  for (const [cmd, args, opts, code] of cases) {
    const child = spawnProcess(cmd, args, { ...opts, stdio: ["ignore", "ignore", "ignore"] });
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.on("error", resolve));
    assert.equal(err.code, code, `${cmd} ${JSON.stringify(opts)}`);
  }
  assert.deepEqual(zombies(), []);
});

test("the program is looked up in the child's PATH, and cwd and env are the child's", async () => {
  const r = await collect(spawnProcess("sh", ["-c", 'echo "$FOO" "$(pwd)"'], { env: { FOO: "bar baz", PATH: "/usr/bin:/bin" }, cwd: "/proc" }));
  assert.equal(r.stdout, "bar baz /proc\n");
  // No PATH at all: the default search path (/usr/bin:/bin), as Node documents.
  const e = await collect(spawnProcess("env", [], { env: { ONLY: "1" } }));
  assert.equal(e.stdout, "ONLY=1\n");
});

test("a detached child leads a session of its own; an attached one stays in ours", async (t) => {
  const d = spawnProcess("sleep", ["30"], { stdio: ["ignore", "ignore", "ignore"], detached: true });
  const a = spawnProcess("sleep", ["30"], { stdio: ["ignore", "ignore", "ignore"] });
  t.after(() => {
    d.kill("SIGKILL");
    a.kill("SIGKILL");
  });
  const ds = procStat(d.pid!);
  assert.equal(ds.session, d.pid);
  assert.equal(ds.pgrp, d.pid);
  assert.equal(procStat(a.pid!).session, procStat(process.pid).session);
});

test("every signal is default and unblocked in the child, though Node ignores SIGPIPE", async () => {
  const sigmask = (status: string, field: string) => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(status)![1]}`);
  const ours = readFileSync("/proc/self/status", "utf8");
  assert.notEqual(sigmask(ours, "SigIgn") & (1n << 12n), 0n, "precondition: SIGPIPE (13) is ignored in this process");
  const r = await collect(spawnProcess("cat", ["/proc/self/status"]));
  assert.equal(sigmask(r.stdout, "SigIgn"), 0n);
  assert.equal(sigmask(r.stdout, "SigBlk"), 0n);
});

test("no fd leaks into a child: 0-2, the ones asked for, and what this process itself inherited", async (t) => {
  // Fds this process got without close-on-exec from whoever started it pass on, as with Node.
  const inherited = new Set<number>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!, 8);
      if ((flags & 0o2000000) === 0) inherited.add(Number(fd));
    } catch {
      // the fd of the readdir itself
    }
  }
  // Other children with pipes running at the same time must not lend theirs.
  const other = spawnProcess("sleep", ["30"], { stdio: ["pipe", "pipe", "pipe", "pipe"] });
  // The child says when it runs: posix_spawn returns as soon as the exec has replaced the
  // child's memory, a moment before the kernel closes its close-on-exec fds. Through a
  // command that writes to stderr by itself, with no redirection: for one, dash (vfork) saves
  // fd 1 as fd 10 in the shell itself while the command runs, and the listing below caught it
  // (a fresh-clone CI run, then 2 runs in 5).
  const child = spawnProcess("sh", ["-c", "ls /pier-spawn-test-ready; read x"], { stdio: ["pipe", "ignore", "pipe", "pipe", "ignore"] });
  t.after(() => {
    other.kill("SIGKILL");
    child.kill("SIGKILL");
  });
  await new Promise((r) => child.stderr!.once("data", r));
  const fds = readdirSync(`/proc/${child.pid}/fd`).map(Number).sort((x, y) => x - y);
  const extra = fds.filter((fd) => fd > 4 && !inherited.has(fd));
  assert.deepEqual(extra, [], `fds of the child: ${fds.map((fd) => `${fd}→${readlinkSync(`/proc/${child.pid}/fd/${fd}`)}`).join(", ")}`);
  for (const fd of [0, 1, 2, 3, 4]) assert.ok(fds.includes(fd), `fd ${fd} in the child`);
  assert.equal(readlinkSync(`/proc/${child.pid}/fd/1`), "/dev/null");
  assert.equal(readlinkSync(`/proc/${child.pid}/fd/4`), "/dev/null");
  assert.match(readlinkSync(`/proc/${child.pid}/fd/3`), /^socket:/);
});

test("a third pipe and an inherited fd reach the child", async () => {
  const child = spawnProcess("sh", ["-c", "echo three >&3; readlink /proc/self/fd/0"], { stdio: ["inherit", "pipe", "pipe", "pipe"] });
  let three = "";
  (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => (three += d.toString()));
  const r = await collect(child);
  assert.equal(three, "three\n");
  assert.equal(r.stdout, `${readlinkSync("/proc/self/fd/0")}\n`);
  assert.equal(child.stdio[0], null);
});

test("no zombie is left once 'exit' has been emitted", async () => {
  const child = spawnProcess("true", [], { stdio: ["ignore", "ignore", "ignore"] });
  const pid = child.pid!;
  await new Promise((r) => child.on("exit", r));
  assert.equal(existsSync(`/proc/${pid}`), false);
  assert.deepEqual(zombies(), []);
});

test("unref lets node exit while the child sleeps; without it node waits for the child", async (t) => {
  const spawnJs = fileURLToPath(new URL("./spawn.js", import.meta.url));
  const script = (unref: boolean, seconds: number) => `
    import { spawnProcess } from ${JSON.stringify(spawnJs)};
    const c = spawnProcess("sleep", ["${seconds}"], { stdio: ["ignore", "ignore", "ignore"] });
    ${unref ? "c.unref();" : ""}
    c.on("exit", (code) => console.log("exit", code));
    console.log("pid", c.pid);`;
  const unref = spawnSync(process.execPath, ["--input-type=module", "-e", script(true, 60)], { encoding: "utf8", timeout: 30_000 });
  assert.equal(unref.status, 0, unref.stderr);
  const pid = Number(/^pid (\d+)$/m.exec(unref.stdout)![1]);
  t.after(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  });
  assert.doesNotMatch(unref.stdout, /exit/);
  assert.ok(existsSync(`/proc/${pid}`), "the child outlives the node that started it");
  const held = spawnSync(process.execPath, ["--input-type=module", "-e", script(false, 0.2)], { encoding: "utf8", timeout: 30_000 });
  assert.equal(held.status, 0, held.stderr);
  assert.match(held.stdout, /^exit 0$/m);
});

test("output nobody reads is drained, so close still comes", async () => {
  const child = spawnProcess("sh", ["-c", "echo unread; echo unread >&2"]);
  const close = await new Promise<unknown[]>((resolve) => child.on("close", (...a) => resolve(a)));
  assert.deepEqual(close, [0, null]);
});

test("the addon's fd map survives a swap: child fd a = our b and b = our a", async () => {
  // Two of our fds that look different, a below b; in order, dup2(b→a) then dup2(a→b) would
  // give the child b twice, unless a is first moved out of the way.
  const link = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`);
  const ours = readdirSync("/proc/self/fd").map(Number).filter((fd) => fd >= 3).sort((x, y) => x - y);
  const a = ours.find((fd) => existsSync(`/proc/self/fd/${fd}`))!;
  const b = ours.find((fd) => fd > a && existsSync(`/proc/self/fd/${fd}`) && link(fd) !== link(a))!;
  const fds = Array.from({ length: b + 1 }, () => -1);
  fds[a] = b;
  fds[b] = a;
  let onExit!: (code: number | null, signal: string | null) => void;
  const exited = new Promise<[number | null, string | null]>((r) => (onExit = (c, s) => r([c, s])));
  const pid = nativeSpawn().spawn("/bin/sleep", ["sleep", "30"], [], null, fds, false, onExit);
  try {
    assert.equal(readlinkSync(`/proc/${pid}/fd/${a}`), link(b));
    assert.equal(readlinkSync(`/proc/${pid}/fd/${b}`), link(a));
    assert.equal(readlinkSync(`/proc/${pid}/fd/0`), "/dev/null");
  } finally {
    process.kill(pid, "SIGKILL");
  }
  assert.deepEqual(await exited, [null, "SIGKILL"]);
});

test("many children at once, and each of a chain started from the previous one's exit listener", async () => {
  const codes = await Promise.all(Array.from({ length: 40 }, (_, i) => new Promise((resolve) => spawnProcess("sh", ["-c", `exit ${i % 7}`]).on("close", resolve))));
  assert.deepEqual(codes, Array.from({ length: 40 }, (_, i) => i % 7));
  // The exit listener runs while the addon is done with the previous pidfd: its number is reused at once.
  let left = 40;
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      const c = spawnProcess("true", [], { stdio: ["ignore", "ignore", "ignore"] });
      c.on("error", reject);
      c.on("exit", (code) => {
        if (code !== 0) reject(new Error(`exit ${code}`));
        else if (--left === 0) resolve();
        else next();
      });
    };
    next();
  });
  assert.deepEqual(zombies(), []);
});
