// Security review of Pier's own runtime (PIER_RUNTIME=builtin, native/pier_runtime.c): images and
// volumes that try to make it build a weaker container than runc would. Each case is what an
// attacker who controls an image (or a volume's contents) would try; each must either be
// refused at create, as runc refuses it, or end in a container whose isolation is intact:
// procfs and sysfs only where the config puts them, masked and read-only paths in force,
// /sys/fs/cgroup read-only, nothing left on the host when a create fails.
//
// Pier-only (it drives the builtin runtime; runc's behaviour is checked beside it where it is
// the reference): skipped against an external engine. Nothing here writes to a kernel file: an
// exposure is detected from mountinfo and stat, never by using it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ROOT, startEngine, type Engine } from "../harness.js";

const external = !!process.env.PIER_TEST_DOCKER_HOST;

describe("builtin runtime (PIER_RUNTIME=builtin): hostile images and volumes", { skip: external }, () => {
  let runc: Engine;
  let builtin: Engine;
  let work: string;
  let pristine: string;
  before(async () => {
    runc = await startEngine({ daemonEnv: { PIER_RUNTIME: "runc" } });
    builtin = await startEngine({ daemonEnv: { PIER_RUNTIME: "builtin" } });
    work = mkdtempSync("/tmp/pier-rtsec-");
    // busybox's files, to be altered per case and imported into both engines.
    pristine = path.join(work, "busybox");
    mkdirSync(pristine);
    const c = (await runc.docker(["create", "busybox"])).stdout.trim();
    const exp = spawnSync("sh", ["-c", `docker export ${c} | tar -x -C ${pristine}`], { env: { ...process.env, DOCKER_HOST: runc.host } });
    assert.equal(exp.status, 0, exp.stderr.toString());
    await runc.docker(["rm", c]);
  });
  after(async () => {
    await runc?.stop();
    await builtin?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Whether the builtin engine created the container itself (its state is there). */
  const madeByBuiltin = (id: string) => existsSync(path.join(builtin.execRoot!, "builtin", id, "state.json"));

  /** A copy of busybox's files changed by `alter`, imported as `tag` into each engine. */
  function image(tag: string, alter: (root: string) => void): void {
    const root = path.join(work, tag.replace(/[^a-z0-9]/g, "_"));
    const cp = spawnSync("cp", ["-a", pristine, root]);
    assert.equal(cp.status, 0, cp.stderr.toString());
    alter(root);
    for (const e of [runc, builtin]) {
      const imp = spawnSync("sh", ["-c", `tar -C ${root} -c . | docker import - ${tag}`], { env: { ...process.env, DOCKER_HOST: e.host } });
      assert.equal(imp.status, 0, imp.stderr.toString());
    }
  }

  /**
   * Runs `script` in a container of `e` (detached, then exec'd, so the engine's create and its
   * start are the ones under test); the create's error when it is refused.
   */
  async function inContainer(e: Engine, args: string[], script: string): Promise<{ ok: true; out: string; id: string; builtin: boolean } | { ok: false; err: string }> {
    const r = await e.docker(["run", "-d", ...args, "sleep", "1000"]);
    if (r.code !== 0) {
      const id = (await e.docker(["ps", "-aql", "--no-trunc"])).stdout.trim();
      if (id) await e.docker(["rm", "-f", id]);
      return { ok: false, err: r.stderr };
    }
    const id = r.stdout.trim();
    try {
      const x = await e.docker(["exec", id, "sh", "-c", script]);
      return { ok: true, out: x.stdout + x.stderr, id, builtin: e === builtin && madeByBuiltin(id) };
    } finally {
      await e.docker(["rm", "-f", id]);
    }
  }

  // Every procfs and sysfs the container can reach, as "mountpoint fstype options" (read from
  // /t/p too: where the hostile image below would have put its procfs).
  const KERNEL_FS = "cat /t/p/self/mountinfo /proc/self/mountinfo 2>/dev/null | awk '$9 == \"proc\" || $9 == \"sysfs\" {print $5, $9, $6}' | sort -u";

  it("refuses to mount proc or sysfs through a symlink of the image (runc does), which would leave them unmasked and writable", async () => {
    // /proc -> /v/s -> /t/p: resolved while the image's /v is there, proc lands on /t/p; then
    // a volume on /v (its contents the attacker's: a previous run wrote them) replaces /v/s,
    // so every later "/proc/..." (masked paths, read-only /proc/sys, sysctls) resolves into the
    // volume instead, while /t/p is a procfs with nothing masked and /t/p/sys writable. The
    // volume's s/self leads back to the real procfs so the start (through /proc/self/fd) works.
    // Likewise /sys -> /v/s2 -> /t/s.
    image("hostile:proclink", (root) => {
      for (const [fs, via, at] of [["proc", "s", "p"], ["sys", "s2", "s"]] as const) {
        rmSync(path.join(root, fs), { recursive: true, force: true });
        symlinkSync(`/v/${via}`, path.join(root, fs));
        mkdirSync(path.join(root, "t", at), { recursive: true });
        mkdirSync(path.join(root, "v"), { recursive: true });
        symlinkSync(`/t/${at}`, path.join(root, "v", via));
      }
    });
    const vol = path.join(work, "proclink-volume");
    mkdirSync(path.join(vol, "s", "sys", "net", "ipv4"), { recursive: true });
    mkdirSync(path.join(vol, "s2"));
    for (const f of ["ping_group_range", "ip_unprivileged_port_start"]) writeFileSync(path.join(vol, "s", "sys", "net", "ipv4", f), "");
    symlinkSync("/t/p/self", path.join(vol, "s", "self"));
    const args = ["--network", "none", "-v", `${vol}:/v`];
    // (Pier's init layer now shadows an image's /proc and /sys with plain directories, as
    // Docker's does; the runtime must not depend on it: runc 1.1.5 refuses such a mount point.)
    const a = await inContainer(runc, [...args, "hostile:proclink"], KERNEL_FS);
    if (a.ok) assert.doesNotMatch(a.out, /^\/t\//m);
    else assert.match(a.err, /filesystem \\?"proc\\?" must be mounted on ordinary directory/);
    // With the default profile (its first container is runc's, the next the builtin runtime's)
    // and without one.
    for (const opts of [[], [], ["--security-opt", "seccomp=unconfined"]]) {
      const b = await inContainer(builtin, [...args, ...opts, "hostile:proclink"], KERNEL_FS);
      if (b.ok) assert.doesNotMatch(b.out, /^\/t\//m, `procfs or sysfs mounted where no mask reaches it:\n${b.out}`);
      else assert.match(b.err, /filesystem \\?"proc\\?" must be mounted on ordinary directory/);
    }
  });

  it("masks paths with the null device only, whatever the image's /dev leads to", async () => {
    // /dev -> /v/d: /dev's tmpfs lands on /v/d, then a volume on /v (the attacker's contents)
    // covers it, and "/dev/null" — the source of every masked path's bind, resolved after
    // pivot_root — is the volume's d/null: a link to a file the masks must never become.
    image("hostile:devlink", (root) => {
      rmSync(path.join(root, "dev"), { recursive: true, force: true });
      symlinkSync("/v/d", path.join(root, "dev"));
      mkdirSync(path.join(root, "v", "d"), { recursive: true });
    });
    const vol = path.join(work, "devlink-volume");
    mkdirSync(path.join(vol, "d"), { recursive: true });
    symlinkSync("/proc/sys/kernel/core_pattern", path.join(vol, "d", "null"));
    // What /proc/keys (a masked path) is: the null device, or a bind of something else.
    const script = "stat -c '%F %t:%T' /proc/keys; awk '$5 == \"/proc/keys\" {print $4, $6}' /proc/self/mountinfo";
    const args = ["--network", "none", "-v", `${vol}:/v`];
    for (const opts of [[], [], ["--security-opt", "seccomp=unconfined"]]) {
      const b = await inContainer(builtin, [...args, ...opts, "hostile:devlink"], script);
      // (refusing such a /dev is fine too: runc 1.1.5 does, as it cannot make its /dev/ptmx link)
      if (b.ok) assert.match(b.out, /^character special file 1:3\n\/null /, `a masked path is not the null device:\n${b.out}`);
    }
  });

  it("mounts no volume inside /proc through a symlink of the image (runc refuses it)", async () => {
    // /data -> /proc/sys: the volume would hide the real /proc/sys (and take its read-only
    // bind and the sysctls); the same through /proc/self could hide the init's own /proc
    // entry, through which it waits for its start.
    image("hostile:procvolume", (root) => {
      symlinkSync("/proc/sys", path.join(root, "data"));
    });
    const script = "stat -f -c %T /proc/sys";
    for (const [i, opts] of [[], [], ["--security-opt", "seccomp=unconfined"]].entries()) {
      const args = ["--network", "host", "-v", `rtsec-procvolume-${i}:/data`, ...opts, "hostile:procvolume"];
      const a = await inContainer(runc, args, script);
      assert.equal(a.ok, false, "runc refuses it");
      assert.match((a as { err: string }).err, /cannot be mounted because it is inside \/proc/);
      const b = await inContainer(builtin, args, script);
      if (b.ok) assert.equal(b.out, "proc\n", "/proc/sys is the kernel's");
      else assert.match(b.err, /cannot be mounted because it is inside \/proc/);
    }
  });

  it("binds the pty's slave on /dev/console (through its fd) as runc does", async () => {
    // The race this guards against (a volume's pts/N swapped between the open and the bind)
    // cannot be won on purpose here; what the fd-based bind must keep is runc's console.
    const script = "stat -c '%F %t' /dev/console; readlink /proc/1/fd/0; awk '$5 == \"/dev/console\" {print $4, $9}' /proc/self/mountinfo";
    const args = ["--network", "none", "-t", "--security-opt", "seccomp=unconfined", "busybox"];
    const a = await inContainer(runc, args, script);
    const b = await inContainer(builtin, args, script);
    assert.ok(a.ok && b.ok && b.builtin, "both ran, the second made by the builtin runtime");
    assert.equal(b.out, a.out);
    assert.match(b.out, /^character special file 88\n\/dev\/pts\/0\n\/0 devpts\n$/);
  });

  it("makes read-only binds read-only and propagates no mount to the host, as runc", async () => {
    // The remount and the propagation change go to the mount just made (checked by its mount
    // id and its source's inode), never to whatever the path leads to by then.
    const vol = path.join(work, "ro-volume");
    mkdirSync(vol, { recursive: true });
    writeFileSync(path.join(vol, "f"), "x");
    const script = "awk '$5 ~ /^\\/(data|file|slave)/ {print $5, $6, $9}' /proc/self/mountinfo | sort; echo y > /data/f 2>&1 || echo refused; mount -t tmpfs none /slave/sub && echo mounted";
    const args = ["--network", "none", "--privileged", "-v", `${vol}:/data:ro`, "-v", `${vol}/f:/file:ro`, "-v", `${vol}:/slave`, "busybox"];
    mkdirSync(path.join(vol, "sub"), { recursive: true });
    const a = await inContainer(runc, args, script);
    const b = await inContainer(builtin, args, script);
    assert.ok(a.ok && b.ok && b.builtin, `both ran, the second made by the builtin runtime: ${JSON.stringify([a, b])}`);
    assert.equal(b.out, a.out);
    for (const line of [/^\/data ro,/m, /^\/file ro,/m, /^\/slave rw,/m, /^refused$/m, /^mounted$/m]) assert.match(b.out, line);
    // The container's tmpfs on /slave/sub stays in the container.
    assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(path.join(vol, "sub")), "a container's mount reached the host");
  });

  it("is not held up by a fifo the image's /dev leads to where it makes /dev/console", async () => {
    // /dev -> /v/d -> /x: /dev's tmpfs and devpts land on /x; the volume on /v then makes
    // /dev its d, where d/pts leads back to the real devpts (so the pty opens) and d/console
    // is a fifo: opening it to make the console's mount point would wait for a reader for
    // ever, and the container's start (its lock) with it.
    image("hostile:consolefifo", (root) => {
      rmSync(path.join(root, "dev"), { recursive: true, force: true });
      symlinkSync("/v/d", path.join(root, "dev"));
      mkdirSync(path.join(root, "v"), { recursive: true });
      mkdirSync(path.join(root, "x"), { recursive: true });
      symlinkSync("/x", path.join(root, "v", "d"));
    });
    const vol = path.join(work, "consolefifo-volume");
    mkdirSync(path.join(vol, "d"), { recursive: true });
    symlinkSync("/x/pts", path.join(vol, "d", "pts"));
    assert.equal(spawnSync("mkfifo", [path.join(vol, "d", "console")]).status, 0);
    const r = await builtin.docker(["run", "-d", "-t", "--network", "none", "--security-opt", "seccomp=unconfined", "-v", `${vol}:/v`, "hostile:consolefifo", "sleep", "1000"], { timeoutMs: 60_000 });
    // Refused or running: either way it answered, and the container can be removed.
    const id = r.code === 0 ? r.stdout.trim() : (await builtin.docker(["ps", "-aql", "--no-trunc"])).stdout.trim();
    assert.equal((await builtin.docker(["rm", "-f", id], { timeoutMs: 60_000 })).code, 0);
  });

  it("refuses net sysctls in the host's network namespace joined through another container, as runc", async () => {
    // --network container:X where X has the host's network: the namespace joined is the host's,
    // and a net sysctl of the config would be written to the host's settings (runc checks the
    // namespace's inode against its own). The value is the current one, so that nothing changes
    // on the host should it get through.
    const current = readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim();
    const errs: string[] = [];
    for (const e of [runc, builtin]) {
      const x = (await e.docker(["run", "-d", "--network", "host", "busybox", "sleep", "1000"])).stdout.trim();
      try {
        const r = await e.docker(["run", "-d", "--name", "rtsec-hostnet-sysctl", "--network", `container:${x}`, "--security-opt", "seccomp=unconfined", "--sysctl", `net.ipv4.ip_unprivileged_port_start=${current}`, "busybox", "sleep", "1000"]);
        assert.notEqual(r.code, 0, `the container runs with a sysctl written to the host's network namespace (${e === builtin ? "builtin" : "runc"})`);
        errs.push(r.stderr);
      } finally {
        await e.docker(["rm", "-f", "rtsec-hostnet-sysctl", x]);
      }
    }
    assert.match(errs[0]!, /sysctl "net.ipv4.ip_unprivileged_port_start" not allowed in host network namespace/);
    assert.equal(errs[1], errs[0]);
  });

  it("gives the container's init the container's /dev/null, never the host's (runc reopens it)", async () => {
    // The monitor hands the runtime the host's /dev/null as stdin. Left as it is, every process
    // of the container inherits a file of the host's /dev: root in the container could chmod or
    // chown the host's null device through /proc/1/fd/0 (runc's reOpenDevNull).
    const script = "stat -L -c '%d:%i %t:%T' /proc/1/fd/0 /dev/null";
    for (const opts of [[], [], ["--security-opt", "seccomp=unconfined"]]) {
      const b = await inContainer(builtin, ["--network", "none", ...opts, "busybox"], script);
      assert.ok(b.ok, "it runs");
      const [stdin, devNull] = b.out.trim().split("\n");
      assert.equal(stdin, devNull, `the init's stdin is not the container's /dev/null:\n${b.out}`);
    }
    assert.ok((await inContainer(builtin, ["--network", "none", "--security-opt", "seccomp=unconfined", "busybox"], "true") as { builtin: boolean }).builtin, "made by the builtin runtime");
  });

  it("gives a tmpfs the mode of the directory it covers, as runc: an image's private directory stays private", async () => {
    // busybox's /root is 0700: a tmpfs on it keeps 0700 (runc), where the tmpfs default (1777)
    // would let any user of the container write into root's home. A new directory gets the
    // default, and an explicit mode= wins (runc since 1.1.8; 1.1.5 chmods it away: not compared).
    const script = "stat -c '%n %a' /root /newdir";
    const args = ["--network", "none", "--security-opt", "seccomp=unconfined", "--tmpfs", "/root", "--tmpfs", "/newdir", "busybox"];
    const a = await inContainer(runc, args, script);
    const b = await inContainer(builtin, args, script);
    assert.ok(a.ok && b.ok && b.builtin, `both ran, the second made by the builtin runtime: ${JSON.stringify([a, b])}`);
    assert.equal(b.out, a.out);
    assert.equal(b.out, "/root 700\n/newdir 1777\n");
    const c = await inContainer(builtin, ["--network", "none", "--security-opt", "seccomp=unconfined", "--tmpfs", "/root:mode=0750", "busybox"], "stat -c %a /root");
    assert.equal((c as { out: string }).out, "750\n");
  });

  /** The container's cgroup directories left on the host, and the builtin runtime's state. */
  const leftovers = (id: string) => [
    ...readdirSync("/sys/fs/cgroup").map((h) => path.join("/sys/fs/cgroup", h, "pier", id)),
    path.join(builtin.execRoot!, "builtin", id),
  ].filter((p) => existsSync(p));

  it("leaves no cgroup, state or process behind when a create fails, in the container's init", async () => {
    const cases: [string, string[]][] = [
      // a mount the kernel refuses: the container's init gives up (after it joined its cgroups)
      ["a file bound on a directory", ["-v", "/etc/hostname:/etc"]],
      // a sysctl the kernel does not have: written after pivot_root
      ["a missing sysctl", ["--sysctl", "net.ipv4.no_such_sysctl=1"]],
      // a tmpfs with no inodes left for the mount point made inside it (ENOSPC)
      ["a full tmpfs", ["--tmpfs", "/data:nr_inodes=2", "-v", `${work}:/data/a/b/c`]],
    ];
    for (const [name, opts] of cases) {
      const r = await builtin.docker(["create", "--network", "none", "--security-opt", "seccomp=unconfined", ...opts, "busybox", "sleep", "1000"]);
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.trim();
      const s = await builtin.docker(["start", id]);
      assert.notEqual(s.code, 0, `${name}: the start fails`);
      assert.deepEqual(leftovers(id), [], `${name}: left behind`);
      assert.doesNotMatch(spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout, new RegExp(`--runtime.*${id}`), `${name}: a runtime process left`);
      await builtin.docker(["rm", "-f", id]);
    }
  });
  it("leaves no cgroup or start fifo behind when the kernel refuses a cgroup limit (the runtime alone)", async () => {
    // A bare bundle whose cgroup is made under a devices cgroup that allows nothing: the first
    // rule runc adds (an allow) is refused by the kernel, after the container's cgroups were
    // made in every hierarchy and its start fifo was made. pierd removes what is left when it
    // can; the runtime must not count on it (a pierd killed meanwhile, `pier-exec --runtime` run
    // by hand), as runc does not.
    const { builtinPlan } = await import("../../src/container/builtin-runtime.js");
    const { buildSpec } = await import("../../src/runtime/index.js");
    const { BuiltinRuntime, encodePlanItems } = await import("../../src/sys/index.js");
    const id = `cgfail${process.pid}`;
    const parent = `rtsec-denied-${process.pid}`;
    const hierarchies = readdirSync("/sys/fs/cgroup");
    const dirs = (rel: string) => hierarchies.map((h) => path.join("/sys/fs/cgroup", h, rel)).filter((d) => existsSync(d));
    mkdirSync(path.join("/sys/fs/cgroup/devices", parent));
    const rt = new BuiltinRuntime(path.join(work, "cgfail-state"));
    try {
      writeFileSync(path.join("/sys/fs/cgroup/devices", parent, "devices.deny"), "a");
      const spec = buildSpec({
        id, rootfs: pristine, args: ["sleep", "1000"], env: ["PATH=/bin"], cwd: "/", user: { uid: 0, gid: 0, additionalGids: [] }, tty: false,
        hostname: "cgfail", hostConfig: { Privileged: false }, network: { mode: "new" }, cgroupsPath: `/${parent}/${id}`, mounts: [],
      });
      delete spec.linux!.seccomp;
      const plan = builtinPlan(spec, id);
      assert.ok("items" in plan, "unsupported" in plan ? plan.unsupported : "");
      const bundle = path.join(work, "cgfail-bundle");
      mkdirSync(bundle);
      writeFileSync(path.join(bundle, "runtime.plan"), encodePlanItems(plan.items));
      rt.prepare(id, { ...plan.state, pidFile: path.join(bundle, "pid") });
      const r = spawnSync(path.join(ROOT, "build/Release/pier-exec"), ["--runtime", `--root=${rt.root}`, "create", "--bundle", bundle, "--pid-file", path.join(bundle, "pid"), id], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /devices\.allow: operation not permitted/);
      assert.deepEqual(dirs(`${parent}/${id}`), [], "the container's cgroups are left");
      assert.deepEqual(readdirSync(path.join(rt.root, id)), ["state.json"], "the start fifo is left");
      assert.ok(!existsSync(path.join(bundle, "pid")));
    } finally {
      for (const d of [...dirs(`${parent}/${id}`), ...dirs(parent)]) rmdirSync(d);
    }
  });
  it(
    "kills the processes a container moved into cgroups of its own, and removes those cgroups, as runc",
    async () => {
      // A privileged container may make cgroups below its own (Docker in Docker, systemd) and
      // move processes into them. With the host's pid namespace nothing kills those when the
      // init dies: `rm -f` must find them in the subtree. And the subtree must go with the
      // container's cgroup, or every hierarchy keeps a directory (and the state dir stays).
      const script = [
        "for h in pids cpu freezer memory; do mkdir /sys/fs/cgroup/$h/sub; done",
        "sh -c 'for h in pids cpu freezer memory; do echo $$ > /sys/fs/cgroup/$h/sub/cgroup.procs; done; exec sleep 1000' &",
        "echo $!",
        "exec sleep 1000",
      ].join("\n");
      const r = await builtin.docker(["run", "-d", "--network", "none", "--privileged", "--pid", "host", "busybox", "sh", "-c", script]);
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.trim();
      let escaped = 0;
      try {
        assert.ok(madeByBuiltin(id), "made by the builtin runtime");
        for (let i = 0; i < 200 && !escaped; i++) {
          escaped = Number((await builtin.docker(["logs", id])).stdout.trim()) || 0;
          if (!escaped) await new Promise((res) => setTimeout(res, 50));
        }
        assert.ok(escaped > 0, "the moved process's pid");
        assert.equal((await builtin.docker(["rm", "-f", id])).code, 0);
        let alive = true;
        for (let i = 0; i < 100 && alive; i++) {
          alive = existsSync(`/proc/${escaped}`) && readFileSync(`/proc/${escaped}/cgroup`, "utf8").includes(id);
          if (alive) await new Promise((res) => setTimeout(res, 50));
        }
        assert.ok(!alive, "a process of the removed container still runs");
        assert.deepEqual(leftovers(id), [], "left behind");
      } finally {
        // What a failure left: the process (killed, and given time to leave its cgroups), then
        // the cgroups, deepest first.
        const stillOurs = () => {
          try {
            return readFileSync(`/proc/${escaped}/cgroup`, "utf8").includes(id);
          } catch {
            return false;
          }
        };
        if (escaped && stillOurs()) process.kill(escaped, "SIGKILL");
        for (let i = 0; i < 100 && escaped && stillOurs(); i++) await new Promise((res) => setTimeout(res, 50));
        await builtin.docker(["rm", "-f", id]);
        for (const h of readdirSync("/sys/fs/cgroup")) {
          for (const d of [path.join("/sys/fs/cgroup", h, "pier", id, "sub"), path.join("/sys/fs/cgroup", h, "pier", id)]) {
            try {
              rmdirSync(d);
            } catch {
              // not there
            }
          }
        }
      }
    },
  );
  it("refuses an image whose /etc/passwd is a FIFO at once, with either runtime, instead of hanging its start", async () => {
    // pierd reads the image's user database itself: a FIFO there hung the read (and the
    // container's lock, so rm -f hung too, and a thread of the pool per container).
    image("fifo-passwd", (root) => {
      rmSync(path.join(root, "etc", "passwd"));
      assert.equal(spawnSync("mkfifo", [path.join(root, "etc", "passwd")]).status, 0);
    });
    for (const e of [runc, builtin]) {
      const r = await e.docker(["run", "-d", "--name", "fifo-passwd", "fifo-passwd", "sleep", "1000"], { timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, "the start fails");
      assert.match(r.stderr, /\/etc\/passwd in the image is not a regular file/);
      assert.equal((await e.docker(["rm", "-f", "fifo-passwd"], { timeoutMs: 60_000 })).code, 0);
    }
  });
});
