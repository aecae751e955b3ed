// Runs real containers with runc from specs built by buildSpec, and checks Docker's security
// defaults from inside. Skipped unless root with runc and a static busybox on the machine.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildSpec, specToJSON, type HostConfigInput, type SpecOptions } from "./spec.js";

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  for (const p of [`/usr/sbin/${bin}`, `/sbin/${bin}`]) if (fs.existsSync(p)) return p;
  return undefined;
}

const runc = which("runc");
const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => fs.existsSync(p));
const skipReason =
  process.getuid?.() !== 0 ? "needs root" : !runc ? "runc not installed" : !busybox ? "busybox not installed" : undefined;

let tmp = "";
let rootfs = "";
const created: { id: string; stateRoot: string }[] = [];

before(() => {
  if (skipReason) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pier-runc-spec-"));
  rootfs = path.join(tmp, "rootfs");
  for (const d of ["bin", "proc", "sys", "dev", "etc", "mnt", "tmp"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync(busybox!, path.join(rootfs, "bin/busybox"));
  fs.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  const applets = execFileSync(busybox!, ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox" && !a.includes("/"));
  for (const a of applets) fs.symlinkSync("busybox", path.join(rootfs, "bin", a));
  fs.writeFileSync(path.join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n");
  fs.writeFileSync(path.join(rootfs, "etc/group"), "root:x:0:\nuser:x:1000:\n");
});

after(async () => {
  for (const c of created) await runCmd(runc!, [`--root=${c.stateRoot}`, "delete", "--force", c.id]).catch(() => {});
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function runCmd(cmd: string, args: string[], cwd?: string, timeoutMs = 30000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

/** Build a bundle with buildSpec and `runc run` it; returns the container's stdout. */
async function runInContainer(script: string, over: { hostConfig?: HostConfigInput; user?: SpecOptions["user"] } = {}): Promise<string> {
  const id = `pier-spec-test-${process.pid}-${randomBytes(4).toString("hex")}`;
  const bundle = path.join(tmp, id);
  const stateRoot = path.join(tmp, "runc-state");
  fs.mkdirSync(bundle, { recursive: true });
  const spec = buildSpec({
    id,
    rootfs,
    args: ["/bin/sh", "-c", script],
    env: ["PATH=/bin", "HOME=/"],
    cwd: "/",
    user: over.user ?? { uid: 0, gid: 0, additionalGids: [0] },
    tty: false,
    hostname: "spectest",
    hostConfig: over.hostConfig ?? {},
    mounts: [],
    network: { mode: "new" },
    cgroupsPath: `/${id}`,
  });
  fs.writeFileSync(path.join(bundle, "config.json"), specToJSON(spec));
  created.push({ id, stateRoot });
  const res = await runCmd(runc!, [`--root=${stateRoot}`, "run", "--bundle", bundle, id], bundle);
  assert.equal(res.code, 0, `runc run failed (${res.code}): ${res.err}\n${res.out}`);
  return res.out;
}

function field(out: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(out)?.[1];
}

const PROBE = [
  "grep Cap /proc/self/status",
  "grep Seccomp /proc/self/status",
  'echo "kcore_bytes=$(head -c 64 /proc/kcore 2>/dev/null | wc -c)"',
  'if mount -t tmpfs x /mnt 2>/dev/null; then echo mount=ok; else echo mount=denied; fi',
  'echo "masked=$(grep -c -E " /proc/(kcore|keys|timer_list) " /proc/self/mountinfo)"',
  'echo "firmware_entries=$(ls -A /sys/firmware 2>/dev/null | wc -l)"',
  'echo "hostname=$(hostname)"',
  'echo "procsys=$(grep " /proc/sys " /proc/self/mountinfo | cut -d" " -f6)"',
].join("; ");

test("default container: Docker's capabilities, seccomp filter, masked /proc, no mount", { skip: skipReason }, async () => {
  const out = await runInContainer(PROBE);
  assert.equal(field(out, "CapEff"), "00000000a80425fb", out);
  assert.equal(field(out, "CapPrm"), "00000000a80425fb", out);
  assert.equal(field(out, "CapBnd"), "00000000a80425fb", out);
  assert.equal(field(out, "CapInh"), "0000000000000000", out);
  assert.equal(field(out, "CapAmb"), "0000000000000000", out);
  assert.equal(field(out, "Seccomp"), "2", out);
  assert.match(out, /^kcore_bytes=0$/m);
  assert.match(out, /^mount=denied$/m);
  assert.match(out, /^firmware_entries=0$/m);
  assert.match(out, /^hostname=spectest$/m);
  assert.match(out, /^procsys=ro,/m);
  const hostHas = ["/proc/kcore", "/proc/keys", "/proc/timer_list"].filter((p) => fs.existsSync(p)).length;
  assert.match(out, new RegExp(`^masked=${hostHas}$`, "m"));
});

test("non-root user: empty effective set, Docker's bounding set", { skip: skipReason }, async () => {
  const out = await runInContainer("grep Cap /proc/self/status; id -u", { user: { uid: 1000, gid: 1000, additionalGids: [1000] } });
  assert.equal(field(out, "CapEff"), "0000000000000000", out);
  assert.equal(field(out, "CapBnd"), "00000000a80425fb", out);
  assert.match(out, /^1000$/m);
});

test("privileged container: the daemon's capabilities, no seccomp, mount allowed", { skip: skipReason }, async () => {
  const out = await runInContainer(PROBE, { hostConfig: { Privileged: true } });
  const own = /^CapEff:\s*(\S+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))![1];
  assert.equal(field(out, "CapEff"), own, out);
  assert.equal(field(out, "Seccomp"), "0", out);
  assert.match(out, /^mount=ok$/m);
  assert.match(out, /^masked=0$/m);
});
