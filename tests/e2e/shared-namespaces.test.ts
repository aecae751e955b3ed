// --pid / --ipc container:<other> and --pid host: a container joins another's namespaces (or
// the host's), as with dockerd; with both runtimes (runc, PIER_RUNTIME=builtin).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { startEngine, dockerOk, type Engine } from "../harness.js";

const external = !!process.env.PIER_TEST_DOCKER_HOST;

for (const runtime of ["runc", "builtin"] as const) {
  describe(`shared namespaces (${runtime})`, { skip: runtime === "builtin" && external && "PIER_RUNTIME is pierd's" }, () => {
    let e: Engine;
    let donor: string;
    before(async () => {
      e = await startEngine(runtime === "builtin" ? { daemonEnv: { PIER_RUNTIME: "builtin" } } : {});
      donor = await dockerOk(e, ["run", "-d", "--name", "ns-donor", "busybox", "sleep", "300"]);
    });
    after(async () => {
      // An external daemon keeps what a test made: remove it (a pierd of the harness goes whole).
      if (external) await e?.docker(["rm", "-f", "ns-donor", "ns-stopped", "ns-shareable", "ns-shm"]);
      await e?.stop();
    });

    it("--pid container:<name> sees the other container's processes, its sleep as pid 1", async () => {
      const ps = await dockerOk(e, ["run", "--rm", "--pid", "container:ns-donor", "busybox", "ps", "-o", "pid,args"]);
      const lines = ps.split("\n").map((l) => l.trim());
      assert.ok(lines.includes("1 sleep 300"), ps);
      const ns = await dockerOk(e, ["run", "--rm", "--pid", `container:${donor.slice(0, 12)}`, "busybox", "readlink", "/proc/self/ns/pid"]);
      assert.equal(ns, await dockerOk(e, ["exec", "ns-donor", "readlink", "/proc/self/ns/pid"]));
    });

    it("keeps the donor as its full ID in PidMode", async () => {
      await dockerOk(e, ["create", "--name", "ns-joiner", "--pid", "container:ns-donor", "busybox", "true"]);
      assert.equal(await dockerOk(e, ["inspect", "-f", "{{.HostConfig.PidMode}}", "ns-joiner"]), `container:${donor}`);
      await dockerOk(e, ["rm", "ns-joiner"]);
    });

    it("a donor that does not exist or does not run is an error", async () => {
      const missing = await e.docker(["run", "--rm", "--pid", "container:ns-nosuch", "busybox", "true"]);
      assert.equal(missing.code, 125);
      assert.match(missing.stderr, /No such container: ns-nosuch/);
      const stopped = await dockerOk(e, ["create", "--name", "ns-stopped", "busybox", "true"]);
      const r = await e.docker(["run", "--rm", "--pid", "container:ns-stopped", "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, new RegExp(`container ${stopped} is not running`));
    });

    it("--ipc container:<name> needs a shareable donor, and then shares its IPC namespace", async () => {
      const r = await e.docker(["run", "--rm", "--ipc", "container:ns-donor", "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, /non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/);
      await dockerOk(e, ["run", "-d", "--name", "ns-shareable", "--ipc", "shareable", "busybox", "sleep", "300"]);
      const ns = await dockerOk(e, ["run", "--rm", "--ipc", "container:ns-shareable", "busybox", "readlink", "/proc/self/ns/ipc"]);
      assert.equal(ns, await dockerOk(e, ["exec", "ns-shareable", "readlink", "/proc/self/ns/ipc"]));
      const own = await dockerOk(e, ["run", "--rm", "busybox", "readlink", "/proc/self/ns/ipc"]);
      assert.notEqual(own, ns, "a container of its own has its own IPC namespace");
    });

    it("--ipc container:<name> shares the donor's /dev/shm, of the donor's --shm-size, both ways", async () => {
      await dockerOk(e, ["run", "-d", "--name", "ns-shm", "--ipc", "shareable", "--shm-size", "8m", "busybox", "sleep", "300"]);
      await dockerOk(e, ["exec", "ns-shm", "sh", "-c", "echo from-donor > /dev/shm/a"]);
      const seen = await dockerOk(e, ["run", "--rm", "--ipc", "container:ns-shm", "busybox", "sh", "-c", "cat /dev/shm/a; echo from-joiner > /dev/shm/b; df -k /dev/shm | tail -1"]);
      const [line, df] = seen.split("\n");
      assert.equal(line, "from-donor");
      assert.equal(df!.trim().split(/\s+/)[1], "8192", "the donor's 8 MiB");
      assert.equal(await dockerOk(e, ["exec", "ns-shm", "cat", "/dev/shm/b"]), "from-joiner");
      // A restart begins with an empty /dev/shm, as dockerd's (its tmpfs goes when it ends).
      await dockerOk(e, ["restart", "-t", "0", "ns-shm"]);
      assert.equal(await dockerOk(e, ["exec", "ns-shm", "ls", "-A", "/dev/shm"]), "");
    });

    it("--uts takes no container: (only host)", async () => {
      const r = await e.docker(["run", "--rm", "--uts", "container:ns-donor", "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, /invalid UTS mode/);
    });

    it("--pid host is the host's pid namespace", async () => {
      const ns = await dockerOk(e, ["run", "--rm", "--pid", "host", "busybox", "readlink", "/proc/self/ns/pid"]);
      assert.equal(ns, readlinkSync("/proc/self/ns/pid"));
    });
  });
}
