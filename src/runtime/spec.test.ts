import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { isKind } from "../errdefs/index.js";
import type { Mount, Spec } from "../oci/index.js";
import {
  availableCapabilities,
  buildSpec,
  CAPABILITY_NAMES,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  mergeTmpfsOptions,
  RLIM_INFINITY,
  specToJSON,
  type SpecOptions,
} from "./spec.js";

function opts(over: Partial<SpecOptions> = {}): SpecOptions {
  return {
    id: "c1",
    rootfs: "/var/lib/pier/rootfs/c1",
    args: ["/bin/sh", "-c", "true"],
    env: ["PATH=/usr/bin:/bin"],
    cwd: "",
    user: { uid: 0, gid: 0, additionalGids: [0, 10] },
    tty: false,
    hostname: "c1host",
    hostConfig: {},
    mounts: [],
    network: { mode: "new" },
    cgroupsPath: "/pier/c1",
    ...over,
  };
}

function invalid(re: RegExp | string) {
  return (e: unknown) => {
    assert.ok(isKind(e, "InvalidParameter"), `expected InvalidParameter, got ${String(e)}`);
    if (typeof re === "string") assert.equal((e as Error).message, re);
    else assert.match((e as Error).message, re);
    return true;
  };
}

const mount = (s: Spec, dest: string): Mount | undefined => s.mounts!.find((m) => m.destination === dest);

