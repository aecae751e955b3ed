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
