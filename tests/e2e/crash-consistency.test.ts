// What a crash or a failed write leaves behind. (a) A --rm container's removal after its exit
// writes its "removing" mark without fsync and deletes its record last; pierd is killed with
// SIGKILL at a range of moments after the container's exit file appears (before the exit is
// handled, during the removal, after it), and after the restart the container must be gone with
// nothing of it left: record, snapshot, bundle, runc state, exit file, mounts, cgroups, netns,
// veth, anonymous volume. (b) The running record cannot be written once the process has started
// (its records directory made immutable): the start fails, and the container is stopped and
// cleaned (no process, cgroup, mount or netns), then starts and is managed normally once the
// directory is writable again. Both need a pierd the test starts and kills: not run against an
// external daemon.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import * as path from "node:path";
import { dockerOk, startEngine, type Engine } from "../harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything of container `id` still on the host (an empty list: nothing). */
function leftovers(e: Engine, id: string, extra: { hostIf?: string } = {}): string[] {
  const data = e.dataRoot!;
  const exec = e.execRoot!;
  const found: string[] = [];
  const paths = [
    path.join(data, "containers", "_meta", `${id}.json`),
    path.join(data, "containers", id),
    path.join(data, "overlay2", "containers", id),
    path.join(data, "network", "endpoints", `${id}.json`),
    path.join(exec, "containers", id),
    path.join(exec, "runc", id),
    path.join(exec, "builtin", id), // the state of Pier's own runtime, when it made the container
    path.join(exec, "exits", id),
    path.join(exec, "netns", id),
  ];
  for (const p of paths) if (existsSync(p)) found.push(p);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) if (line.includes(id)) found.push(`mount: ${line.split(" ")[4]}`);
  // cgroup v2 (/sys/fs/cgroup/pier/<id>) or v1 (/sys/fs/cgroup/<controller>/pier/<id>).
  const roots = ["/sys/fs/cgroup", ...readdirSync("/sys/fs/cgroup").map((c) => path.join("/sys/fs/cgroup", c))];
  for (const r of roots) if (existsSync(path.join(r, "pier", id))) found.push(path.join(r, "pier", id));
  if (extra.hostIf && spawnSync("ip", ["link", "show", "dev", extra.hostIf]).status === 0) found.push(`link ${extra.hostIf}`);
  return found;
}