test("defaults match Docker's DefaultLinuxSpec", () => {
  const s = buildSpec(opts());
  assert.equal(s.root.path, "/var/lib/pier/rootfs/c1");
  assert.equal(s.root.readonly, false);
  assert.equal(s.hostname, "c1host");
  assert.deepEqual(s.process.args, ["/bin/sh", "-c", "true"]);
  assert.deepEqual(s.process.env, ["PATH=/usr/bin:/bin"]);
  assert.equal(s.process.cwd, "/");
  assert.equal(s.process.terminal, false);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [0, 10] });
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.process.noNewPrivileges, undefined);
  assert.equal(s.process.rlimits, undefined);

  const caps = s.process.capabilities!;
  assert.deepEqual(caps.bounding, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(caps.effective, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(caps.permitted, [...DEFAULT_CAPABILITIES]);
  assert.equal(caps.inheritable, undefined);
  assert.equal(caps.ambient, undefined);
  assert.equal(DEFAULT_CAPABILITIES.length, 14);

  assert.deepEqual(
    s.linux!.namespaces,
    [{ type: "mount" }, { type: "network" }, { type: "uts" }, { type: "pid" }, { type: "ipc" }],
  );
  assert.equal(s.linux!.cgroupsPath, "/pier/c1");
  assert.equal(s.linux!.rootfsPropagation, undefined);
  assert.deepEqual(s.mounts, [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"] },
  ]);
  assert.deepEqual(s.linux!.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.ok(s.linux!.maskedPaths!.includes("/proc/kcore"));
  assert.ok(s.linux!.maskedPaths!.includes("/sys/firmware"));
  assert.deepEqual(s.linux!.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  assert.equal(s.linux!.devices, undefined); // runc creates null, zero, full, random, urandom, tty, ptmx itself
  assert.deepEqual(s.linux!.resources!.devices, [
    { allow: false, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
    { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
    { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
    { allow: false, type: "c", major: 10, minor: 229, access: "rwm" },
  ]);
  assert.deepEqual(s.linux!.resources!.memory, { disableOOMKiller: false });
  assert.deepEqual(s.linux!.resources!.cpu, { shares: 0 });
  assert.equal(s.linux!.resources!.pids, undefined);
  const sc = s.linux!.seccomp!;
  assert.equal(sc.defaultAction, "SCMP_ACT_ERRNO");
  assert.ok(sc.syscalls!.some((r) => r.names.includes("read")));
  assert.ok(!sc.syscalls!.some((r) => r.names.includes("mount") && r.action === "SCMP_ACT_ALLOW"));
});

test("cwd, tty, oom score, domainname, read-only rootfs", () => {
  const s = buildSpec(
    opts({ cwd: "/work", tty: true, domainname: "example.org", hostConfig: { OomScoreAdj: 500, ReadonlyRootfs: true } }),
  );
  assert.equal(s.process.cwd, "/work");
  assert.equal(s.process.terminal, true);
  assert.equal(s.process.oomScoreAdj, 500);
  assert.equal(s.linux!.sysctl!["kernel.domainname"], "example.org");
  assert.equal(s.root.readonly, true);
  assert.throws(() => buildSpec(opts({ hostConfig: { OomScoreAdj: 1001 } })), invalid("Invalid value 1001, range for oom score adj is [-1000, 1000]"));
});

test("non-root users only get the bounding set, as after execve", () => {
  const s = buildSpec(opts({ user: { uid: 1000, gid: 1000, additionalGids: [1000] } }));
  assert.deepEqual(s.process.capabilities, { bounding: [...DEFAULT_CAPABILITIES] });
  assert.ok(s.linux!.seccomp); // seccomp still resolved against the bounding set
});

test("CapAdd / CapDrop with and without CAP_, any case", () => {
  const s = buildSpec(opts({ hostConfig: { CapAdd: ["sys_admin", "CAP_NET_ADMIN"], CapDrop: ["mknod", "CAP_NET_RAW"] } }));
  const caps = s.process.capabilities!.bounding!;
  assert.ok(caps.includes("CAP_SYS_ADMIN") && caps.includes("CAP_NET_ADMIN"));
  assert.ok(!caps.includes("CAP_MKNOD") && !caps.includes("CAP_NET_RAW"));
  assert.equal(caps.length, 14);
  assert.deepEqual(s.process.capabilities!.effective, caps);
  // seccomp follows the capabilities: with SYS_ADMIN, mount is allowed
  assert.ok(s.linux!.seccomp!.syscalls!.some((r) => r.names.includes("mount") && r.action === "SCMP_ACT_ALLOW"));
  // adding a default capability does not duplicate it
  const dup = buildSpec(opts({ hostConfig: { CapAdd: ["CHOWN"] } }));
  assert.deepEqual(dup.process.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
});

test("CapAdd ALL / CapDrop ALL", () => {
  const all = buildSpec(opts({ hostConfig: { CapAdd: ["ALL"], CapDrop: ["SYS_ADMIN"] } }));
  assert.deepEqual(all.process.capabilities!.bounding, availableCapabilities().filter((c) => c !== "CAP_SYS_ADMIN"));
  const none = buildSpec(opts({ hostConfig: { CapDrop: ["all"], CapAdd: ["chown"] } }));
  assert.deepEqual(none.process.capabilities!.bounding, ["CAP_CHOWN"]);
  const empty = buildSpec(opts({ hostConfig: { CapDrop: ["ALL"] } }));
  assert.deepEqual(empty.process.capabilities!.bounding, []);
});

test("unknown capabilities are rejected with Docker's message", () => {
  assert.throws(() => buildSpec(opts({ hostConfig: { CapAdd: ["CAP_FOO"] } })), invalid('unknown capability: "CAP_FOO"'));
  assert.throws(() => buildSpec(opts({ hostConfig: { CapDrop: ["foo"] } })), invalid('unknown capability: "CAP_FOO"'));
  const unavailable = CAPABILITY_NAMES.find((c) => !availableCapabilities().includes(c));
  if (unavailable) {
    assert.throws(
      () => buildSpec(opts({ hostConfig: { CapAdd: [unavailable] } })),
      invalid(`capability not supported by your kernel or not available in the current environment: "${unavailable}"`),
    );
  }
});

test("privileged: all capabilities, no seccomp, no masks, rw /sys, all host devices", () => {
  const s = buildSpec(opts({ hostConfig: { Privileged: true } }));
  const caps = s.process.capabilities!;
  assert.deepEqual(caps.bounding, availableCapabilities());
  assert.deepEqual(caps.effective, availableCapabilities());
  assert.ok(caps.bounding!.includes("CAP_SYS_ADMIN"));
  assert.ok(caps.bounding!.length <= Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8")) + 1);
  assert.equal(s.linux!.seccomp, undefined);
  assert.equal(s.linux!.maskedPaths, undefined);
  assert.equal(s.linux!.readonlyPaths, undefined);
  assert.deepEqual(mount(s, "/sys")!.options, ["nosuid", "noexec", "nodev"]);
  assert.deepEqual(mount(s, "/sys/fs/cgroup")!.options, ["nosuid", "noexec", "nodev"]);
  assert.deepEqual(s.linux!.resources!.devices, [{ allow: true, access: "rwm" }]);
  const devNull = s.linux!.devices!.find((d) => d.path === "/dev/null");
  assert.deepEqual({ ...devNull, fileMode: undefined, uid: undefined, gid: undefined }, {
    path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: undefined, uid: undefined, gid: undefined,
  });
  assert.ok(!s.linux!.devices!.some((d) => d.path.startsWith("/dev/pts/") || d.path === "/dev/console"));
  // explicit lists from HostConfig still apply
  const p2 = buildSpec(opts({ hostConfig: { Privileged: true, MaskedPaths: ["/proc/kcore"], ReadonlyPaths: [] } }));
  assert.deepEqual(p2.linux!.maskedPaths, ["/proc/kcore"]);
  assert.equal(p2.linux!.readonlyPaths, undefined);
});

test("MaskedPaths/ReadonlyPaths from HostConfig replace the defaults", () => {
  const s = buildSpec(opts({ hostConfig: { MaskedPaths: [], ReadonlyPaths: ["/proc/sys"] } }));
  assert.equal(s.linux!.maskedPaths, undefined);
  assert.deepEqual(s.linux!.readonlyPaths, ["/proc/sys"]);
});

test("SecurityOpt: no-new-privileges, seccomp, label, apparmor, invalid", () => {
  assert.equal(buildSpec(opts({ hostConfig: { SecurityOpt: ["no-new-privileges"] } })).process.noNewPrivileges, true);
  assert.equal(buildSpec(opts({ hostConfig: { SecurityOpt: ["no-new-privileges=true"] } })).process.noNewPrivileges, true);
  assert.equal(buildSpec(opts({ hostConfig: { SecurityOpt: ["no-new-privileges:true"] } })).process.noNewPrivileges, true);
  assert.equal(buildSpec(opts({ hostConfig: { SecurityOpt: ["no-new-privileges=false"] } })).process.noNewPrivileges, undefined);
  assert.throws(
    () => buildSpec(opts({ hostConfig: { SecurityOpt: ["no-new-privileges=maybe"] } })),
    invalid('invalid --security-opt 2: "no-new-privileges=maybe"'),
  );
  assert.equal(buildSpec(opts({ hostConfig: { SecurityOpt: ["seccomp=unconfined"] } })).linux!.seccomp, undefined);
  assert.equal(buildSpec(opts({ hostConfig: { SecurityOpt: ["seccomp=builtin"] } })).linux!.seccomp!.defaultAction, "SCMP_ACT_ERRNO");
  const custom = JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["chmod"], action: "SCMP_ACT_ERRNO" }] });
  assert.deepEqual(buildSpec(opts({ hostConfig: { SecurityOpt: [`seccomp=${custom}`] } })).linux!.seccomp, {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["chmod"], action: "SCMP_ACT_ERRNO" }],
  });
  assert.throws(() => buildSpec(opts({ hostConfig: { SecurityOpt: ["seccomp={bad"] } })), invalid(/^Decoding seccomp profile failed/));
  for (const ok of ["label=disable", "label:type:svirt_t", "disable", "apparmor=unconfined", "apparmor=docker-default"]) {
    const s = buildSpec(opts({ hostConfig: { SecurityOpt: [ok] } }));
    if (!fs.existsSync("/sys/kernel/security/apparmor")) assert.equal(s.process.apparmorProfile, undefined);
  }
  assert.throws(() => buildSpec(opts({ hostConfig: { SecurityOpt: ["foo=bar"] } })), invalid('invalid --security-opt 2: "foo=bar"'));
  assert.throws(() => buildSpec(opts({ hostConfig: { SecurityOpt: ["foo"] } })), invalid('invalid --security-opt 1: "foo"'));
  // privileged wins over a seccomp profile
  assert.equal(buildSpec(opts({ hostConfig: { Privileged: true, SecurityOpt: ["seccomp=builtin"] } })).linux!.seccomp, undefined);
});

test("daemon seccomp profile is used when the container names none", () => {
  const daemon = JSON.stringify({ defaultAction: "SCMP_ACT_LOG" });
  assert.deepEqual(buildSpec(opts({ seccompProfile: daemon })).linux!.seccomp, { defaultAction: "SCMP_ACT_LOG" });
  assert.equal(
    buildSpec(opts({ seccompProfile: daemon, hostConfig: { SecurityOpt: ["seccomp=builtin"] } })).linux!.seccomp!.defaultAction,
    "SCMP_ACT_ERRNO",
  );
});

test("sysctls: namespaced ones pass, others are refused", () => {
  const s = buildSpec(
    opts({ hostConfig: { Sysctls: { "kernel.shmmax": "1000000", "net.ipv4.ip_forward": "1", "fs.mqueue.msg_max": "20", "kernel.sem": "1 2 3 4" } } }),
  );
  assert.equal(s.linux!.sysctl!["kernel.shmmax"], "1000000");
  assert.equal(s.linux!.sysctl!["net.ipv4.ip_forward"], "1");
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Sysctls: { "kernel.panic": "1" } } })),
    invalid('sysctl "kernel.panic" is not in a separate kernel namespace'),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Sysctls: { "vm.swappiness": "1" } } })),
    invalid('sysctl "vm.swappiness" is not in a separate kernel namespace'),
  );
  assert.throws(
    () => buildSpec(opts({ network: { mode: "host" }, hostConfig: { Sysctls: { "net.ipv4.ip_forward": "1" } } })),
    invalid('sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { IpcMode: "host", Sysctls: { "kernel.shmmax": "1" } } })),
    invalid('sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace'),
  );
  assert.throws(() => buildSpec(opts({ hostConfig: { Sysctls: { "kernel.hostname": "x" } } })), invalid(/conflicts with the OCI "hostname" field/));
});

