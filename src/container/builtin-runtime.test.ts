import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import type { SpecOptions } from "../runtime/index.js";
import { fixtureSpec } from "./spec-fixture.js";
import type { Spec } from "../oci/index.js";
import { cgroupWritesForUpdate } from "../sys/index.js";
import { builtinPlan } from "./builtin-runtime.js";

/** The builtin runtime needs a cgroup v1 (or hybrid) host: these tests read this one's hierarchies. */
const v1Host = (() => {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8").includes(" - cgroup ");
  } catch {
    return false;
  }
})();

function spec(over: Partial<SpecOptions> = {}): Spec {
  const s = fixtureSpec(over);
  // What pierd hands the builtin runtime: a config without a profile to compile.
  delete s.linux!.seccomp;
  return s;
}

function items(s: Spec): string[] {
  const p = builtinPlan(s, "c1");
  assert.ok("items" in p, "unsupported" in p ? p.unsupported : "");
  return p.items;
}

function unsupported(s: Spec): string {
  const p = builtinPlan(s, "c1");
  assert.ok("unsupported" in p, "expected runc to take it");
  return p.unsupported;
}

describe("builtin runtime plan", { skip: !v1Host }, () => {
  it("hands runc what it cannot express exactly", () => {
    assert.match(unsupported({ ...spec(), linux: { ...spec().linux, seccomp: { defaultAction: "SCMP_ACT_ERRNO" } } }), /seccomp/);
    const userns = spec();
    userns.linux!.namespaces!.push({ type: "user" });
    assert.match(unsupported(userns), /user namespace/);
    assert.match(unsupported({ ...spec(), hooks: { prestart: [{ path: "/bin/true" }] } }), /hooks/);
    const selinux = spec();
    selinux.process.selinuxLabel = "system_u:system_r:container_t:s0";
    assert.match(unsupported(selinux), /LSM/);
    const overlay = spec();
    overlay.mounts!.push({ destination: "/x", type: "overlay", source: "overlay", options: [] });
    assert.match(unsupported(overlay), /mount type overlay/);
    const recursiveRo = spec();
    recursiveRo.mounts!.push({ destination: "/x", type: "tmpfs", source: "tmpfs", options: ["rro"] });
    assert.match(unsupported(recursiveRo), /rro/);
    const onProc = spec();
    onProc.mounts!.push({ destination: "/proc/sys", type: "tmpfs", source: "tmpfs", options: [] });
    assert.match(unsupported(onProc), /on \/proc\/sys/);
    const shared = spec();
    shared.linux!.rootfsPropagation = "rshared";
    assert.match(unsupported(shared), /propagation/);
    const joinPid = spec();
    joinPid.linux!.namespaces = joinPid.linux!.namespaces!.map((n) => (n.type === "pid" ? { type: "pid", path: "/proc/1/ns/pid" } : n));
    assert.match(unsupported(joinPid), /joining a pid namespace/);
    const systemdPath = spec();
    systemdPath.linux!.cgroupsPath = "system.slice:pier:c1";
    assert.match(unsupported(systemdPath), /cgroups path/);
  });

  it("parses mount options as runc does: flags, propagation, the rest as data", () => {
    const plan = items(spec());
    const mount = (dest: string) => plan.find((i) => i.startsWith(`mount=${dest}\t`))!.slice(6).split("\t");
    // /proc: nosuid(2) | nodev(4) | noexec(8)
    assert.deepEqual(mount("/proc"), ["/proc", "proc", "proc", "14", "", "", "dir"]);
    // /dev: nosuid | strictatime (1<<24), mode and size as data
    assert.deepEqual(mount("/dev"), ["/dev", "tmpfs", "tmpfs", String(2 | (1 << 24)), "mode=755,size=65536k", "", "dir"]);
    // the cgroup mount: a tmpfs, then a read-only bind of the container's cgroup per hierarchy
    assert.deepEqual(mount("/sys/fs/cgroup"), ["/sys/fs/cgroup", "tmpfs", "tmpfs", "14", "mode=755", "", "dir"]);
    const binds = plan.filter((i) => i.startsWith("mount=/sys/fs/cgroup/"));
    assert.ok(binds.length > 0);
    for (const b of binds) {
      const [, type, source, flags] = b.slice(6).split("\t");
      assert.equal(type, "bind");
      assert.match(source!, /^\/sys\/fs\/cgroup\/.+\/pier\/c1$/);
      // bind | rec | ro | nosuid | nodev | noexec
      assert.equal(Number(flags), 4096 | 16384 | 1 | 2 | 4 | 8);
    }
    // runc's default devices, and the /dev setup
    assert.ok(plan.includes("devsetup=1"));
    assert.ok(plan.includes(`device=/dev/null\t${0o020666}\t1\t3\t0\t0`));
  });

  it("writes the device rules of the spec, then runc's own, in order", () => {
    const writes = items(spec()).filter((i) => i.startsWith("cgwrite=") && i.includes("/devices/"));
    const rules = writes.map((w) => w.replace(/^cgwrite=.*\/(devices\.(allow|deny))\t/, "$1 "));
    assert.equal(rules[0], "devices.deny a");
    assert.ok(rules.includes("devices.allow c *:* m"));
    assert.ok(rules.includes("devices.allow c 136:* rwm"));
    assert.ok(rules.indexOf("devices.deny c 10:229 rwm") < rules.indexOf("devices.allow c *:* m"));
  });

  it("joins namespaces by path and makes the rest", () => {
    const s = spec({ network: { mode: "path", path: "/run/pier/netns/x" } });
    const plan = items(s);
    assert.ok(plan.includes("joinns=network\t/run/pier/netns/x"));
    // mount | uts | ipc | pid, no net
    assert.ok(plan.includes(`clone=${(0x20000 | 0x4000000 | 0x8000000 | 0x20000000).toString(16)}`));
    assert.ok(plan.includes("hostname=c1host"));
    assert.ok(plan.includes("keyring=_ses.c1"));
    assert.ok(plan.includes("homefromuser=1"));
  });
});

describe("cgroup writes for runc update's flags", () => {
  it("writes swap first when it grows past the current limit, else the limit first", () => {
    assert.deepEqual(cgroupWritesForUpdate(["--memory=100", "--memory-swap=200"], () => "50"), [
      ["memory.memsw.limit_in_bytes", "200"],
      ["memory.limit_in_bytes", "100"],
    ]);
    assert.deepEqual(cgroupWritesForUpdate(["--memory=100", "--memory-swap=200"], () => "9223372036854771712"), [
      ["memory.limit_in_bytes", "100"],
      ["memory.memsw.limit_in_bytes", "200"],
    ]);
  });

  it("maps the other flags to their files, and refuses ones it does not know", () => {
    assert.deepEqual(cgroupWritesForUpdate(["--cpu-quota=50000", "--cpu-period=100000", "--pids-limit=-1", "--cpuset-cpus=0"], () => undefined), [
      ["cpu.cfs_period_us", "100000"],
      ["cpu.cfs_quota_us", "50000"],
      ["cpuset.cpus", "0"],
      ["pids.max", "max"],
    ]);
    assert.throws(() => cgroupWritesForUpdate(["--kernel-memory=1"], () => undefined), /unsupported update flag --kernel-memory/);
  });
});
