// Live restore: what pierd does with each container record when it starts again, after a
// graceful stop, a crash or a kill -9. Containers run under their monitor and outlive pierd; this
// module re-adopts those still running, settles the exits that happened while pierd was away
// (with the real exit code and time from the monitor's exit file), and then applies the restart
// policies and --rm as moby's daemon restore() does.

import type { ContainerRecord } from "./record.js";
import { ZERO_TIME } from "./record.js";

/** What the restore needs of the container service. */
export interface RestoreHost {
  all(): ContainerRecord[];
  /** True when the monitor wrote the container's exit file or its process is gone. */
  hasEnded(c: ContainerRecord): Promise<boolean>;
  /** Record the exit (code and time from the exit file) without applying any policy. */
  settleExit(id: string): Promise<void>;
  /** A container found running: its health checks begin again (moby's restore does). */
  resume(c: ContainerRecord): void;
  /** A container recorded as running holds its volumes' mounts again (moby's LiveRestoreVolume). */
  holdVolumes(c: ContainerRecord): void;
  /** Unmount the volumes no container holds any more. */
  releaseUnheldVolumes(): Promise<void>;
  /** A restart that was pending when pierd went away ends; phase two decides again. */
  endPendingRestart(id: string): Promise<void>;
  /** Finish a removal that a crash interrupted. */
  finishRemoval(id: string): Promise<void>;
  /** A start as at `docker start`: a new restart history (count 0, no user stop). */
  start(id: string): Promise<void>;
  /** Remove a --rm container with its anonymous volumes. */
  autoRemove(id: string): Promise<void>;
  warn(msg: string, fields: Record<string, unknown>): void;
}

/** How many containers are settled, started or removed at once. */
const PARALLEL = 16;

/**
 * Phase one, before the network service restores its sandboxes: every record is brought in
 * line with what really runs. Nothing is started or removed by policy yet.
 */
export async function settleContainers(host: RestoreHost): Promise<void> {
  // Before any exit is settled (settling one releases its holds); synchronous, so no exit
  // event from the watcher can come first.
  for (const c of host.all()) if (c.State.Running) host.holdVolumes(c);
  await eachLimited(host.all(), async (c) => {
    if (c.State.Status === "removing") return host.finishRemoval(c.Id);
    if (!c.State.Running) return c.State.Restarting ? host.endPendingRestart(c.Id) : undefined;
    if (await host.hasEnded(c)) return host.settleExit(c.Id);
    if (!c.State.Paused) host.resume(c);
  }, (c, err) => host.warn("cannot restore container", { id: c.Id, err: String(err) }));
  await host.releaseUnheldVolumes().catch((err) => host.warn("cannot unmount unused volumes", { err: String(err) }));
}

/**
 * Phase two, once networks are back: restart what the policies bring back, remove what --rm
 * says must go. moby starts these before the daemon serves the API; so does pierd.
 */
export async function applyDaemonStartPolicies(host: RestoreHost): Promise<void> {
  const all = host.all();
  await eachLimited(all.filter(restartsOnDaemonStart), (c) => host.start(c.Id), (c, err) => host.warn("cannot restart container at daemon start", { id: c.Id, err: String(err) }));
  await eachLimited(host.all().filter(removedOnDaemonStart), (c) => host.autoRemove(c.Id), (c, err) => host.warn("cannot remove --rm container at daemon start", { id: c.Id, err: String(err) }));
}

/**
 * moby's rule at daemon start (restartmanager.ShouldRestart with a fresh manager, and only for
 * a container that was started before): `always` comes back even after a user stop (only a
 * new start or a daemon restart brings it back, as Docker documents), `unless-stopped` unless
 * the user stopped it (HasBeenManuallyStopped is kept on disk), `on-failure` after a non-zero
 * exit while retries remain (a user stop is not looked at: moby does not), `no` never.
 */
export function restartsOnDaemonStart(c: ContainerRecord): boolean {
  if (c.State.Running || c.State.Paused || c.State.Dead || c.State.Status === "removing") return false;
  if (c.State.StartedAt === ZERO_TIME) return false; // created only: HasBeenStartedBefore is false
  const p = c.HostConfig.RestartPolicy;
  switch (p?.Name) {
    case "always":
      return true;
    case "unless-stopped":
      return !c.stoppedByUser;
    case "on-failure":
      return c.State.ExitCode !== 0 && (!p.MaximumRetryCount || c.RestartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

/**
 * A --rm container that is not running at daemon start (it ended while pierd was away, or was
 * only created) is removed; one still running keeps its --rm for when it ends (moby with
 * live-restore: "remove if live-restore is disabled or the container has already exited").
 */
export function removedOnDaemonStart(c: ContainerRecord): boolean {
  return !!c.HostConfig.AutoRemove && !c.State.Running && !c.State.Paused && c.State.Status !== "removing";
}

async function eachLimited<T>(items: T[], fn: (item: T) => Promise<void>, onError: (item: T, err: unknown) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((err) => onError(item, err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}
