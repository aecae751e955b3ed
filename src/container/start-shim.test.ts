import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fixtureSpec } from "./spec-fixture.js";
import { shimProcess, shimSpec, START_SHIM_ANNOTATION } from "./start-shim.js";

const spec = fixtureSpec;

const bit = (n: number) => 1n << BigInt(n);

describe("start shim", () => {
  it("gives runc the shim as root with the shim's capabilities, and the shim the container's process", () => {
    const s = spec();
    const shimmed = shimProcess(s.process, s)!;
    assert.ok(shimmed);
    const p = shimmed.runcProcess;
    assert.deepEqual(p.args, ["/proc/self/fd/3", "--init"]);
    assert.deepEqual(p.user, { uid: 0, gid: 0 });
    assert.equal(p.noNewPrivileges, false);
    for (const c of ["CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", ...s.process.capabilities!.bounding!]) {
      assert.ok(p.capabilities!.bounding!.includes(c), c);
      assert.ok(p.capabilities!.permitted!.includes(c), c);
    }
    assert.deepEqual(p.capabilities!.ambient, []);
    assert.deepEqual(p.env, s.process.env);
    assert.equal(p.cwd, "/work");
    const plan = shimmed.plan;
    assert.deepEqual(plan.args, ["/bin/sh", "-c", "true"]);
    assert.equal(plan.uid, 1000);
    assert.equal(plan.gid, 1000);
    assert.deepEqual(plan.additionalGids, [1000, 10]);
    assert.equal(plan.cwd, "/work");
    assert.equal(plan.noNewPrivileges, false);
    // Docker's default bounding set, without CAP_SYS_ADMIN (bit 21).
    assert.equal(plan.caps.bounding & bit(21), 0n);
    assert.equal(plan.caps.bounding & bit(0), bit(0)); // CAP_CHOWN
    // runc sets HOME for the user it runs, root here: the shim sets it for the process's user.
    assert.equal(plan.setHome, true);
    const withHome = spec({ env: ["PATH=/usr/bin:/bin", "HOME=/w"] });
    assert.equal(shimProcess(withHome.process, withHome)!.plan.setHome, false);
  });

  it("leaves the profile out of runc's config and marks it, without touching the container's spec", () => {
    const s = spec();
    const before = JSON.stringify(s);
    const shimmed = shimProcess(s.process, s)!;
    const r = shimSpec(s, shimmed.runcProcess);
    assert.equal(r.linux!.seccomp, undefined);
    assert.equal(r.annotations![START_SHIM_ANNOTATION], "1");
    assert.deepEqual(r.linux!.namespaces, s.linux!.namespaces);
    assert.deepEqual(r.mounts, s.mounts);
    assert.equal(JSON.stringify(s), before);
  });

  it("keeps no_new_privs for the shim to set", () => {
    const s = spec({ hostConfig: { SecurityOpt: ["no-new-privileges"] } });
    const shimmed = shimProcess(s.process, s)!;
    assert.equal(shimmed.runcProcess.noNewPrivileges, false);
    assert.equal(shimmed.plan.noNewPrivileges, true);
  });

  it("is not used without a profile, with a user namespace or an LSM label, or with a capability it does not know", () => {
    const unconfined = spec({ hostConfig: { SecurityOpt: ["seccomp=unconfined"] } });
    assert.equal(shimProcess(unconfined.process, unconfined), undefined);
    const userns = spec();
    userns.linux!.namespaces!.push({ type: "user" });
    assert.equal(shimProcess(userns.process, userns), undefined);
    const labelled = spec();
    labelled.process.selinuxLabel = "system_u:system_r:container_t:s0";
    assert.equal(shimProcess(labelled.process, labelled), undefined);
    const unknownCap = spec();
    unknownCap.process.capabilities!.bounding!.push("CAP_FROM_THE_FUTURE");
    assert.equal(shimProcess(unknownCap.process, unknownCap), undefined);
    const listener = spec();
    (listener.linux!.seccomp as { listenerPath?: string }).listenerPath = "/run/agent.sock";
    assert.equal(shimProcess(listener.process, listener), undefined);
  });
});
