import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { invalidParameter, PierError } from "../errdefs/index.js";
import type { VolumeService } from "../volume/index.js";
import type { HostConfig, MountPoint } from "./record.js";

/** A mount as the engine plans it at create time; volumes are named, not yet created. */
export interface PlannedMount {
  point: MountPoint;
  /** For volumes: create on demand; anonymous ones are removed with `rm -v`. */
  volume?: { name: string; anonymous: boolean; noCopy: boolean; labels?: Record<string, string>; driverOpts?: Record<string, string> };
  /** For binds from HostConfig.Binds, a missing source directory is created (Docker does). */
  createSource?: boolean;
}

const PROPAGATIONS = new Set(["shared", "rshared", "slave", "rslave", "private", "rprivate"]);

/**
 * Work out every mount of a container from HostConfig.Binds, HostConfig.Mounts, the create
 * request's Config.Volumes and the image's VOLUMEs, with Docker's precedence: an explicit
 * mount wins over an image VOLUME at the same destination; two explicit ones clash.
 */
export async function planMounts(hc: HostConfig, configVolumes: Record<string, object> | null | undefined, imageVolumes: Record<string, object> | null | undefined): Promise<PlannedMount[]> {
  const planned: PlannedMount[] = [];
  const seen = new Set<string>();
  const add = (m: PlannedMount) => {
    const dest = m.point.Destination;
    if (seen.has(dest)) throw invalidParameter(`Duplicate mount point: ${dest}`);
    seen.add(dest);
    planned.push(m);
  };

  for (const spec of hc.Binds ?? []) add(parseBind(spec));

  for (const m of hc.Mounts ?? []) add(await parseMountObject(m));

  // Config.Volumes from `-v /path` and image VOLUMEs become anonymous volumes unless a mount
  // already covers the destination.
  for (const dest of [...Object.keys(configVolumes ?? {}), ...Object.keys(imageVolumes ?? {})]) {
    const d = cleanDestination(dest);
    if (seen.has(d)) continue;
    seen.add(d);
    planned.push({
      point: { Type: "volume", Name: "", Source: "", Destination: d, Driver: "local", Mode: "", RW: true, Propagation: "" },
      volume: { name: "", anonymous: true, noCopy: false },
    });
  }
  for (const tmpfsDest of Object.keys(hc.Tmpfs ?? {})) {
    if (seen.has(cleanDestination(tmpfsDest))) throw invalidParameter(`Duplicate mount point: ${tmpfsDest}`);
  }
  return planned;
}

function cleanDestination(dest: string): string {
  if (!path.isAbsolute(dest)) throw invalidParameter(`invalid mount config: mount path must be absolute: ${dest}`);
  const c = path.posix.normalize(dest);
  return c.length > 1 ? c.replace(/\/$/, "") : c;
}

/** "src:dst[:opts]" as in `docker run -v`. */
export function parseBind(spec: string): PlannedMount {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw invalidParameter(`invalid volume specification: '${spec}'`);
  }
  const [source, dest, opts = ""] = parts as [string, string, string?];
  if (!path.isAbsolute(dest)) {
    throw invalidParameter(`invalid volume specification: '${spec}': invalid mount config for type "${source.startsWith("/") ? "bind" : "volume"}": invalid mount path: '${dest}' mount path must be absolute`);
  }
  let rw = true;
  let propagation = "";
  let noCopy = false;
  for (const o of opts.split(",").filter(Boolean)) {
    if (o === "ro") rw = false;
    else if (o === "rw") rw = true;
    else if (o === "z" || o === "Z") continue; // SELinux relabelling: no SELinux here
    else if (PROPAGATIONS.has(o)) propagation = o;
    else if (o === "nocopy") noCopy = true;
    else throw invalidParameter(`invalid mode: ${o}`);
  }
  // Mode is the options as written (moby's parser keeps them raw: "rw" stays "rw"); a named
  // volume without any shows "z" (moby's setBindModeIfNull).
  const mode = opts;
  const destination = cleanDestination(dest);
  if (source.startsWith("/")) {
    return {
      point: { Type: "bind", Source: path.posix.normalize(source), Destination: destination, Mode: mode, RW: rw, Propagation: propagation || "rprivate" },
      createSource: true,
    };
  }
  return {
    point: { Type: "volume", Name: source, Source: "", Destination: destination, Driver: "local", Mode: mode || "z", RW: rw, Propagation: "" },
    volume: { name: source, anonymous: false, noCopy },
  };
}

