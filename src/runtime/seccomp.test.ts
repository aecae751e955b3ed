import { test } from "node:test";
import assert from "node:assert/strict";
import { isKind } from "../errdefs/index.js";
import type { LinuxSeccomp } from "../oci/index.js";
import {
  defaultSeccompProfile,
  hostGoArch,
  kernelAtLeast,
  parseKernelRelease,
  parseSeccompProfile,
  resolveSeccomp,
  type DockerSeccompProfile,
} from "./seccomp.js";
import { DEFAULT_CAPABILITIES } from "./spec.js";

const defaults = [...DEFAULT_CAPABILITIES];

/** Every syscall name the resolved profile lets through unconditionally (no args). */
function allowed(s: LinuxSeccomp): Set<string> {
  const out = new Set<string>();
  for (const r of s.syscalls ?? []) if (r.action === "SCMP_ACT_ALLOW" && !r.args) r.names.forEach((n) => out.add(n));
  return out;
}

function rulesFor(s: LinuxSeccomp, name: string) {
  return (s.syscalls ?? []).filter((r) => r.names.includes(name));
}

test("default profile loads from assets and is cached", () => {
  const a = defaultSeccompProfile();
  assert.equal(a.defaultAction, "SCMP_ACT_ERRNO");
  assert.ok((a.syscalls ?? []).length > 10);
  assert.equal(defaultSeccompProfile(), a);
});

test("a kernel without x32 system calls gets no SCMP_ARCH_X32; explicit architectures stay", () => {
  const s = resolveSeccomp(defaultSeccompProfile(), { capabilities: defaults, arch: "amd64", kernel: "6.1.0", kernelRunsX32: false })!;
  assert.deepEqual(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
  const own = resolveSeccomp({ defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], syscalls: [] }, { capabilities: defaults, arch: "amd64", kernelRunsX32: false })!;
  assert.deepEqual(own.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]);
});