test("Docker's default network sysctls only for a private network namespace", () => {
  const own = buildSpec(opts()).linux!.sysctl ?? {};
  if (fs.existsSync("/proc/sys/net/ipv4/ip_unprivileged_port_start")) {
    assert.equal(own["net.ipv4.ip_unprivileged_port_start"], "0");
  }
  if (fs.existsSync("/proc/sys/net/ipv4/ping_group_range")) assert.equal(own["net.ipv4.ping_group_range"], "0 2147483647");
  assert.equal(buildSpec(opts({ network: { mode: "host" } })).linux!.sysctl, undefined);
  const joined = buildSpec(opts({ network: { mode: "path", path: "/proc/1/ns/net", fromContainer: true } }));
  assert.equal(joined.linux!.sysctl, undefined);
  // the user's value wins
  const mine = buildSpec(opts({ hostConfig: { Sysctls: { "net.ipv4.ip_unprivileged_port_start": "1024" } } }));
  assert.equal(mine.linux!.sysctl!["net.ipv4.ip_unprivileged_port_start"], "1024");
});

test("tmpfs: Docker's defaults merged with the options string", () => {
  const s = buildSpec(opts({ hostConfig: { Tmpfs: { "/run": "rw,noexec,size=64m", "/tmp": "", "/x/y": "exec,mode=1777" } } }));
  assert.deepEqual(mount(s, "/run"), {
    destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "rprivate", "rw", "noexec", "size=64m"],
  });
  assert.deepEqual(mount(s, "/tmp")!.options, ["noexec", "nosuid", "nodev", "rprivate"]);
  assert.deepEqual(mount(s, "/x/y")!.options, ["nosuid", "nodev", "rprivate", "exec", "mode=1777"]);
  // user mounts come after the defaults, shallowest first
  const dests = s.mounts!.map((m) => m.destination);
  assert.ok(dests.indexOf("/x/y") > dests.indexOf("/run") && dests.indexOf("/run") > dests.indexOf("/dev/shm"));
  assert.deepEqual(mergeTmpfsOptions(["ro", "rw", "size=1", "size=2", "defaults", "shared", "rslave"]), ["rw", "size=2", "rslave"]);
  assert.throws(() => buildSpec(opts({ hostConfig: { Tmpfs: { "/run": "bogus" } } })), invalid('invalid tmpfs option ["bogus"]'));
  assert.throws(() => buildSpec(opts({ hostConfig: { Tmpfs: { "/run": "foo=1" } } })), invalid('invalid tmpfs option ["foo" "1"]'));
  assert.throws(() => buildSpec(opts({ hostConfig: { Tmpfs: { run: "" } } })), invalid(/mount path must be absolute/));
  // a tmpfs on /dev/shm replaces the default
  const shm = buildSpec(opts({ hostConfig: { Tmpfs: { "/dev/shm": "size=1m" } } }));
  assert.equal(shm.mounts!.filter((m) => m.destination === "/dev/shm").length, 1);
  assert.equal(mount(shm, "/dev/shm")!.source, "tmpfs");
});

