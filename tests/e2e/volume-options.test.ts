// The local volume driver's options (type, device, o), as compose's driver_opts use them: a
// tmpfs volume and a bind volume really mounted on the volume's _data while containers use it,
// shared between them, unmounted after the last; dockerd's errors for bad options and for a
// device that will not mount, with nothing left mounted. Passes against dockerd too
// (PIER_TEST_DOCKER_HOST); the pierd restart case runs only on a pierd the harness started.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, promises as fsp, readFileSync } from "node:fs";
import * as path from "node:path";
import { apiRequest, dockerOk, startEngine, type Engine } from "../harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mount points of the test's mount namespace (the engine's too), octal escapes undone. */
function mountPoints(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter(Boolean)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_x, o: string) => String.fromCharCode(parseInt(o, 8))));
}

function isMounted(p: string): boolean {
  return mountPoints().includes(p);
}

/** Nothing at or below the path is mounted. */
function nothingMountedUnder(p: string): boolean {
  return !mountPoints().some((m) => m === p || m.startsWith(`${p}/`));
}

/** Poll until `cond` holds; the machine is loaded, so the deadline is generous. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function mountpointOf(e: Engine, volume: string): Promise<string> {
  return dockerOk(e, ["volume", "inspect", "-f", "{{.Mountpoint}}", volume]);
}

describe("local volume options", () => {
  let e: Engine;
  let hostDirs: string;
  before(async () => {
    e = await startEngine();
    hostDirs = mkdtempSync("/var/tmp/pier-volopts-");
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(hostDirs, { recursive: true, force: true });
  });

  it("keeps the options and shows them in inspect as dockerd does", async () => {
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "shown"]);
    const v = JSON.parse(await dockerOk(e, ["volume", "inspect", "shown"]))[0];
    assert.deepEqual(v.Options, { device: "tmpfs", o: "size=1m", type: "tmpfs" });
    assert.equal(v.Driver, "local");
    const plain = await apiRequest(e, "POST", "/volumes/create", { Name: "plain-opts" });
    assert.equal(plain.status, 201);
    assert.equal(plain.json().Options, null);
    const empty = await apiRequest(e, "POST", "/volumes/create", { Name: "empty-opts", DriverOpts: {} });
    assert.deepEqual(empty.json().Options, {});
    // Created but never used: nothing is mounted yet.
    assert.equal(isMounted(v.Mountpoint), false);
    await dockerOk(e, ["volume", "rm", "shown", "plain-opts", "empty-opts"]);
  });

  it("refuses unknown and incomplete options with dockerd's words and 400", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ foo: "bar" }, 'invalid option: "foo"'],
      [{ o: "size=1m" }, 'missing required option: "device"'],
      [{ device: "tmpfs" }, 'missing required option: "type"'],
    ];
    for (const [opts, words] of cases) {
      const r = await apiRequest(e, "POST", "/volumes/create", { Name: "badopts", DriverOpts: opts });
      assert.equal(r.status, 400, `${JSON.stringify(opts)}: ${r.text}`);
      assert.equal(r.json().message, `create badopts: ${words}`);
    }
    // A size that does not parse: current moby answers 400 (dockerd 20.10 said 500).
    const size = await apiRequest(e, "POST", "/volumes/create", { Name: "badopts", DriverOpts: { size: "abc" } });
    assert.equal(size.json().message, "create badopts: invalid size: 'abc'");
    const cli = await e.docker(["volume", "create", "-o", "foo=bar", "badopts"]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /create badopts: invalid option: "foo"/);
    const ls = await dockerOk(e, ["volume", "ls", "-q"]);
    assert.equal(ls.split("\n").includes("badopts"), false);
  });

  it("a tmpfs volume is mounted while containers use it, shared, and gone with its data after the last stops", async () => {
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "tv"]);
    const mp = await mountpointOf(e, "tv");
    // The size is the tmpfs's: df shows 1024 1K-blocks.
    const df = await dockerOk(e, ["run", "--rm", "--network", "none", "-v", "tv:/t", "busybox", "df", "-k", "/t"]);
    const row = df.split("\n").find((l) => l.endsWith(" /t"));
    assert.ok(row, df);
    assert.match(row!, /^tmpfs\s+1024\s/);

    await dockerOk(e, ["run", "-d", "--name", "tv-a", "--network", "none", "-v", "tv:/t", "busybox", "sh", "-c", "echo shared > /t/f; exec sleep 1000"]);
    await dockerOk(e, ["run", "-d", "--name", "tv-b", "--network", "none", "-v", "tv:/t", "busybox", "sleep", "1000"]);
    assert.equal(isMounted(mp), true, "the tmpfs is mounted on the volume's _data");
    await until(async () => (await e.docker(["exec", "tv-b", "cat", "/t/f"])).stdout === "shared\n", "tv-b to see tv-a's file");
    const inUse = await e.docker(["volume", "rm", "tv"]);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /volume is in use/);

    await dockerOk(e, ["stop", "-t", "0", "tv-a"]);
    assert.equal(isMounted(mp), true, "still mounted while tv-b uses it");
    assert.equal((await e.docker(["exec", "tv-b", "cat", "/t/f"])).stdout, "shared\n");
    await dockerOk(e, ["stop", "-t", "0", "tv-b"]);
    await until(() => !isMounted(mp), "the tmpfs to be unmounted after the last container stopped");

    // A new mount is a new tmpfs: the data went with the old one.
    const ls = await dockerOk(e, ["run", "--rm", "--network", "none", "-v", "tv:/t", "busybox", "ls", "-A", "/t"]);
    assert.equal(ls, "");
    await dockerOk(e, ["rm", "tv-a", "tv-b"]);
    await dockerOk(e, ["volume", "rm", "tv"]);
    assert.equal(nothingMountedUnder(path.dirname(mp)), true);
  });

  it("a bind volume (type=none, o=bind, device=dir) puts the container's writes in the host directory", async () => {
    const dir = path.join(hostDirs, "bind");
    await fsp.mkdir(dir);
    await dockerOk(e, ["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${dir}`, "bv"]);
    const mp = await mountpointOf(e, "bv");
    await dockerOk(e, ["run", "--rm", "--network", "none", "-v", "bv:/data", "busybox", "sh", "-c", "echo from-container > /data/written"]);
    assert.equal(await fsp.readFile(path.join(dir, "written"), "utf8"), "from-container\n");
    await fsp.writeFile(path.join(dir, "from-host"), "host\n");
    assert.equal(await dockerOk(e, ["run", "--rm", "--network", "none", "-v", "bv:/data", "busybox", "cat", "/data/from-host"]), "host");
    await until(() => !isMounted(mp), "the bind volume to be unmounted");
    // Removing the volume never touches the host directory's content.
    await dockerOk(e, ["volume", "rm", "bv"]);
    assert.equal(existsSync(path.join(dir, "written")), true);
    assert.equal(existsSync(path.join(dir, "from-host")), true);
  });

  it("copies the image's content into an empty bind volume's host directory, as dockerd does", async () => {
    const dir = path.join(hostDirs, "copyup");
    await fsp.mkdir(dir);
    await dockerOk(e, ["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${dir}`, "cv"]);
    await dockerOk(e, ["run", "--rm", "--network", "none", "-v", "cv:/etc", "busybox", "true"]);
    assert.equal(existsSync(path.join(dir, "passwd")), true, "busybox's /etc/passwd copied to the host directory");
    await dockerOk(e, ["volume", "rm", "cv"]);
  });

  it("docker cp to and from a stopped container goes through its bind volume to the host directory", async () => {
    const dir = path.join(hostDirs, "cp");
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, "on-host"), "host file\n");
    const src = path.join(hostDirs, "cp-src");
    await fsp.writeFile(src, "copied in\n");
    await dockerOk(e, ["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${dir}`, "cpv"]);
    const mp = await mountpointOf(e, "cpv");
    await dockerOk(e, ["create", "--name", "cp-stopped", "--network", "none", "-v", "cpv:/data", "busybox", "true"]);
    await dockerOk(e, ["cp", src, "cp-stopped:/data/copied"]);
    assert.equal(await fsp.readFile(path.join(dir, "copied"), "utf8"), "copied in\n");
    const out = path.join(hostDirs, "cp-out");
    await dockerOk(e, ["cp", "cp-stopped:/data/on-host", out]);
    assert.equal(await fsp.readFile(out, "utf8"), "host file\n");
    await until(() => !isMounted(mp), "the volume to be unmounted after the copies");
    await dockerOk(e, ["rm", "cp-stopped"]);
    await dockerOk(e, ["volume", "rm", "cpv"]);
  });

  it("o=ro on a bind volume makes it read-only in the container", async () => {
    const dir = path.join(hostDirs, "ro");
    await fsp.mkdir(dir);
    await dockerOk(e, ["volume", "create", "-o", "type=none", "-o", "o=bind,ro", "-o", `device=${dir}`, "rov"]);
    const r = await e.docker(["run", "--rm", "--network", "none", "-v", "rov:/data", "busybox", "touch", "/data/x"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(existsSync(path.join(dir, "x")), false);
    await dockerOk(e, ["volume", "rm", "rov"]);
  });

  it("--mount volume-opt creates the volume with those options", async () => {
    const df = await dockerOk(e, ["run", "--rm", "--network", "none", "--mount", "type=volume,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m", "busybox", "df", "-k", "/t"]);
    assert.match(df.split("\n").find((l) => l.endsWith(" /t")) ?? df, /^tmpfs\s+2048\s/);
  });

  it("a device that will not mount fails the start with dockerd's message; nothing is left mounted", async () => {
    const missing = path.join(hostDirs, "does-not-exist");
    await dockerOk(e, ["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${missing}`, "badbind"]);
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,nosuchoption=1", "badtmpfs"]);
    const mpBind = await mountpointOf(e, "badbind");
    const mpTmpfs = await mountpointOf(e, "badtmpfs");

    const run = await e.docker(["run", "--rm", "--network", "none", "-v", "badbind:/t", "busybox", "true"]);
    assert.notEqual(run.code, 0);
    assert.ok(
      run.stderr.includes(`error while mounting volume '${mpBind}': failed to mount local volume: mount ${missing}:${mpBind}, flags: 0x1000: no such file or directory`),
      run.stderr,
    );

    const id = await dockerOk(e, ["create", "--network", "none", "-v", "badtmpfs:/t", "busybox", "true"]);
    const start = await apiRequest(e, "POST", `/containers/${id}/start`);
    assert.equal(start.status, 500);
    assert.equal(start.json().message, `error while mounting volume '${mpTmpfs}': failed to mount local volume: mount tmpfs:${mpTmpfs}, data: size=1m,nosuchoption=1: invalid argument`);
    const state = JSON.parse(await dockerOk(e, ["inspect", "-f", "{{json .State}}", id]));
    assert.equal(state.Status, "created");
    assert.equal(state.ExitCode, 128);
    assert.match(state.Error, /failed to mount local volume/);

    assert.equal(nothingMountedUnder(mpBind), true);
    assert.equal(nothingMountedUnder(mpTmpfs), true);
    // Nothing holds the volumes: once the container is gone they can be removed.
    await dockerOk(e, ["rm", id]);
    await dockerOk(e, ["volume", "rm", "badbind", "badtmpfs"]);
  });

  it("a second container's failed mount leaves the first one's volume mounted", async () => {
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "keep"]);
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=bogus=1", "broken"]);
    const mp = await mountpointOf(e, "keep");
    await dockerOk(e, ["run", "-d", "--name", "keeper", "--network", "none", "-v", "keep:/k", "busybox", "sleep", "1000"]);
    const r = await e.docker(["run", "--rm", "--network", "none", "-v", "keep:/k", "-v", "broken:/b", "busybox", "true"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed to mount local volume/);
    assert.equal(isMounted(mp), true, "keeper's volume stays mounted");
    await dockerOk(e, ["rm", "-f", "keeper"]);
    await until(() => !isMounted(mp), "keep to be unmounted after keeper went");
    await dockerOk(e, ["volume", "rm", "keep", "broken"]);
  });

  it("after a pierd restart the running containers still hold their volume", async (t) => {
    if (!e.restart) return t.skip("needs a pierd the harness started");
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "lrv"]);
    const mp = await mountpointOf(e, "lrv");
    await dockerOk(e, ["run", "-d", "--name", "lr-a", "--network", "none", "-v", "lrv:/t", "busybox", "sh", "-c", "echo kept > /t/f; exec sleep 1000"]);
    await dockerOk(e, ["run", "-d", "--name", "lr-b", "--network", "none", "-v", "lrv:/t", "busybox", "sleep", "1000"]);
    // A third user ends while pierd is down: its hold goes with the restore.
    await dockerOk(e, ["run", "-d", "--name", "lr-c", "--network", "none", "-v", "lrv:/t", "busybox", "sh", "-c", "while [ ! -f /t/down ]; do sleep 0.05; done"]);
    await until(async () => (await e.docker(["exec", "lr-b", "cat", "/t/f"])).stdout === "kept\n", "lr-a's file");
    const pidC = await dockerOk(e, ["inspect", "-f", "{{.State.Pid}}", "lr-c"]);
    await e.restart("SIGKILL", async () => {
      await fsp.writeFile(path.join(mp, "down"), "");
      await until(() => !existsSync(`/proc/${pidC}`), "lr-c's process to end while pierd is down");
    });
    await until(async () => (await dockerOk(e, ["inspect", "-f", "{{.State.Status}}", "lr-c"])) === "exited", "lr-c to be seen exited");
    assert.equal(isMounted(mp), true);
    await dockerOk(e, ["stop", "-t", "0", "lr-a"]);
    assert.equal(isMounted(mp), true, "lr-b still holds it");
    assert.equal((await e.docker(["exec", "lr-b", "cat", "/t/f"])).stdout, "kept\n");
    await dockerOk(e, ["stop", "-t", "0", "lr-b"]);
    await until(() => !isMounted(mp), "the volume to be unmounted after the last restored container stopped");
    await dockerOk(e, ["rm", "lr-a", "lr-b", "lr-c"]);
    await dockerOk(e, ["volume", "rm", "lrv"]);
  });

  it("after a pierd restart a volume whose containers all ended meanwhile is unmounted", async (t) => {
    if (!e.restart) return t.skip("needs a pierd the harness started");
    await dockerOk(e, ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "gone"]);
    const mp = await mountpointOf(e, "gone");
    await dockerOk(e, ["run", "-d", "--name", "gone-a", "--network", "none", "-v", "gone:/t", "busybox", "sh", "-c", "while [ ! -f /t/down ]; do sleep 0.05; done"]);
    assert.equal(isMounted(mp), true);
    const pid = await dockerOk(e, ["inspect", "-f", "{{.State.Pid}}", "gone-a"]);
    await e.restart("SIGKILL", async () => {
      await fsp.writeFile(path.join(mp, "down"), "");
      await until(() => !existsSync(`/proc/${pid}`), "gone-a's process to end while pierd is down");
    });
    await until(() => !isMounted(mp), "the unheld volume to be unmounted after the restore");
    await dockerOk(e, ["rm", "gone-a"]);
    await dockerOk(e, ["volume", "rm", "gone"]);
  });
});
