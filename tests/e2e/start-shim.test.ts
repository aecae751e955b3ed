// Containers after the first with a seccomp profile start through pier's start shim
// (container/start-shim.ts): runc creates them without the profile and the shim installs the
// filter runc compiled for the first one, then finishes the process as runc's init would. What
// a user sees must not tell the two apart, nor differ from Docker: each case below runs twice
// on one engine (the first run is runc's own start, the second the shim's), and in execs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

describe("containers started after the first with a profile", () => {
  let e: Engine;
  let net: string[] = [];
  let dir: string;
  before(async () => {
    e = await startEngine();
    const bridge = await e.docker(["network", "inspect", "bridge"]);
    if (bridge.code !== 0) net = ["--network", "none"];
    dir = mkdtempSync("/tmp/pier-start-shim-");
    // An executable without "#!": found, but execve refuses it (ENOEXEC).
    writeFileSync(path.join(dir, "no-shebang"), "echo hi\n", { mode: 0o755 });
    chmodSync(dir, 0o755);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await e?.stop();
  });

  const twice = async (args: string[]) => {
    const out = [];
    for (let i = 0; i < 2; i++) out.push(await e.docker(["run", "--rm", ...net, ...args]));
    return out;
  };

  it("gives a user without HOME the home /etc/passwd has for it (or /), as runc does", async () => {
    for (const [opts, home] of [[["-u", "1000"], "/"], [["-u", "nobody"], "/home"], [["-u", "nobody", "-e", "HOME=/mine"], "/mine"], [[], "/root"]] as const) {
      for (const r of await twice([...opts, "busybox", "sh", "-c", "echo $HOME"])) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${home}\n`, `options ${opts.join(" ")}`);
      }
    }
    // Execs of a container that came second, with and without a tty.
    await twice(["busybox", "true"]);
    const id = (await e.docker(["run", "-d", ...net, "busybox", "sleep", "60"])).stdout.trim();
    try {
      for (const tty of [[], ["-t"]]) {
        const r = await e.docker(["exec", ...tty, "-u", "nobody", id, "sh", "-c", "echo $HOME"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.replace(/\r\n/g, "\n"), "/home\n", `exec ${tty.join(" ")}`);
      }
    } finally {
      await e.docker(["rm", "-f", id]);
    }
  });

  it("runs a command execve refuses and ends it with status 1 and runc's message", async () => {
    for (const r of await twice(["-v", `${dir}:/probe:ro`, "busybox", "/probe/no-shebang"])) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /exec \/probe\/no-shebang: exec format error/);
    }
    const name = `start-shim-enoexec-${process.pid}`;
    await twice(["busybox", "true"]);
    const run = await e.docker(["run", "--name", name, ...net, "-v", `${dir}:/probe:ro`, "busybox", "/probe/no-shebang"]);
    try {
      assert.equal(run.code, 1, run.stderr);
      const state = await e.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name]);
      assert.equal(state.stdout.trim(), "exited 1");
      const logs = await e.docker(["logs", name]);
      assert.match(logs.stderr + logs.stdout, /exec \/probe\/no-shebang: exec format error/);
    } finally {
      await e.docker(["rm", "-f", name]);
    }
    const id = (await e.docker(["run", "-d", ...net, "-v", `${dir}:/probe:ro`, "busybox", "sleep", "60"])).stdout.trim();
    try {
      for (const tty of [[], ["-t"]]) {
        const r = await e.docker(["exec", ...tty, id, "/probe/no-shebang"]);
        assert.equal(r.code, 1, `exec ${tty.join(" ")}: ${r.stderr}`);
        assert.match(r.stdout + r.stderr, /exec \/probe\/no-shebang: exec format error/);
      }
    } finally {
      await e.docker(["rm", "-f", id]);
    }
  });

  it("starts other containers while one that may ptrace holds its execs' programs open for writing", async () => {
    // A process with CAP_SYS_PTRACE may open the fds of what enters its container, such as the
    // memfd a tty exec's shim is run from; held open for writing, no exec of that memfd works
    // (ETXTBSY). That must cost nobody else a start.
    const hold = path.join(dir, "hold");
    writeFileSync(`${hold}.c`, `#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  for (int held = 0;;) {
    DIR* d = opendir("/proc");
    struct dirent* e;
    while ((e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid <= 1 || pid == getpid()) continue;
      for (int fd = 3; fd < 16 && held < 64; fd++) {
        char p[64], l[256] = {0};
        snprintf(p, sizeof p, "/proc/%d/fd/%d", pid, fd);
        if (readlink(p, l, sizeof l - 1) > 0 && strstr(l, "memfd:") && open(p, O_WRONLY) >= 0) held++;
      }
    }
    closedir(d);
  }
}
`);
    const cc = spawnSync("gcc", ["-static", "-O2", "-o", hold, `${hold}.c`], { encoding: "utf8" });
    assert.equal(cc.status, 0, cc.stderr);
    // CAP_SYS_PTRACE changes the profile: its first container would be runc's own start.
    await twice(["--cap-add", "SYS_PTRACE", "busybox", "true"]);
    await twice(["busybox", "true"]);
    const id = (await e.docker(["run", "-d", ...net, "--cap-add", "SYS_PTRACE", "-v", `${dir}:/probe:ro`, "busybox", "/probe/hold"])).stdout.trim();
    try {
      for (let i = 0; i < 10; i++) await e.docker(["exec", "-t", id, "true"]);
      for (const r of await twice(["busybox", "echo", "started"])) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "started\n");
      }
    } finally {
      await e.docker(["rm", "-f", id]);
    }
  });

  // The shim is pier-monitor's (PIER_TEST_MONITOR=conmon starts every container through runc).
  it("starts containers when the compiled filters are removed or damaged", { skip: (!!process.env.PIER_TEST_DOCKER_HOST && "pierd's own files") || (!!process.env.PIER_TEST_MONITOR && "no start shim with another monitor") }, async () => {
    const cache = path.join(e.execRoot!, "seccomp");
    const probe = ["busybox", "sh", "-c", "grep -E '^Seccomp(_filters)?:' /proc/self/status"];
    const expected = "Seccomp:\t2\nSeccomp_filters:\t1\n";
    const runs = async () => {
      for (const r of await twice(probe)) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, expected);
      }
    };
    await runs();
    const files = () => readdirSync(cache).map((n) => path.join(cache, n));
    assert.ok(files().some((f) => f.endsWith(".bpf")), "a filter was learnt");
    // Under a running pierd.
    for (const f of files()) rmSync(f);
    await runs();
    // Cut short, or changed to something seccomp(2) refuses, while pierd was down; and what a
    // pierd killed while it learnt leaves behind.
    for (const damage of [(f: string) => truncateSync(f, 100), (f: string) => writeFileSync(f, Buffer.alloc(5736))]) {
      await e.restart!("SIGKILL", async () => {
        for (const f of files()) if (f.endsWith(".bpf")) damage(f);
        writeFileSync(path.join(cache, "left.bpf.123.tmp"), "x");
      });
      await runs();
      assert.ok(!files().some((f) => f.endsWith(".tmp")), "no leftover");
    }
  });
});
