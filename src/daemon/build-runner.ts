import { LogFollower, type ContainerService } from "../container/index.js";
import type { BuildRunner } from "../builder/index.js";

/**
 * RUN steps of `docker build`: a container per step, its output read from the monitor's log as it
 * runs. Lives in the daemon because the builder and the container service are peers (level 5)
 * and must not import each other.
 */
export function containerBuildRunner(containers: ContainerService): BuildRunner {
  const NL = Buffer.from("\n");
  return {
    async create(r) {
      const { Id } = await containers.create({
        config: { Image: r.image, Cmd: r.cmd, Entrypoint: [], Env: r.env, WorkingDir: r.workdir, User: r.user, AttachStdout: true, AttachStderr: true },
        hostConfig: {
          NetworkMode: r.networkMode ?? "default",
          // The step's output is read from its log: whatever the daemon's default driver, keep one.
          LogConfig: { Type: "json-file", Config: {} },
          ...(r.extraHosts ? { ExtraHosts: r.extraHosts } : {}),
          ...(r.shmSize ? { ShmSize: r.shmSize } : {}),
          ...(r.memory ? { Memory: r.memory } : {}),
          ...(r.memorySwap ? { MemorySwap: r.memorySwap } : {}),
          ...(r.cpuShares ? { CpuShares: r.cpuShares } : {}),
          ...(r.cpuSetCpus ? { CpusetCpus: r.cpuSetCpus } : {}),
          ...(r.cpuSetMems ? { CpusetMems: r.cpuSetMems } : {}),
          ...(r.cpuPeriod ? { CpuPeriod: r.cpuPeriod } : {}),
          ...(r.cpuQuota ? { CpuQuota: r.cpuQuota } : {}),
        },
      });
      return Id;
    },
    async run(id, output) {
      const c = containers.get(id);
      const exited = containers.wait(id, "next-exit");
      // The monitor splits lines into partial records; hand out whole lines (and what is left at the end).
      const pending: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
      const follower = new LogFollower(c.LogPath, 0, (recs) => {
        for (const rec of recs) {
          pending[rec.stream].push(rec.text);
          if (rec.partial) continue;
          pending[rec.stream].push(NL);
          output(Buffer.concat(pending[rec.stream]), rec.stream);
          pending[rec.stream] = [];
        }
      });
      const flush = () => {
        for (const st of [1, 2] as const) if (pending[st].length) output(Buffer.concat(pending[st]), st);
      };
      follower.start();
      try {
        await containers.start(id);
      } catch (err) {
        follower.close();
        throw err;
      }
      const { StatusCode } = await exited;
      await follower.stop();
      flush();
      return StatusCode;
    },
    remove: (id) => containers.remove(id, { force: true, removeVolumes: true }),
  };
}
