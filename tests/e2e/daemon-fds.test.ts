// What pierd's children hold of pierd's own: nothing but what they are given. Monitors and
// container processes outlive pierd; one holding a copy of its listening socket keeps the
// socket taking connections nobody answers after pierd is killed (and a new pierd took it for
// "in use by another daemon"); one holding its records or an fd pierd inherited keeps those
// open for as long as the container runs.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEngine, dockerOk, type Engine } from "../harness.js";

/** The inode of the unix socket listening at `sock` in the network namespace of `pid`, or undefined. */
function listeningInode(pid: number, sock: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/net/unix`, "utf8").split("\n").find((l) => l.trim().endsWith(` ${sock}`));
  return line?.trim().split(/\s+/)[6];
}

function fdTargets(pid: string): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return "";
      }
    });
  } catch {
    return []; // gone meanwhile
  }
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

const allPids = () => readdirSync("/proc").filter((d) => /^\d+$/.test(d));

describe("pierd's fds stay pierd's", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "looks into the pierd it started" }, () => {
  let e: Engine;
  let marker: string;
  before(async () => {
    // An fd pierd inherits without close-on-exec, as a launcher can leave one (a shell's
    // redirection, a supervisor's pipe): pierd must not hand it on. Fd 100: Node marks low
    // inherited fds close-on-exec as it starts, not such a one.
    marker = `/var/tmp/pier-test-inherited-${process.pid}`;
    const fd = openSync(marker, "w");
    try {
      e = await startEngine({ inheritFds: { 100: fd }, privateNetwork: true, netnsSetup: "ip link set lo up" });
    } finally {
      closeSync(fd);
    }
  });
  after(async () => {
    await e?.stop();
    rmSync(marker, { force: true });
  });

  it("no other process holds pierd's listening socket, pid file, records, stderr or inherited fds", async () => {
    const sock = e.host.replace(/^unix:\/\//, "");
    const pierd = String(e.pid);
    const inode = listeningInode(e.pid!, sock);
    assert.ok(inode, "the socket is listed in /proc/net/unix");
    const own = fdTargets(pierd);
    assert.ok(own.includes(`socket:[${inode}]`), "pierd holds its listening socket");
    assert.equal(readlinkSync(`/proc/${pierd}/fd/100`), marker, "pierd holds the fd it inherited");
    const stderrPipe = readlinkSync(`/proc/${pierd}/fd/2`);

    // Long-lived children of every kind: monitors (with a user network, a published port, a
    // tty, stdin), exec sessions detached and attached, a following log reader.
    await dockerOk(e, ["network", "create", "fds-net"]);
    await dockerOk(e, ["run", "-d", "--name", "fds-net-run", "--network", "fds-net", "-p", "127.0.0.1::80", "busybox", "sleep", "300"]);
    await dockerOk(e, ["run", "-d", "--name", "fds-tty", "-t", "-i", "busybox", "sh"]);
    await dockerOk(e, ["run", "-d", "--name", "fds-logs", "busybox", "sh", "-c", "while :; do echo tick; sleep 1; done"]);
    await dockerOk(e, ["exec", "-d", "fds-net-run", "sleep", "300"]);
    const env = { ...process.env, DOCKER_HOST: e.host };
    const attachedExec = spawn("/usr/local/bin/docker", ["exec", "-i", "fds-tty", "sleep", "300"], { env, stdio: ["pipe", "ignore", "ignore"] });
    const follower = spawn("/usr/local/bin/docker", ["logs", "-f", "fds-logs"], { env, stdio: ["ignore", "pipe", "ignore"] });
    try {
      await new Promise((resolve) => follower.stdout!.once("data", resolve));
      // The attached exec has started when its sleep runs in the container.
      const deadline = Date.now() + 60_000;
      while ((await dockerOk(e, ["top", "fds-tty"])).split("\n").filter((l) => l.includes("sleep 300")).length === 0 && Date.now() < deadline) await sleep(100);

      const forbidden = (target: string) =>
        target === `socket:[${inode}]` ||
        target === marker ||
        target === stderrPipe ||
        target === path.join(e.dataRoot!, "pierd.pid") ||
        (target.startsWith(`${e.dataRoot!}/`) && target.endsWith(".json"));
      const pids = allPids().filter((p) => p !== pierd && p !== String(process.pid));
      const ofThisEngine = pids.filter((p) => cmdline(p).includes(e.execRoot!));
      assert.ok(ofThisEngine.length >= 3, `the containers' monitors run (found ${ofThisEngine.length})`);
      const holders = pids.flatMap((p) => fdTargets(p).filter(forbidden).map((t) => `${p} (${cmdline(p).slice(0, 80)}): ${t}`));
      assert.deepEqual(holders, []);
    } finally {
      attachedExec.kill();
      follower.kill();
    }
  });

  it("after SIGKILL a new pierd serves the same socket at once, even while a leftover holds the old listener", async () => {
    const sock = e.host.replace(/^unix:\/\//, "");
    // Killed in the middle of container starts (network namespaces, monitors, runc).
    for (let i = 0; i < 3; i++) {
      const runs = [0, 1, 2].map((j) => e.docker(["run", "-d", "--network", "fds-net", "--name", `fds-kill-${i}-${j}`, "busybox", "true"]));
      await sleep(150 + 100 * i);
      await e.restart!("SIGKILL");
      await Promise.all(runs);
      assert.match(await dockerOk(e, ["version", "-f", "{{.Server.Os}}"]), /linux/);
    }
    // A process that holds a listening socket at the path and never answers, as a child of the
    // killed pierd held a copy of its listener: the new pierd must not take it for a daemon.
    let holder: ReturnType<typeof spawn> | undefined;
    await e.restart!("SIGKILL", async () => {
      holder = spawn("python3", ["-c", "import os,socket,sys,time\np=sys.argv[1]\nos.unlink(p)\ns=socket.socket(socket.AF_UNIX)\ns.bind(p)\ns.listen(8)\nprint('ready',flush=True)\ntime.sleep(1.5)", sock], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise((resolve, reject) => {
        holder!.stdout!.once("data", resolve);
        holder!.once("exit", (code) => reject(new Error(`holder exited ${code}`)));
      });
    });
    try {
      assert.match(await dockerOk(e, ["version", "-f", "{{.Server.Os}}"]), /linux/);
      assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Running}}", "fds-net-run"]), "true", "the container kept running");
    } finally {
      holder?.kill();
    }
  });
});