describe("crash and write-failure consistency", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "kills and restarts the pierd it started" }, () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("a --rm container whose pierd is killed around its removal is gone after the restart, with nothing left", async (t) => {
    const exitDir = path.join(e.execRoot!, "exits");
    let before = 0;
    let midway = 0;
    // Killed `delayMs` after the monitor writes the exit file (what starts the exit handling),
    // or ("snapshot") as the removal deletes the container's snapshot, in the middle of it.
    const kills: (number | "snapshot")[] = [0, 1, 2, 4, 8, 15, 30, 60, "snapshot", "snapshot"];
    for (const [i, delayMs] of kills.entries()) {
      const name = `rm-crash-${i}`;
      const id = await dockerOk(e, ["run", "-d", "--rm", "--name", name, "-v", "/scratch", "busybox", "sh", "-c", "sleep 0.5"]);
      const volume = await dockerOk(e, ["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", id]);
      const endpoint = JSON.parse(readFileSync(path.join(e.dataRoot!, "network", "endpoints", `${id}.json`), "utf8")) as { sandbox?: { endpoints: { hostIf: string }[] } };
      const hostIf = endpoint.sandbox?.endpoints[0]?.hostIf;
      assert.ok(hostIf, "the container has a veth");
      const snapshots = path.join(e.dataRoot!, "overlay2", "containers");
      await new Promise<void>((resolve) => {
        const dir = delayMs === "snapshot" ? snapshots : exitDir;
        const w = watch(dir, (_ev, file) => {
          if (String(file) !== id) return;
          if (delayMs === "snapshot" && existsSync(path.join(snapshots, id))) return;
          w.close();
          setTimeout(resolve, delayMs === "snapshot" ? 0 : delayMs);
        });
        if (delayMs !== "snapshot" && existsSync(path.join(exitDir, id))) {
          w.close();
          resolve();
        }
      });
      await e.restart!("SIGKILL", async () => {
        const record = existsSync(path.join(e.dataRoot!, "containers", "_meta", `${id}.json`));
        const snapshot = existsSync(path.join(e.dataRoot!, "overlay2", "containers", id));
        if (record) before++;
        if (record && !snapshot) midway++;
      });
      const deadline = Date.now() + 60_000;
      while ((await dockerOk(e, ["ps", "-aq", "--no-trunc", "--filter", `id=${id}`])) !== "" && Date.now() < deadline) await sleep(100);
      if ((await dockerOk(e, ["ps", "-aq", "--no-trunc", "--filter", `id=${id}`])) !== "") {
        const state = await dockerOk(e, ["inspect", "-f", "{{json .State}}", id]);
        assert.fail(`${name} is not removed: ${state}; left: ${leftovers(e, id, { hostIf }).join(", ")}`);
      }
      let left = leftovers(e, id, { hostIf });
      while (left.length && Date.now() < deadline) {
        await sleep(100);
        left = leftovers(e, id, { hostIf });
      }
      assert.deepEqual(left, [], `${name}: nothing left`);
      assert.equal((await e.docker(["volume", "inspect", volume])).code, 1, `${name}: its anonymous volume is removed`);
      // The name is free again.
      await dockerOk(e, ["create", "--name", name, "busybox", "true"]);
      await dockerOk(e, ["rm", name]);
    }
    t.diagnostic(`kills with the record still on disk: ${before} of ${kills.length}, of which with the snapshot already removed: ${midway}`);
  });

  // Pids wrap (at 32768 here): a container that ended while pierd was away may find its pid,
  // and its monitor's, given to other processes — here, to another container's, which makes
  // it plain: the records are pointed at them while pierd is down, after the container's end
  // was released (no exit file), as a crash during a release leaves it.
  it("a container that ended while pierd was away is not taken for running when its pids went to other processes", async () => {
    const victim = await dockerOk(e, ["run", "-d", "--name", "pid-victim", "busybox", "sleep", "300"]);
    const other = await dockerOk(e, ["run", "-d", "--name", "pid-other", "busybox", "sleep", "300"]);
    const otherPid = Number(await dockerOk(e, ["inspect", "-f", "{{.State.Pid}}", other]));
    const victimPid = Number(await dockerOk(e, ["inspect", "-f", "{{.State.Pid}}", victim]));
    const bundle = (id: string) => path.join(e.execRoot!, "containers", id);
    await e.restart!("SIGKILL", async () => {
      // Its init killed directly, whichever runtime made it (runc or Pier's own).
      process.kill(victimPid, "SIGKILL");
      const exitFile = path.join(e.execRoot!, "exits", victim);
      for (let i = 0; i < 400 && !existsSync(exitFile); i++) await sleep(50);
      assert.ok(existsSync(exitFile), "the monitor wrote the exit file");
      rmSync(exitFile);
      writeFileSync(path.join(bundle(victim), "monitor.pid"), readFileSync(path.join(bundle(other), "monitor.pid")));
      const recordFile = path.join(e.dataRoot!, "containers", "_meta", `${victim}.json`);
      const record = JSON.parse(readFileSync(recordFile, "utf8"));
      record.State.Pid = otherPid;
      writeFileSync(recordFile, JSON.stringify(record));
    });
    const state = JSON.parse(await dockerOk(e, ["inspect", "-f", "{{json .State}}", victim])) as { Status: string; Running: boolean; ExitCode: number };
    assert.deepEqual([state.Status, state.Running, state.ExitCode], ["exited", false, 255], "ended without a word from its monitor: 255, as Docker reports");
    assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Running}}", other]), "true");
    assert.equal(await dockerOk(e, ["exec", "pid-other", "echo", "still"]), "still");
    await dockerOk(e, ["rm", "-f", "pid-victim", "pid-other"]);
    assert.deepEqual(leftovers(e, victim), []);
  });

  it("a start whose running record cannot be written leaves the container stopped and clean, and startable later", async () => {
    const meta = path.join(e.dataRoot!, "containers", "_meta");
    const id = await dockerOk(e, ["create", "--name", "unrecorded", "busybox", "sleep", "300"]);
    const chattr = (flag: string) => {
      const r = spawnSync("chattr", [flag, meta], { encoding: "utf8" });
      assert.equal(r.status, 0, `chattr ${flag}: ${r.stderr}`);
    };
    chattr("+i");
    try {
      const r = await e.docker(["start", "unrecorded"]);
      assert.notEqual(r.code, 0, "the start fails");
      assert.match(r.stderr, /Error response from daemon: .*(not permitted|EPERM)/);
      const state = JSON.parse(await dockerOk(e, ["inspect", "-f", "{{json .State}}", id])) as { Status: string; Running: boolean; Pid: number };
      assert.deepEqual([state.Status, state.Running, state.Pid], ["created", false, 0]);
      // A created container keeps its record, snapshot and files; what a run makes must be gone.
      const ofARun = leftovers(e, id).filter((l) => l.startsWith("mount: ") || l.startsWith("/sys/fs/cgroup") || l.includes("/runc/") || l.includes("/builtin/") || l.includes("/netns/"));
      assert.deepEqual(ofARun, [], "no process (cgroup), mount, netns or runc state");
    } finally {
      chattr("-i");
    }
    await dockerOk(e, ["start", "unrecorded"]);
    assert.equal(await dockerOk(e, ["inspect", "-f", "{{.State.Running}}", id]), "true");
    assert.equal(await dockerOk(e, ["exec", "unrecorded", "echo", "managed"]), "managed");
    await dockerOk(e, ["rm", "-f", "unrecorded"]);
    assert.deepEqual(leftovers(e, id), []);
  });
});
