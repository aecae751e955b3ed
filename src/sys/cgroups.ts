import { promises as fsp } from "node:fs";
import * as path from "node:path";

/** Mount points of the cgroup hierarchies (v1 controllers and the v2 one), from mountinfo. */
async function cgroupMounts(): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await fsp.readFile("/proc/self/mountinfo", "utf8")).split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const fstype = post.split(" ")[0];
    if (fstype === "cgroup" || fstype === "cgroup2") out.push(pre.split(" ")[4]!);
  }
  return out;
}

/**
 * Remove a container's cgroup (runc's cgroupfs path, e.g. "/pier/<id>") in every hierarchy,
 * for what a runtime killed in the middle of its create left: it made the cgroups, and nothing
 * else removes them (`runc delete` knows a container only once its state is written). A cgroup
 * still holding a process that is being killed is busy for a moment: retried for up to
 * `waitMs`, then left (and reported).
 */
export async function removeCgroup(cgroupsPath: string, waitMs = 5000): Promise<string[]> {
  const left: string[] = [];
  const deadline = Date.now() + waitMs;
  for (const mount of await cgroupMounts()) {
    const dir = path.join(mount, cgroupsPath);
    for (;;) {
      try {
        await fsp.rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") break;
        if (code !== "EBUSY" || Date.now() > deadline) {
          left.push(`${dir}: ${(err as Error).message}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  return left;
}
