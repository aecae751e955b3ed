import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Logger } from "../lib/index.js";
import type { Process, Spec } from "../oci/index.js";
import { availableCapabilities } from "../runtime/index.js";
import { capabilityMasks, dumpSeccompFilter, sealedCopy, seccompFlagsMask, type StartShimPlan } from "../sys/index.js";

// Starting containers without runc compiling their seccomp profile.
//
// runc turns the profile of config.json into a BPF program with libseccomp on every create:
// for Docker's default profile ~360 rules for two architectures, ~15-20 ms of a ~50 ms create
// on this kind of machine, the biggest single part of a container start. The program depends on
// nothing but the profile (and the runc and libseccomp that compile it), so it is compiled once:
// the first container with a given profile is started by runc as usual, and its init's filter
// is copied (pier-exec --dump-filter) into a cache keyed by the profile. Later containers with
// the same profile are created without it, and their process is the start shim (pier-exec
// --init, sys/startshim.ts), which installs that exact program and then does what runc's init
// would have done last. What the container's process ends up with (filter, user, groups,
// capabilities, no_new_privs) is the same either way; tests/e2e/security.test.ts checks it.
//
// The bundle then holds both: config.json as runc got it, and spec.json, the container's spec
// (what its processes get). Execs read spec.json; those that go through runc (a tty) go through
// the shim too, since runc's own copy of the config has no profile.

/** Capabilities the shim needs before it drops to the container's: seccomp without
 * no_new_privs, the bounding set, the user switch, stdio ownership. */
const SHIM_CAPABILITIES = ["CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"];

/** The shim as the container's process in runc's config: fd 3 is the helper. */
const SHIM_ARGS = ["/proc/self/fd/3", "--init"];

/** Marks a runc config whose process is the shim (and whose seccomp profile was left out). */
export const START_SHIM_ANNOTATION = "org.pier.start-shim";

export interface ShimmedProcess {
  /** The process as runc should run it: the shim, as root, with the shim's capabilities. */
  runcProcess: Process;
  /** What the shim makes of it: the container's own user, capabilities, command. */
  plan: StartShimPlan;
}

/**
 * The shim's form of a container process, or undefined when it cannot be started that way
 * (no seccomp profile, a user namespace, an LSM label, capabilities unknown to us, …).
 */
export function shimProcess(p: Process, spec: Spec): ShimmedProcess | undefined {
  const linux = spec.linux ?? {};
  const seccomp = linux.seccomp as (typeof linux.seccomp & { listenerPath?: string }) | undefined;
  if (!seccomp || seccomp.listenerPath) return undefined;
  const seccompFlags = seccompFlagsMask(seccomp.flags);
  if (seccompFlags === undefined) return undefined;
  if ((linux.namespaces ?? []).some((n) => n.type === "user")) return undefined;
  if ((p.apparmorProfile && p.apparmorProfile !== "unconfined") || p.selinuxLabel) return undefined;
  if (p.args.length === 0) return undefined;
  const caps = p.capabilities ?? {};
  const masks = capabilityMasks(caps);
  if (!masks) return undefined;
  const held = availableCapabilities();
  if (!SHIM_CAPABILITIES.every((c) => held.includes(c))) return undefined;
  // Only added to what the process has anyway; dropped again by the shim before the exec.
  const shimCaps = [...new Set([...(caps.bounding ?? []), ...(caps.effective ?? []), ...(caps.permitted ?? []), ...SHIM_CAPABILITIES])];
  const runcProcess: Process = {
    ...p,
    user: { uid: 0, gid: 0, ...(p.user.umask !== undefined ? { umask: p.user.umask } : {}) },
    args: SHIM_ARGS,
    capabilities: { bounding: shimCaps, effective: shimCaps, permitted: shimCaps, inheritable: [], ambient: [] },
    noNewPrivileges: false,
  };
  const plan: StartShimPlan = {
    uid: p.user.uid,
    gid: p.user.gid,
    additionalGids: p.user.additionalGids ?? [],
    cwd: p.cwd,
    args: p.args,
    noNewPrivileges: !!p.noNewPrivileges,
    caps: masks,
    seccompFlags,
    setHome: !(p.env ?? []).some((e) => e.startsWith("HOME=")),
  };
  return { runcProcess, plan };
}

/** runc's config for a container started through the shim: no profile, the shim as process. */
export function shimSpec(spec: Spec, runcProcess: Process): Spec {
  const { seccomp: _dropped, ...linux } = spec.linux ?? {};
  return { ...spec, process: runcProcess, linux, annotations: { ...spec.annotations, [START_SHIM_ANNOTATION]: "1" } };
}

/** A compiled filter as the shim gets it: a sealed memfd (nothing can change it) and its bytes. */
export interface LearntFilter {
  /** Owned by the cache and kept open: passed to every shim as its fd 5. */
  fd: number;
  program: Buffer;
}

/** Profiles whose filters pierd keeps open for shims (Docker's default and a few custom ones). */
const MAX_LOADED_FILTERS = 64;

/** seccomp(2) takes at most BPF_MAXINSNS (4096) instructions of 8 bytes. */
const MAX_PROGRAM_BYTES = 4096 * 8;