async function parseMountObject(m: NonNullable<HostConfig["Mounts"]>[number]): Promise<PlannedMount> {
  if (!m.Target) throw invalidParameter("invalid mount config: Target must not be empty");
  const destination = cleanDestination(m.Target);
  const rw = !m.ReadOnly;
  switch (m.Type) {
    case "bind": {
      if (!m.Source) throw invalidParameter(`invalid mount config for type "bind": field Source must not be empty`);
      if (!path.isAbsolute(m.Source)) throw invalidParameter(`invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`);
      try {
        await fsp.stat(m.Source);
      } catch {
        if (!m.BindOptions?.CreateMountpoint) {
          throw invalidParameter(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        }
      }
      const propagation = m.BindOptions?.Propagation || "rprivate";
      if (!PROPAGATIONS.has(propagation)) throw invalidParameter(`invalid propagation mode: ${propagation}`);
      return {
        point: { Type: "bind", Source: m.Source, Destination: destination, Mode: "", RW: rw, Propagation: propagation },
        createSource: !!m.BindOptions?.CreateMountpoint,
      };
    }
    case "volume": {
      const name = m.Source ?? "";
      // --mount volume-opt=…: the options of a volume this mount creates (an existing one keeps its own).
      const driverOpts = (m.VolumeOptions as { DriverConfig?: { Options?: Record<string, string> | null } } | undefined)?.DriverConfig?.Options ?? undefined;
      return {
        point: { Type: "volume", Name: name, Source: "", Destination: destination, Driver: "local", Mode: "z", RW: rw, Propagation: "" },
        volume: { name, anonymous: name === "", noCopy: !!m.VolumeOptions?.NoCopy, labels: m.VolumeOptions?.Labels, driverOpts },
      };
    }
    case "tmpfs": {
      if (m.Source) throw invalidParameter(`invalid mount config for type "tmpfs": field Source must not be specified`);
      return { point: { Type: "tmpfs", Source: "", Destination: destination, Mode: "", RW: rw, Propagation: "" } };
    }
    default:
      throw invalidParameter(`invalid mount config for type "${m.Type}": mount type unknown`);
  }
}

/** A volume's device could not be mounted at start: dockerd's words, and the exit code 128 it records. */
export class VolumeMountError extends PierError {
  constructor(message: string) {
    super("System", message);
  }
}

/**
 * At start, each named volume of the container is mounted for it (a volume with options gets
 * its device on _data; the first user mounts, the others share), as moby's MountPoint.Setup.
 * On a failure the volumes taken so far are released again. `holder` is the container's ID,
 * or a name of its own for a file copy that holds the volumes only while it runs.
 */
export async function mountContainerVolumes(volumes: VolumeService, c: { Id: string; Mounts: MountPoint[] }, holder = c.Id): Promise<void> {
  for (const m of c.Mounts) {
    if (m.Type !== "volume" || !m.Name) continue;
    try {
      await volumes.mount(m.Name, holder);
    } catch (err) {
      await unmountContainerVolumes(volumes, c, holder).catch(() => {});
      throw new VolumeMountError(`error while mounting volume '${m.Source}': ${(err as Error).message}`);
    }
  }
}

/** When the container stops (or its start fails): its holds go; the last user unmounts. */
export async function unmountContainerVolumes(volumes: VolumeService, c: { Id: string; Mounts: MountPoint[] }, holder = c.Id): Promise<void> {
  let first: unknown;
  for (const m of c.Mounts) {
    if (m.Type === "volume" && m.Name) await volumes.unmount(m.Name, holder).catch((err) => (first ??= err));
  }
  if (first !== undefined) throw first;
}