test("ulimits: daemon defaults overridden per name; -1 is unlimited", () => {
  const s = buildSpec(
    opts({
      defaultUlimits: [{ Name: "nofile", Soft: 1024, Hard: 4096 }, { Name: "nproc", Soft: 100, Hard: 200 }],
      hostConfig: { Ulimits: [{ Name: "nofile", Soft: 2048, Hard: 8192 }, { Name: "core", Soft: -1, Hard: -1 }] },
    }),
  );
  assert.deepEqual(s.process.rlimits, [
    { type: "RLIMIT_NOFILE", soft: 2048, hard: 8192 },
    { type: "RLIMIT_CORE", soft: RLIM_INFINITY, hard: RLIM_INFINITY },
    { type: "RLIMIT_NPROC", soft: 100, hard: 200 },
  ]);
  const json = specToJSON(s);
  assert.match(json, /"soft": 18446744073709551615,/);
  assert.doesNotMatch(json, /18446744073709552000/);
  assert.throws(() => buildSpec(opts({ hostConfig: { Ulimits: [{ Name: "bogus", Soft: 1, Hard: 1 }] } })), invalid("invalid ulimit type: bogus"));
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Ulimits: [{ Name: "nofile", Soft: 10, Hard: 5 }] } })),
    invalid("ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
  );
});

