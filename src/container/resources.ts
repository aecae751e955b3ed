// `docker update`: change a container's resources and restart policy, as moby's
// daemon.ContainerUpdate and container.UpdateContainer do. A running (or paused) container gets
// the new limits at once through `runc update`; a stopped one keeps them for its next start
// (the spec is built from HostConfig at every start).

import { invalidParameter, PierError, systemError } from "../errdefs/index.js";
import { buildResources, type HostConfigInput } from "../runtime/index.js";
import type { LinuxResources } from "../oci/index.js";
import type { ContainerRecord, HostConfig } from "./record.js";

/** The body of POST /containers/{id}/update (Resources plus RestartPolicy). */
export type UpdateRequest = Record<string, unknown> & {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  BlkioWeight?: number;
  PidsLimit?: number | null;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
};

export interface UpdateHooks {
  apply(c: ContainerRecord, runcFlags: string[]): Promise<void>;
  save(c: ContainerRecord): Promise<void>;
  emit(c: ContainerRecord): void;
}

const MIN_MEMORY = 6 * 1024 * 1024;
const POLICIES = new Set(["", "no", "always", "unless-stopped", "on-failure"]);

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export async function updateContainer(c: ContainerRecord, req: UpdateRequest, hooks: UpdateHooks): Promise<{ Warnings: string[] }> {
  const cannot = (msg: string, kind: "InvalidParameter" | "Conflict" | "System" = "InvalidParameter") =>
    new PierError(kind, `Cannot update container ${c.Id}: ${msg}`);
  if (c.State.Status === "removing" || c.State.Dead) throw cannot(`container is marked for removal and cannot be "update"`, "Conflict");

  // verifyContainerSettings(update=true): the request's own values.
  const mem = num(req.Memory);
  const swap = num(req.MemorySwap);
  if (mem !== 0 && mem < MIN_MEMORY) throw invalidParameter("Minimum memory limit allowed is 6MB");
  if (mem > 0 && swap > 0 && swap < mem) throw invalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage");
  const rp = req.RestartPolicy;
  if (rp && rp.Name !== undefined) {
    if (!POLICIES.has(rp.Name)) throw invalidParameter(`invalid restart policy: unknown policy '${rp.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
    if (rp.Name !== "on-failure" && num(rp.MaximumRetryCount) > 0) throw invalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'");
    if (num(rp.MaximumRetryCount) < 0) throw invalidParameter("invalid restart policy: maximum retry count cannot be negative");
  }

  // container.UpdateContainer: merge into the stored HostConfig, refusing conflicting updates.
  const hc: HostConfig = { ...c.HostConfig };
  const cur = (k: string) => num(hc[k]);
  if (num(req.NanoCpus) > 0 && cur("CpuPeriod") > 0) throw cannot("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  if (num(req.NanoCpus) > 0 && cur("CpuQuota") > 0) throw cannot("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  if (num(req.CpuPeriod) > 0 && cur("NanoCpus") > 0) throw cannot("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if (num(req.CpuQuota) > 0 && cur("NanoCpus") > 0) throw cannot("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  for (const k of ["BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "MemoryReservation", "CpuRealtimePeriod", "CpuRealtimeRuntime"]) {
    if (num(req[k]) !== 0) hc[k] = num(req[k]);
  }
  for (const k of ["CpusetCpus", "CpusetMems"]) {
    if (typeof req[k] === "string" && req[k] !== "") hc[k] = req[k];
  }
  if (mem !== 0) {
    if (mem > cur("MemorySwap") && swap === 0) {
      throw cannot("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    }
    hc.Memory = mem;
  }
  if (swap !== 0) hc.MemorySwap = swap;
  if (req.PidsLimit !== undefined && req.PidsLimit !== null) hc.PidsLimit = req.PidsLimit > 0 ? req.PidsLimit : null;
  if (rp && rp.Name) {
    if (hc.AutoRemove && rp.Name !== "no") throw cannot("Restart policy cannot be updated because AutoRemove is enabled for the container", "Conflict");
    hc.RestartPolicy = { Name: rp.Name, MaximumRetryCount: num(rp.MaximumRetryCount) };
  }

  // The merged settings must still make a valid container (and say what this host ignores).
  const warnings: string[] = [];
  let resources: LinuxResources;
  try {
    resources = buildResources(hc as HostConfigInput, (w) => warnings.push(w));
  } catch (err) {
    if (err instanceof PierError) throw cannot(err.message, err.kind === "Conflict" ? "Conflict" : "InvalidParameter");
    throw err;
  }

  const before = c.HostConfig;
  c.HostConfig = hc;
  const flags = runcUpdateFlags(resources, req);
  if (c.State.Running && !c.State.Restarting && flags.length > 0) {
    try {
      await hooks.apply(c, flags);
    } catch (err) {
      c.HostConfig = before;
      throw systemError(`Cannot update container ${c.Id}: ${(err as Error).message}`, err);
    }
  }
  await hooks.save(c);
  hooks.emit(c);
  return { Warnings: warnings };
}

/** `runc update` flags for what the request changes (runc leaves unnamed settings alone). */
export function runcUpdateFlags(r: LinuxResources, req: UpdateRequest): string[] {
  const f: string[] = [];
  const mem = r.memory ?? {};
  if (num(req.Memory) !== 0 || num(req.MemorySwap) !== 0) {
    if (mem.limit !== undefined) f.push(`--memory=${mem.limit}`);
    if (mem.swap !== undefined) f.push(`--memory-swap=${mem.swap}`);
  }
  if (num(req.MemoryReservation) !== 0 && mem.reservation !== undefined) f.push(`--memory-reservation=${mem.reservation}`);
  const cpu = r.cpu ?? {};
  if (num(req.CpuShares) !== 0 && cpu.shares) f.push(`--cpu-share=${cpu.shares}`);
  if (num(req.NanoCpus) !== 0 || num(req.CpuPeriod) !== 0 || num(req.CpuQuota) !== 0) {
    if (cpu.period !== undefined) f.push(`--cpu-period=${cpu.period}`);
    if (cpu.quota !== undefined) f.push(`--cpu-quota=${cpu.quota}`);
  }
  if (req.CpusetCpus && cpu.cpus) f.push(`--cpuset-cpus=${cpu.cpus}`);
  if (req.CpusetMems && cpu.mems) f.push(`--cpuset-mems=${cpu.mems}`);
  if (num(req.BlkioWeight) !== 0 && r.blockIO?.weight) f.push(`--blkio-weight=${r.blockIO.weight}`);
  if (req.PidsLimit !== undefined && req.PidsLimit !== null) f.push(`--pids-limit=${req.PidsLimit > 0 ? req.PidsLimit : -1}`);
  return f;
}