test("default caps on amd64: architectures, default action, SYS_ADMIN syscalls denied", () => {
  const s = resolveSeccomp(defaultSeccompProfile(), { capabilities: defaults, arch: "amd64", kernel: "6.1.0" })!;
  assert.deepEqual(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  assert.equal(s.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(s.defaultErrnoRet, 1);
  const ok = allowed(s);
  for (const n of ["read", "write", "execve", "ptrace", "arch_prctl", "chroot", "modify_ldt"]) assert.ok(ok.has(n), n);
  for (const n of ["mount", "umount2", "unshare", "setns", "reboot", "open_by_handle_at", "kcmp", "bpf", "syslog", "init_module"]) {
    assert.ok(!ok.has(n), n);
  }
  // clone is allowed only without namespace flags; clone3 returns ENOSYS so libc falls back to clone.
  const clone = rulesFor(s, "clone");
  assert.equal(clone.length, 1);
  assert.deepEqual(clone[0]!.args, [{ index: 0, value: 2114060288, op: "SCMP_CMP_MASKED_EQ" }]);
  const clone3 = rulesFor(s, "clone3");
  assert.deepEqual(clone3, [{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]);
  // s390-only and arm-only rules are dropped on amd64
  assert.ok(!ok.has("s390_runtime_instr"));
  assert.ok(!ok.has("arm_fadvise64_64"));
});

test("CAP_SYS_ADMIN enables mount/unshare/clone3 and drops the restricted clone rules", () => {
  const s = resolveSeccomp(defaultSeccompProfile(), {
    capabilities: [...defaults, "CAP_SYS_ADMIN"],
    arch: "amd64",
    kernel: "6.1.0",
  })!;
  const ok = allowed(s);
  for (const n of ["mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"]) assert.ok(ok.has(n), n);
  assert.ok(!rulesFor(s, "clone3").some((r) => r.action === "SCMP_ACT_ERRNO"));
  assert.ok(!rulesFor(s, "clone").some((r) => r.args));
});

test("capability-gated groups follow the bounding set", () => {
  const base = { arch: "amd64", kernel: "6.1.0" };
  const without = allowed(resolveSeccomp(defaultSeccompProfile(), { ...base, capabilities: defaults })!);
  const withPtrace = allowed(resolveSeccomp(defaultSeccompProfile(), { ...base, capabilities: [...defaults, "CAP_SYS_PTRACE"] })!);
  assert.ok(!without.has("kcmp") && withPtrace.has("kcmp"));
  const withTime = allowed(resolveSeccomp(defaultSeccompProfile(), { ...base, capabilities: [...defaults, "CAP_SYS_TIME"] })!);
  assert.ok(!without.has("settimeofday") && withTime.has("settimeofday"));
  const noChroot = allowed(
    resolveSeccomp(defaultSeccompProfile(), { ...base, capabilities: defaults.filter((c) => c !== "CAP_SYS_CHROOT") })!,
  );
  assert.ok(!noChroot.has("chroot"));
});

test("minKernel: ptrace needs 4.8", () => {
  const old = allowed(resolveSeccomp(defaultSeccompProfile(), { capabilities: defaults, arch: "amd64", kernel: "4.4.0-210-generic" })!);
  assert.ok(!old.has("ptrace"));
  const current = allowed(resolveSeccomp(defaultSeccompProfile(), { capabilities: defaults, arch: "amd64", kernel: "4.8" })!);
  assert.ok(current.has("ptrace"));
});

test("arm64 gets AARCH64+ARM and arm rules, not x86 ones", () => {
  const s = resolveSeccomp(defaultSeccompProfile(), { capabilities: defaults, arch: "arm64", kernel: "6.1.0" })!;
  assert.deepEqual(s.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  const ok = allowed(s);
  assert.ok(ok.has("arm_fadvise64_64"));
  assert.ok(!ok.has("arch_prctl"));
  assert.ok(!ok.has("modify_ldt"));
});

test("s390x keeps the s390 clone rule instead of the generic one", () => {
  const s = resolveSeccomp(defaultSeccompProfile(), { capabilities: defaults, arch: "s390x", kernel: "6.1.0" })!;
  const clone = rulesFor(s, "clone");
  assert.equal(clone.length, 1);
  assert.equal(clone[0]!.args![0]!.index, 1);
});

test("custom profiles: explicit architectures, single name, errors", () => {
  const p: DockerSeccompProfile = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [
      { name: "chmod", action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      { names: ["mkdir"], action: "SCMP_ACT_ERRNO", excludes: { caps: ["CAP_SYS_ADMIN"] } },
    ],
  };
  const s = resolveSeccomp(p, { capabilities: defaults, arch: "amd64" })!;
  assert.deepEqual(s, {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [
      { names: ["chmod"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      { names: ["mkdir"], action: "SCMP_ACT_ERRNO" },
    ],
  });
  assert.equal(resolveSeccomp({ defaultAction: "" }, { capabilities: [], arch: "amd64" }), undefined);
  assert.throws(
    () => resolveSeccomp({ ...p, archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: [] }] }, { capabilities: [], arch: "amd64" }),
    (e) => isKind(e, "InvalidParameter") && /use either 'architectures' or 'archMap'/.test((e as Error).message),
  );
  assert.throws(
    () => resolveSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ name: "a", names: ["b"], action: "SCMP_ACT_ERRNO" }] }, { capabilities: [], arch: "amd64" }),
    /use either 'name' or 'names'/,
  );
  assert.throws(() => parseSeccompProfile("{not json"), (e) => isKind(e, "InvalidParameter") && /^Decoding seccomp profile failed/.test((e as Error).message));
});

test("kernel release parsing and comparison", () => {
  assert.deepEqual(parseKernelRelease("6.18.44-fc-v595"), { kernel: 6, major: 18, minor: 44 });
  assert.deepEqual(parseKernelRelease("4.8"), { kernel: 4, major: 8, minor: 0 });
  assert.ok(kernelAtLeast("4.8", "5.10.0-28-amd64"));
  assert.ok(kernelAtLeast("4.8", "4.8.0"));
  assert.ok(!kernelAtLeast("4.8", "4.7.10"));
  assert.throws(() => parseKernelRelease("garbage"), /Can't parse kernel version/);
});

test("hostGoArch speaks GOARCH", () => {
  const a = hostGoArch();
  if (process.arch === "x64") assert.equal(a, "amd64");
  else assert.ok(a.length > 0);
});