test("resources: memory, swap, swappiness, reservation, OOM killer", () => {
  const mib = 1024 * 1024;
  const r = buildSpec(opts({ hostConfig: { Memory: 256 * mib, MemoryReservation: 128 * mib, OomKillDisable: true } })).linux!.resources!;
  assert.equal(r.memory!.limit, 256 * mib);
  assert.equal(r.memory!.reservation, 128 * mib);
  assert.equal(r.memory!.disableOOMKiller, true);
  const swapSupported = fs.existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") || fs.existsSync("/sys/fs/cgroup/cgroup.controllers");
  if (swapSupported) assert.equal(r.memory!.swap, 512 * mib); // Docker: swap defaults to twice the memory
  const r2 = buildSpec(opts({ hostConfig: { Memory: 256 * mib, MemorySwap: -1, MemorySwappiness: 10 } })).linux!.resources!;
  assert.equal(r2.memory!.swap, undefined);
  if (fs.existsSync("/sys/fs/cgroup/memory/memory.swappiness")) assert.equal(r2.memory!.swappiness, 10);
  if (swapSupported) {
    assert.equal(buildSpec(opts({ hostConfig: { Memory: 256 * mib, MemorySwap: 300 * mib } })).linux!.resources!.memory!.swap, 300 * mib);
  }
  assert.throws(() => buildSpec(opts({ hostConfig: { Memory: 1024 } })), invalid("Minimum memory limit allowed is 6MB"));
  assert.throws(
    () => buildSpec(opts({ hostConfig: { MemorySwap: 256 * mib } })),
    invalid("You should always set the Memory limit when using Memoryswap limit, see usage"),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Memory: 256 * mib, MemorySwap: 128 * mib } })),
    invalid("Minimum memoryswap limit should be larger than memory limit, see usage"),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { MemorySwappiness: 101 } })),
    invalid("Invalid value: 101, valid memory swappiness range is 0-100"),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Memory: 64 * mib, MemoryReservation: 128 * mib } })),
    invalid("Minimum memory limit can not be less than memory reservation limit, see usage"),
  );
});