/**
 * Compiled seccomp filters by profile, as runc installed them, under the exec root:
 * `<key>.bpf` (the program) and `<key>.sha256` (its checksum, so a file cut short or changed
 * by another hand is learnt again instead of failing every later start).
 *
 * The shim gets a sealed copy, never the file: its fd 5 is reachable through /proc/<pid>/fd
 * by a process of the container allowed to ptrace it (CAP_SYS_PTRACE) while it runs, and a
 * file opened through that link could be written to — the filter of every later container.
 */
export class SeccompFilterCache {
  private readonly loaded = new Map<string, LearntFilter>();
  private readonly learning = new Set<string>();
  private runtimeIdentity?: string;

  constructor(private readonly o: { dir: string; runtimePath: string; helper: string; log: Logger }) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    // Left by a pierd killed while it learnt a filter.
    for (const n of readdirSync(o.dir)) if (n.endsWith(".tmp")) rmSync(path.join(o.dir, n), { force: true });
  }

  /** The cached program for the spec's profile, or undefined (not learnt yet, or not intact). */
  filterFor(spec: Spec): LearntFilter | undefined {
    const key = this.key(spec);
    if (!key) return undefined;
    const hit = this.loaded.get(key);
    if (hit) return hit;
    // Its two files are being replaced: not to be judged (nor discarded) halfway.
    if (this.learning.has(key)) return undefined;
    // One open memfd per profile, kept while pierd runs (a shim may be handed it at any time):
    // a host where containers bring profiles by the hundred starts the rest through runc.
    if (this.loaded.size >= MAX_LOADED_FILTERS) return undefined;
    const file = path.join(this.o.dir, `${key}.bpf`);
    if (!existsSync(file)) return undefined;
    let fd: number;
    try {
      fd = sealedCopy(file);
    } catch {
      return undefined;
    }
    // Checked in the sealed copy: what was checked is what every shim reads.
    const program = readWhole(fd);
    if (!validProgram(program) || storedSum(`${file.slice(0, -4)}.sha256`) !== sha256(program)) {
      closeSync(fd);
      this.o.log.warn("cached seccomp filter is damaged: it is learnt again", { key: key.slice(0, 12) });
      this.discard(key);
      return undefined;
    }
    const learnt = { fd, program };
    this.loaded.set(key, learnt);
    return learnt;
  }

  /**
   * A container with this spec was just created by runc with its profile: copy the filter of
   * its init for the next ones. Never rejects: a failure only means the next start is runc's
   * again.
   */
  learn(spec: Spec, pid: number, cgroupCheck: string): Promise<void> {
    const key = this.key(spec);
    if (!key || this.loaded.has(key) || this.learning.has(key)) return Promise.resolve();
    this.learning.add(key);
    const file = path.join(this.o.dir, `${key}.bpf`);
    const tmp = `${file}.${process.pid}.tmp`;
    const sumTmp = `${file.slice(0, -4)}.sha256.${process.pid}.tmp`;
    return dumpSeccompFilter(this.o.helper, pid, cgroupCheck, tmp)
      .then(() => {
        const program = readFileSync(tmp);
        if (!validProgram(program)) throw new Error(`not a seccomp program (${program.length} bytes)`);
        writeFileSync(sumTmp, `${sha256(program)}\n`, { mode: 0o600 });
        // The program first: a checksum without its program is never taken for one.
        renameSync(tmp, file);
        renameSync(sumTmp, `${file.slice(0, -4)}.sha256`);
        this.o.log.debug("seccomp filter learnt", { key: key.slice(0, 12) });
      })
      .catch((err) => {
        rmSync(tmp, { force: true });
        rmSync(sumTmp, { force: true });
        this.o.log.debug("seccomp filter not learnt", { err: String(err) });
      })
      .finally(() => this.learning.delete(key));
  }

  private discard(key: string): void {
    for (const ext of [".bpf", ".sha256"]) rmSync(path.join(this.o.dir, `${key}${ext}`), { force: true });
  }

  /** The profile plus the identity of the programs that compile it (an upgrade makes a new key). */
  private key(spec: Spec): string | undefined {
    const seccomp = spec.linux?.seccomp;
    if (!seccomp) return undefined;
    this.runtimeIdentity ??= compilerIdentity(this.o.runtimePath);
    return createHash("sha256").update(this.runtimeIdentity).update("\n").update(JSON.stringify(seccomp)).digest("hex");
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** The checksum stored beside a program; "" when there is none. */
function storedSum(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

/** Whole instructions, at least one, no more than seccomp(2) takes. */
function validProgram(b: Buffer): boolean {
  return b.length > 0 && b.length % 8 === 0 && b.length <= MAX_PROGRAM_BYTES;
}

/** All of a (small, sealed) file by position: the fd's offset is never moved. */
export function readWhole(fd: number): Buffer {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(Math.min(size, MAX_PROGRAM_BYTES + 1));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, got);
    if (n <= 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** runc's binary and every libseccomp on the library path, by size, mtime and inode. */
function compilerIdentity(runtimePath: string): string {
  const parts: string[] = [];
  const add = (p: string) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st) parts.push(`${p}:${st.size}:${st.mtimeMs}:${st.ino}`);
  };
  add(runtimePath);
  for (const dir of ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/lib"]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.startsWith("libseccomp.so"));
    } catch {
      continue;
    }
    for (const n of names.sort()) add(path.join(dir, n));
  }
  return parts.join("\n");
}
