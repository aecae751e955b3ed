// Which volumes with mount options are mounted on their _data, and who holds them. moby's local
// driver keeps a count per volume; here each holder is named (a container ID, or the copy-up of
// one), so a release that comes twice (an exit and a failed start's cleanup) cannot unmount a
// volume another container still uses. Nothing is stored: after a pierd restart the running
// containers are counted again (live restore) and what nobody holds is unmounted.

import { readFileSync } from "node:fs";

export class ActiveMounts {
  private readonly holders = new Map<string, Set<string>>();
  private readonly mounted = new Set<string>();
  /** One mount or unmount at a time per volume: a second start waits for the first's mount. */
  private readonly queues = new Map<string, Promise<void>>();

  /** Take a hold; the first holder mounts (`doMount`), later ones share the mount. */
  acquire(name: string, holder: string, doMount: () => Promise<void>): Promise<void> {
    return this.serial(name, async () => {
      if (!this.mounted.has(name)) {
        await doMount();
        this.mounted.add(name);
      }
      this.holdersOf(name).add(holder);
    });
  }

  /**
   * Drop a hold; the last one out unmounts (`doUnmount`). The hold goes even when the unmount
   * fails (moby: otherwise the volume could never be removed until a restart).
   */
  release(name: string, holder: string, doUnmount: () => void): Promise<void> {
    return this.serial(name, async () => {
      const set = this.holders.get(name);
      if (!set?.delete(holder)) return;
      if (set.size > 0) return;
      this.holders.delete(name);
      if (!this.mounted.has(name)) return;
      this.mounted.delete(name);
      doUnmount();
    });
  }

  /** Live restore: a running container holds its volume again (its mount was found by markMounted). */
  adopt(name: string, holder: string): void {
    this.holdersOf(name).add(holder);
  }

  /** A mount found on _data at start-up that no container may hold yet. */
  markMounted(name: string): void {
    this.mounted.add(name);
  }

  /** Unmount every mounted volume nobody holds (left by a crash or by containers that ended). */
  async sweep(doUnmount: (name: string) => void): Promise<void> {
    for (const name of [...this.mounted]) {
      await this.serial(name, async () => {
        if ((this.holders.get(name)?.size ?? 0) > 0 || !this.mounted.has(name)) return;
        this.mounted.delete(name);
        doUnmount(name);
      });
    }
  }

  count(name: string): number {
    return this.holders.get(name)?.size ?? 0;
  }

  /** Forget a volume that is being removed (it has no holders). */
  forget(name: string): void {
    this.mounted.delete(name);
    this.holders.delete(name);
  }

  private holdersOf(name: string): Set<string> {
    let set = this.holders.get(name);
    if (!set) this.holders.set(name, (set = new Set()));
    return set;
  }

  private serial(name: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.then(fn);
    const tail = next.catch(() => {});
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    return next;
  }
}

/** Mount points in this process's namespace, from /proc/self/mountinfo (octal escapes undone). */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const field = line.split(" ")[4];
    if (field) out.add(field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return out;
}