test("resources: CPUs, shares, cpuset, pids, blkio", () => {
  const cpu = buildSpec(opts({ hostConfig: { NanoCpus: 500_000_000, CpuShares: 512 } })).linux!.resources!.cpu!;
  assert.deepEqual(cpu, { shares: 512, period: 100000, quota: 50000 });
  const cpu2 = buildSpec(opts({ hostConfig: { CpuPeriod: 50000, CpuQuota: 25000, CpusetCpus: "0", CpusetMems: "0" } })).linux!.resources!.cpu!;
  assert.deepEqual(cpu2, { shares: 0, cpus: "0", mems: "0", period: 50000, quota: 25000 });
  assert.throws(
    () => buildSpec(opts({ hostConfig: { NanoCpus: 1e9, CpuPeriod: 50000 } })),
    invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set"),
  );
  const n = os.availableParallelism();
  assert.throws(
    () => buildSpec(opts({ hostConfig: { NanoCpus: (n + 1) * 1e9 } })),
    invalid(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`),
  );
  assert.throws(() => buildSpec(opts({ hostConfig: { CpuQuota: 10 } })), invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
  assert.throws(() => buildSpec(opts({ hostConfig: { CpusetCpus: "0-x" } })), invalid("Invalid value 0-x for cpuset cpus"));
  assert.throws(() => buildSpec(opts({ hostConfig: { CpusetCpus: "4096" } })), invalid(/^Requested CPUs are not available - requested 4096, available: /));

  assert.deepEqual(buildSpec(opts({ hostConfig: { PidsLimit: 100 } })).linux!.resources!.pids, { limit: 100 });
  assert.deepEqual(buildSpec(opts({ hostConfig: { PidsLimit: 0 } })).linux!.resources!.pids, { limit: -1 });
  assert.deepEqual(buildSpec(opts({ hostConfig: { PidsLimit: -1 } })).linux!.resources!.pids, { limit: -1 });
  assert.equal(buildSpec(opts({ hostConfig: { PidsLimit: null } })).linux!.resources!.pids, undefined);

  const warnings: string[] = [];
  const b = buildSpec(opts({ hostConfig: { BlkioWeight: 300 }, onWarning: (w) => warnings.push(w) })).linux!.resources!;
  if (b.blockIO) assert.deepEqual(b.blockIO, { weight: 300 });
  else assert.match(warnings.join("\n"), /does not support Block I\/O weight/);
  assert.throws(() => buildSpec(opts({ hostConfig: { BlkioWeight: 5 } })), invalid("Range of blkio weight is from 10 to 1000"));
});

test("devices: a host device is added with its cgroup rule; a missing one is refused", () => {
  const s = buildSpec(
    opts({ hostConfig: { Devices: [{ PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rw" }] } }),
  );
  const st = fs.statSync("/dev/null");
  assert.deepEqual(s.linux!.devices, [
    { path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid },
  ]);
  assert.deepEqual(s.linux!.resources!.devices!.at(-1), { allow: true, type: "c", major: 1, minor: 3, access: "rw" });
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Devices: [{ PathOnHost: "/dev/nosuchdev", PathInContainer: "/dev/x", CgroupPermissions: "rwm" }] } })),
    invalid('error gathering device information while adding custom device "/dev/nosuchdev": no such file or directory'),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Devices: [{ PathOnHost: "/etc/hostname", PathInContainer: "/dev/x", CgroupPermissions: "rwm" }] } })),
    invalid('error gathering device information while adding custom device "/etc/hostname": not a device node'),
  );
  assert.throws(
    () => buildSpec(opts({ hostConfig: { Devices: [{ PathOnHost: "/dev/null", PathInContainer: "/dev/x", CgroupPermissions: "rwx" }] } })),
    invalid("invalid device mode: rwx"),
  );
  const rules = buildSpec(opts({ hostConfig: { DeviceCgroupRules: ["c 42:* rmw", "a"] } })).linux!.resources!.devices!;
  assert.deepEqual(rules.slice(-2), [
    { allow: true, type: "c", major: 42, minor: -1, access: "rmw" },
    { allow: true, type: "a", major: -1, minor: -1, access: "rwm" },
  ]);
  assert.throws(() => buildSpec(opts({ hostConfig: { DeviceCgroupRules: ["x 1:1 r"] } })), invalid("invalid device cgroup rule format: 'x 1:1 r'"));
});

test("namespaces follow network, IpcMode, PidMode, UTSMode", () => {
  const host = buildSpec(opts({ network: { mode: "host" }, hostConfig: { IpcMode: "host", PidMode: "host", UTSMode: "host" } }));
  assert.deepEqual(host.linux!.namespaces, [{ type: "mount" }]);
  assert.equal(host.hostname, undefined);
  const joined = buildSpec(
    opts({
      network: { mode: "path", path: "/run/pier/netns/abc" },
      hostConfig: { IpcMode: "container:other", PidMode: "container:other" },
      namespacePaths: { ipc: "/proc/42/ns/ipc", pid: "/proc/42/ns/pid" },
    }),
  );
  assert.deepEqual(joined.linux!.namespaces, [
    { type: "mount" },
    { type: "network", path: "/run/pier/netns/abc" },
    { type: "uts" },
    { type: "pid", path: "/proc/42/ns/pid" },
    { type: "ipc", path: "/proc/42/ns/ipc" },
  ]);
  for (const mode of ["shareable", "private", "none", ""]) {
    assert.ok(buildSpec(opts({ hostConfig: { IpcMode: mode } })).linux!.namespaces!.some((n) => n.type === "ipc" && !n.path));
  }
  assert.throws(() => buildSpec(opts({ hostConfig: { IpcMode: "bogus" } })), invalid("invalid IPC mode: bogus"));
  assert.throws(() => buildSpec(opts({ hostConfig: { PidMode: "bogus" } })), invalid("invalid PID mode: bogus"));
  assert.throws(() => buildSpec(opts({ hostConfig: { UTSMode: "bogus" } })), invalid("invalid UTS mode: bogus"));
});

test("mounts: caller mounts replace defaults; /dev replaces everything under it; IpcMode none drops /dev/shm", () => {
  const shm: Mount = { destination: "/dev/shm", type: "bind", source: "/run/pier/c1/shm", options: ["rbind", "rprivate"] };
  const hosts: Mount = { destination: "/etc/hosts", type: "bind", source: "/run/pier/c1/hosts", options: ["rbind", "rprivate"] };
  const s = buildSpec(opts({ mounts: [hosts, shm], hostConfig: { ShmSize: 1 << 20 } }));
  assert.equal(s.mounts!.filter((m) => m.destination === "/dev/shm").length, 1);
  assert.deepEqual(mount(s, "/dev/shm"), shm);
  assert.deepEqual(s.mounts!.slice(-2), [hosts, shm]); // sorted by depth: /etc/hosts (2) before /dev/shm (2), stable
  const sized = buildSpec(opts({ hostConfig: { ShmSize: 1 << 20 } }));
  assert.ok(mount(sized, "/dev/shm")!.options!.includes("size=1048576"));
  const dev = buildSpec(opts({ mounts: [{ destination: "/dev", type: "bind", source: "/dev", options: ["rbind"] }] }));
  assert.deepEqual(dev.mounts!.map((m) => m.destination), ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]);
  const none = buildSpec(opts({ hostConfig: { IpcMode: "none" } }));
  assert.equal(mount(none, "/dev/shm"), undefined);
  // read-only rootfs leaves user mounts alone
  const ro = buildSpec(opts({ mounts: [hosts], hostConfig: { ReadonlyRootfs: true } }));
  assert.deepEqual(mount(ro, "/etc/hosts"), hosts);
  assert.deepEqual(mount(ro, "/proc")!.options, ["nosuid", "noexec", "nodev"]);
});

test("init: tini bind-mounted read-only and prepended to the args", () => {
  const s = buildSpec(opts({ initPath: "/usr/bin/tini-static", hostConfig: { Init: true } }));
  assert.deepEqual(s.process.args, ["/sbin/docker-init", "--", "/bin/sh", "-c", "true"]);
  assert.deepEqual(mount(s, "/sbin/docker-init"), { destination: "/sbin/docker-init", type: "bind", source: "/usr/bin/tini-static", options: ["bind", "ro"] });
  const hostPid = buildSpec(opts({ initPath: "/usr/bin/tini-static", hostConfig: { Init: true, PidMode: "host" } }));
  assert.deepEqual(hostPid.process.args, ["/bin/sh", "-c", "true"]);
  assert.equal(mount(hostPid, "/sbin/docker-init"), undefined);
});

test("rootfsPropagation: private sources refuse shared/slave binds unless under the daemon root", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pier-prop-"));
  try {
    const m = (prop: string): Mount => ({ destination: "/data", type: "bind", source: tmp, options: ["rbind", prop] });
    assert.equal(buildSpec(opts({ mounts: [m("rprivate")] })).linux!.rootfsPropagation, undefined);
    const info = fs.readFileSync("/proc/self/mountinfo", "utf8");
    const rootShared = info.split("\n").some((l) => l.split(" ")[4] === "/" && / shared:\d+/.test(l));
    if (!rootShared && !/ shared:\d+/.test(info)) {
      assert.throws(() => buildSpec(opts({ mounts: [m("rshared")] })), invalid(/is mounted on .* but it is not a shared mount$/));
      assert.throws(() => buildSpec(opts({ mounts: [m("rslave")] })), invalid(/but it is not a shared or slave mount$/));
      assert.equal(buildSpec(opts({ mounts: [m("rslave")], daemonRoot: tmp })).linux!.rootfsPropagation, undefined);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("rootfsPropagation: shared → shared, slave → rslave (needs root to make a shared mount)", (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pier-prop-"));
  const run = (...a: string[]) => spawnSync("mount", a, { encoding: "utf8" });
  try {
    if (run("-t", "tmpfs", "pier-prop", tmp).status !== 0) return t.skip("cannot mount tmpfs");
    try {
      if (run("--make-shared", tmp).status !== 0) return t.skip("cannot make a shared mount");
      const m = (prop: string): Mount => ({ destination: "/data", type: "bind", source: tmp, options: ["rbind", prop] });
      assert.equal(buildSpec(opts({ mounts: [m("rslave")] })).linux!.rootfsPropagation, "rslave");
      assert.equal(buildSpec(opts({ mounts: [m("rshared")] })).linux!.rootfsPropagation, "shared");
      assert.equal(buildSpec(opts({ mounts: [m("rslave"), { ...m("shared"), destination: "/data2" }] })).linux!.rootfsPropagation, "shared");
    } finally {
      spawnSync("umount", [tmp]);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
