// Pier's own runtime (PIER_RUNTIME=builtin: `pier-exec --runtime` in runc's place for the create
// step) must make the same container runc makes. Two engines, one with the switch: for each set
// of options, a container of each is probed from the host and from inside, the way a user or
// an auditor would look (capabilities, seccomp, user, mounts, cgroups and their limits,
// hostname, ulimits, /dev, device access, interfaces, environment), and the outputs must be
// equal once the engines' own paths and the container IDs are taken out. Also: exit codes and
// errors, the lifecycle without runc's state, and an image whose /dev and /etc/hostname are
// symlinks to host paths.
//
// Pier-only (it compares two Pier engines): skipped against an external engine.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ROOT, startEngine, type Engine } from "../harness.js";

const external = !!process.env.PIER_TEST_DOCKER_HOST;

/** build/Release/pier-exec of this checkout. */
function nsExecHelperPath(): string {
  return path.join(ROOT, "build/Release/pier-exec");
}

/** The cgroup files whose values a probe compares (v1 names; missing ones compare as missing). */
const CGROUP_FILES = [
  "memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes", "memory/memory.soft_limit_in_bytes",
  "memory/memory.oom_control", "cpu/cpu.shares", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us",
  "cpuset/cpuset.cpus", "cpuset/cpuset.mems", "pids/pids.max", "devices/devices.list", "blkio/blkio.weight",
  "freezer/freezer.state",
];

/** Inside the container: what it sees of itself. */
const INSIDE = [
  "echo '== id'; id",
  "echo '== mountinfo'; awk '{ $1=\"\"; $2=\"\"; $3=\"\"; print }' /proc/self/mountinfo",
  "echo '== hostname'; hostname; cat /proc/sys/kernel/domainname",
  "echo '== ulimits'; ulimit -a",
  "echo '== dev'; find /dev -exec stat -c '%n %A %u %g %t %T %N' {} + | sort",
  "echo '== devnull'; echo x > /dev/null && echo written",
  "echo '== mknod'; mknod /tmp/blk b 8 0 && echo made; cat /tmp/blk > /dev/null 2>&1 && echo readable || echo unreadable; rm -f /tmp/blk",
  // (with the host's network, only lo and eth*: other interfaces come and go meanwhile)
  "echo '== net'; ip -o addr | awk '$2 ~ /^(lo|eth)/ {print $2, $3}'",
  "echo '== sysctl'; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range 2>&1",
  "echo '== env'; tr '\\0' '\\n' < /proc/1/environ | sort",
  "echo '== umask'; umask",
  "echo '== cwd'; pwd",
].join("; ");

describe("builtin runtime (PIER_RUNTIME=builtin) against runc", { skip: external }, () => {
  let runc: Engine;
  let builtin: Engine;
  before(async () => {
    runc = await startEngine({ daemonEnv: { PIER_RUNTIME: "runc" } });
    builtin = await startEngine({ daemonEnv: { PIER_RUNTIME: "builtin" } });
  });
  after(async () => {
    await runc?.stop();
    await builtin?.stop();
  });

  /** Whether the builtin engine created the container itself (its state is there). */
  const madeByBuiltin = (id: string) => existsSync(path.join(builtin.execRoot!, "builtin", id, "state.json"));

  /** Everything a probe compares, of a running container of `e` made with `args`. */
  async function probe(e: Engine, args: string[]): Promise<{ text: string; id: string }> {
    const r = await e.docker(["run", "-d", ...args, "busybox", "sleep", "1000"]);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    try {
      const pid = Number((await e.docker(["inspect", "-f", "{{.State.Pid}}", id])).stdout.trim());
      const host: string[] = ["== status", ...readFileSync(`/proc/${pid}/status`, "utf8").split("\n").filter((l) => /^(Cap|NoNewPrivs|Seccomp)/.test(l))];
      host.push("== cgroup", readFileSync(`/proc/${pid}/cgroup`, "utf8"));
      host.push("== limits");
      for (const f of CGROUP_FILES) {
        const [sub, file] = f.split("/") as [string, string];
        let v: string;
        try {
          // The kernel lists device rules in the order they were written: compare them as sets.
          v = readFileSync(path.join("/sys/fs/cgroup", sub, "pier", id, file), "utf8").trim().split("\n").sort().join("\n");
        } catch {
          v = "(none)";
        }
        host.push(`${f}: ${v}`);
      }
      host.push("== oom", readFileSync(`/proc/${pid}/oom_score_adj`, "utf8"));
      host.push("== keyring", ...readFileSync("/proc/keys", "utf8").split("\n").filter((l) => l.includes(`_ses.${id}`)).map((l) => l.split(/\s+/).filter((_, i) => i !== 0 && i !== 2).join(" ")));
      const inside = await e.docker(["exec", id, "sh", "-c", INSIDE]);
      assert.equal(inside.code, 0, inside.stderr);
      const text = [...host, inside.stdout]
        .join("\n")
        .replaceAll(id, "ID")
        .replaceAll(id.slice(0, 12), "SHORTID")
        .replaceAll(e.dataRoot!, "DATAROOT")
        .replace(/lowerdir=[^,]*,/g, "");
      return { text, id };
    } finally {
      await e.docker(["rm", "-f", id]);
    }
  }

  const SETS: [string, string[]][] = [
    ["defaults", ["--network", "none"]],
    ["the default bridge", []],
    ["host network", ["--network", "host"]],
    ["a user", ["--network", "none", "-u", "1000:1000"]],
    ["a user and a missing working dir", ["--network", "none", "-u", "1000", "-w", "/home/someone"]],
    ["a read-only rootfs", ["--network", "none", "--read-only"]],
    ["capabilities added and dropped", ["--network", "none", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"]],
    ["privileged", ["--network", "none", "--privileged"]],
    ["seccomp unconfined", ["--network", "none", "--security-opt", "seccomp=unconfined"]],
    ["no-new-privileges", ["--network", "none", "--security-opt", "no-new-privileges"]],
    ["memory, cpu and pids limits", ["--network", "none", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", "--cpu-shares", "512"]],
    ["swap, reservation and cpuset", ["--network", "none", "--memory", "32m", "--memory-swap", "64m", "--memory-reservation", "16m", "--cpuset-cpus", "0"]],
    ["ulimits", ["--network", "none", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100"]],
    ["a sysctl", ["--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80"]],
    ["a tmpfs", ["--network", "none", "--tmpfs", "/run:size=1m,noexec"]],
    ["a device", ["--network", "none", "--device", "/dev/fuse"]],
    ["hostname and domainname", ["--network", "none", "--hostname", "h1", "--domainname", "example.com"]],
    ["oom score and environment", ["--network", "none", "--oom-score-adj", "300", "-e", "HOME=/elsewhere", "-e", "A=b"]],
    ["a tty", ["--network", "none", "-t"]],
    ["host ipc, pid and uts", ["--network", "none", "--ipc", "host", "--pid", "host", "--uts", "host"]],
  ];

  for (const [name, args] of SETS) {
    it(`makes the same container as runc with ${name}`, async () => {
      // The first container of a seccomp profile is runc's in either engine (it compiles the
      // profile once): start one first, so the compared ones are the shim's.
      for (const e of [runc, builtin]) await e.docker(["run", "--rm", ...args, "busybox", "true"]);
      const a = await probe(runc, args);
      const b = await probe(builtin, args);
      assert.equal(b.text, a.text);
      assert.ok(!madeByBuiltin(b.id), "the state is removed with the container");
      // It was the builtin runtime's: the engine says so when it hands a container to runc.
      const r = await builtin.docker(["run", "-d", ...args, "busybox", "sleep", "100"]);
      const id = r.stdout.trim();
      try {
        assert.ok(madeByBuiltin(id), `not created by the builtin runtime: ${r.stderr}`);
      } finally {
        await builtin.docker(["rm", "-f", id]);
      }
    });
  }

  it("hands runc every resource limit it does not write itself", async () => {
    // A limit the plan silently left out would be a container with less isolation than its
    // config asks for (pierd emits none of these today; the config is checked key by key).
    const { builtinPlan } = await import("../../src/container/builtin-runtime.js");
    const { buildSpec } = await import("../../src/runtime/index.js");
    const base = () => {
      const s = buildSpec({
        id: "limits", rootfs: "/", args: ["true"], env: [], cwd: "/", user: { uid: 0, gid: 0, additionalGids: [] }, tty: false,
        hostname: "", hostConfig: {}, network: { mode: "new" }, cgroupsPath: "/pier/limits", mounts: [],
      });
      delete s.linux!.seccomp;
      return s;
    };
    assert.ok("items" in builtinPlan(base(), "limits"));
    const extra: [string, (r: Record<string, Record<string, unknown>>) => void][] = [
      ["cpu.burst", (r) => (r.cpu = { ...r.cpu, burst: 1000 })],
      ["cpu.idle", (r) => (r.cpu = { ...r.cpu, idle: 1 })],
      ["memory.kernel", (r) => (r.memory = { ...r.memory, kernel: 1 << 20 })],
      ["blockIO.throttleReadBpsDevice", (r) => (r.blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] })],
      ["hugepageLimits", (r) => (r.hugepageLimits = {})],
    ];
    for (const [what, add] of extra) {
      const s = base();
      s.linux!.resources = s.linux!.resources ?? {};
      add(s.linux!.resources as unknown as Record<string, Record<string, unknown>>);
      const p = builtinPlan(s, "limits");
      assert.ok("unsupported" in p, `${what} is left out instead of going to runc`);
    }
  });

  it("ends with the same exit codes and start errors as runc", async () => {
    const cases: [string[], string[]][] = [
      [[], ["true"]],
      [[], ["sh", "-c", "exit 1"]],
      [[], ["nosuchcommand"]],
      [[], ["/etc/passwd"]],
      [[], ["/no/such/file"]],
      [["--privileged"], ["nosuchcommand"]],
      [["--privileged"], ["/etc/passwd"]],
      [["--security-opt", "seccomp=unconfined", "-u", "1000"], ["sh", "-c", "exit 3"]],
    ];
    for (const [opts, cmd] of cases) {
      const a = await runc.docker(["run", "--rm", "--network", "none", ...opts, "busybox", ...cmd]);
      const b = await builtin.docker(["run", "--rm", "--network", "none", ...opts, "busybox", ...cmd]);
      assert.equal(b.code, a.code, `${cmd.join(" ")}: ${b.stderr}`);
      assert.equal(b.stderr.replace(/[0-9a-f]{64}/g, "ID"), a.stderr.replace(/[0-9a-f]{64}/g, "ID"));
    }
    for (const e of [runc, builtin]) {
      const r = await e.docker(["run", "-d", "--network", "none", "busybox", "sleep", "100"]);
      const id = r.stdout.trim();
      await e.docker(["kill", id]);
      assert.equal((await e.docker(["wait", id])).stdout.trim(), "137");
      await e.docker(["rm", id]);
    }
  });

  it("runs execs with a tty as runc does", async () => {
    const script = "tty; ls -l /proc/self/fd/0 | awk '{print $1, $3, $4, $NF}'; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; id; echo $HOME; stty size";
    const outs: string[] = [];
    for (const e of [runc, builtin]) {
      for (const opts of [["--network", "none"], ["--network", "none", "--security-opt", "seccomp=unconfined"]]) {
        const r = await e.docker(["run", "-d", ...opts, "busybox", "sleep", "1000"]);
        const id = r.stdout.trim();
        if (e === builtin && opts.length > 2) assert.ok(madeByBuiltin(id));
        for (const user of [[], ["-u", "1000"]]) {
          const x = await e.docker(["exec", "-t", ...user, id, "sh", "-c", script]);
          outs.push(`${x.code} ${x.stdout}`);
        }
        const bad = await e.docker(["exec", "-t", id, "nosuchcommand"]);
        outs.push(`${bad.code} ${bad.stdout}${bad.stderr}`);
        await e.docker(["rm", "-f", id]);
      }
    }
    assert.deepEqual(outs.slice(6), outs.slice(0, 6));
    assert.match(outs[0]!, /^0 \/dev\/pts\/0\r\n/);
  });

  it("runs the lifecycle of its containers without runc's state", async () => {
    const e = builtin;
    const r = await e.docker(["run", "-d", "--network", "none", "busybox", "sh", "-c", "sleep 1000 & sleep 1000"]);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.ok(madeByBuiltin(id));
    const cg = (sub: string, file: string) => readFileSync(path.join("/sys/fs/cgroup", sub, "pier", id, file), "utf8").trim();
    // pause / unpause: the freezer
    assert.equal((await e.docker(["pause", id])).code, 0);
    assert.equal(cg("freezer", "freezer.state"), "FROZEN");
    assert.equal((await e.docker(["inspect", "-f", "{{.State.Paused}}", id])).stdout.trim(), "true");
    assert.equal((await e.docker(["unpause", id])).code, 0);
    assert.equal(cg("freezer", "freezer.state"), "THAWED");
    // update: the cgroup files
    const u = await e.docker(["update", "--memory", "100m", "--memory-swap", "200m", "--pids-limit", "20", "--cpus", "1", id]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(cg("memory", "memory.limit_in_bytes"), String(100 * 1024 * 1024));
    assert.equal(cg("memory", "memory.memsw.limit_in_bytes"), String(200 * 1024 * 1024));
    assert.equal(cg("pids", "pids.max"), "20");
    assert.equal(cg("cpu", "cpu.cfs_quota_us"), "100000");
    // exec without a tty: the helper
    const ex = await e.docker(["exec", id, "sh", "-c", "echo hi"]);
    assert.equal(ex.stdout, "hi\n");
    // with a tty: the builtin runtime's `exec -d` in runc exec's place (the monitor drives it)
    const tty = await e.docker(["exec", "-t", id, "sh", "-c", "tty; exit 5"]);
    assert.equal(tty.code, 5);
    assert.equal(tty.stdout, "/dev/pts/0\r\n");
    // restart (kill of every process, a new create) and a pierd restart (state from disk)
    assert.equal((await e.docker(["restart", "-t", "1", id])).code, 0);
    // A pierd restarted with runc alone still drives the containers the runtime made.
    await e.restart!("SIGKILL", undefined, undefined, { PIER_RUNTIME: "runc" });
    assert.equal((await e.docker(["inspect", "-f", "{{.State.Running}}", id])).stdout.trim(), "true");
    assert.equal((await e.docker(["pause", id])).code, 0);
    assert.equal((await e.docker(["unpause", id])).code, 0);
    await e.restart!("SIGTERM", undefined, undefined, { PIER_RUNTIME: "builtin" });
    // stop: sh as pid 1 ignores SIGTERM, so the kill follows
    assert.equal((await e.docker(["stop", "-t", "1", id])).code, 0);
    assert.equal((await e.docker(["inspect", "-f", "{{.State.ExitCode}}", id])).stdout.trim(), "137");
    assert.equal((await e.docker(["rm", id])).code, 0);
    for (const sub of ["memory", "pids", "freezer", "unified"]) assert.ok(!existsSync(path.join("/sys/fs/cgroup", sub, "pier", id)), `${sub} cgroup removed`);
    assert.ok(!existsSync(path.join(e.execRoot!, "builtin", id)));
  });

  it("mounts nothing outside the rootfs of an image whose /etc files and /dev are symlinks to host paths", async () => {
    const work = mkdtempSync("/tmp/pier-escape-");
    const target = mkdtempSync("/tmp/pier-escape-target-");
    try {
      // busybox's files with /etc/hostname, /etc/hosts and /etc/resolv.conf turned into links
      // to host paths (absolute, and through ".."), imported as an image in both engines.
      const root = path.join(work, "root");
      mkdirSync(root);
      const c = (await runc.docker(["create", "busybox"])).stdout.trim();
      const exp = spawnSync("sh", ["-c", `docker export ${c} | tar -x -C ${root}`], { env: { ...process.env, DOCKER_HOST: runc.host } });
      assert.equal(exp.status, 0, exp.stderr.toString());
      await runc.docker(["rm", c]);
      for (const f of ["hostname", "hosts"]) {
        rmSync(path.join(root, "etc", f), { force: true });
        symlinkSync(path.join(target, f), path.join(root, "etc", f));
      }
      rmSync(path.join(root, "etc", "resolv.conf"), { force: true });
      symlinkSync(`../../../../../..${target}/resolv.conf`, path.join(root, "etc", "resolv.conf"));
      const load = (e: Engine, tag: string) => {
        const imp = spawnSync("sh", ["-c", `tar -C ${root} -c . | docker import - ${tag}`], { env: { ...process.env, DOCKER_HOST: e.host } });
        assert.equal(imp.status, 0, imp.stderr.toString());
      };
      const script = "awk '{print $5, $9}' /proc/self/mountinfo | sort; cat /etc/hostname; ls /dev/null";
      /** The script's output in containers of `image`: with a profile (twice: the first one is runc's, learning it) and without one. */
      const outputs = async (e: Engine, image: string) => {
        const outs: string[] = [];
        for (const [i, opts] of [[], [], ["--security-opt", "seccomp=unconfined"]].entries()) {
          const r = await e.docker(["run", "-d", "--network", "none", ...opts, image, "sleep", "1000"]);
          assert.equal(r.code, 0, r.stderr);
          const id = r.stdout.trim();
          if (e === builtin && i > 0) assert.ok(madeByBuiltin(id), "created by the builtin runtime");
          const x = await e.docker(["exec", id, "sh", "-c", script]);
          assert.equal(x.code, 0, x.stderr);
          outs.push(x.stdout.replaceAll(id.slice(0, 12), "SHORTID"));
          await e.docker(["rm", "-f", id]);
        }
        return outs;
      };
      const nothingOnHost = (who: string) => {
        for (const f of ["hostname", "hosts", "resolv.conf", "dev/ptmx", "dev/null"]) assert.ok(!existsSync(path.join(target, f)), `${f} made on the host by ${who}`);
        assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(target), `a mount on the host by ${who}`);
      };
      load(runc, "escape:etc");
      load(builtin, "escape:etc");
      const a = await outputs(runc, "escape:etc");
      nothingOnHost("runc");
      const b = await outputs(builtin, "escape:etc");
      nothingOnHost("the builtin runtime");
      // Whatever pierd makes of the links, the builtin runtime mounts where runc does.
      assert.deepEqual(b, a);

      // /dev too, pointing at a directory that exists on the host. (runc 1.1.5 makes its
      // /dev/ptmx link through such a /dev on the host's side: not run here.)
      mkdirSync(path.join(target, "dev"));
      rmSync(path.join(root, "dev"), { recursive: true, force: true });
      symlinkSync(path.join(target, "dev"), path.join(root, "dev"));
      load(builtin, "escape:dev");
      const d = await outputs(builtin, "escape:dev");
      nothingOnHost("the builtin runtime");
      // (pierd's init layer may shadow the image's /dev link; either way /dev is the container's.)
      for (const out of d) assert.match(out, new RegExp(`(^|\n)(/dev|${target}/dev) tmpfs\n`));
    } finally {
      rmSync(work, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  });
  it("resolves a bundle's symlinked /dev and /etc/hostname inside the rootfs (the runtime alone)", async () => {
    // A bare bundle for `pier-exec --runtime create`: busybox's files as a plain rootfs whose
    // /dev and /etc/hostname are links to host paths (absolute and through ".."), the default
    // mounts and a bind on /etc/hostname. Nothing may be made or mounted at those host paths.
    const work = mkdtempSync("/tmp/pier-rt-escape-");
    const target = mkdtempSync("/tmp/pier-rt-target-");
    const id = `escape${process.pid}`;
    const { builtinPlan } = await import("../../src/container/builtin-runtime.js");
    const { buildSpec } = await import("../../src/runtime/index.js");
    const { BuiltinRuntime, encodePlanItems } = await import("../../src/sys/index.js");
    const rt = new BuiltinRuntime(path.join(work, "state"));
    try {
      const rootfs = path.join(work, "rootfs");
      mkdirSync(rootfs);
      const c = (await builtin.docker(["create", "busybox"])).stdout.trim();
      const exp = spawnSync("sh", ["-c", `docker export ${c} | tar -x -C ${rootfs}`], { env: { ...process.env, DOCKER_HOST: builtin.host } });
      assert.equal(exp.status, 0, exp.stderr.toString());
      await builtin.docker(["rm", c]);
      mkdirSync(path.join(target, "dev"));
      rmSync(path.join(rootfs, "dev"), { recursive: true, force: true });
      symlinkSync(path.join(target, "dev"), path.join(rootfs, "dev"));
      rmSync(path.join(rootfs, "etc", "hostname"), { force: true });
      symlinkSync(`../../../../..${target}/hostname`, path.join(rootfs, "etc", "hostname"));
      const hostnameFile = path.join(work, "hostname");
      writeFileSync(hostnameFile, "escape\n");
      const spec = buildSpec({
        id, rootfs, args: ["sleep", "1000"], env: ["PATH=/bin"], cwd: "/", user: { uid: 0, gid: 0, additionalGids: [] }, tty: false,
        hostname: "escape", hostConfig: { Privileged: false }, network: { mode: "new" }, cgroupsPath: `/pier/${id}`,
        mounts: [{ destination: "/etc/hostname", type: "bind", source: hostnameFile, options: ["rbind", "rprivate"] }],
      });
      delete spec.linux!.seccomp;
      const plan = builtinPlan(spec, id);
      assert.ok("items" in plan, "unsupported" in plan ? plan.unsupported : "");
      const bundle = path.join(work, "bundle");
      mkdirSync(bundle);
      writeFileSync(path.join(bundle, "runtime.plan"), encodePlanItems(plan.items));
      rt.prepare(id, { ...plan.state, pidFile: path.join(bundle, "pid") });
      const errFile = path.join(work, "err");
      const r = spawnSync("sh", ["-c", `exec "$0" --runtime --root=${rt.root} create --bundle ${bundle} --pid-file ${bundle}/pid ${id} </dev/null >/dev/null 2>${errFile}`, nsExecHelperPath()]);
      assert.equal(r.status, 0, readFileSync(errFile, "utf8"));
      const pid = Number(readFileSync(path.join(bundle, "pid"), "utf8"));
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").map((l) => l.split(" ")[4]);
      // Inside the container's root, where the links point when it is "/".
      assert.ok(mounts.includes(`${target}/dev`), mounts.join(" "));
      assert.ok(mounts.includes(`${target}/hostname`), mounts.join(" "));
      assert.deepEqual(readdirSync(path.join(target, "dev")), [], "nothing made in the host's directory");
      assert.ok(!existsSync(path.join(target, "hostname")));
      assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(target), "a mount on the host");
    } finally {
      await rt.delete(id).catch(() => {});
      rmSync(work, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  });
});
