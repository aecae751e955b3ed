import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { RecordStore } from "../metadata/index.js";
import type { EventBus } from "../events/index.js";
import { conflict, invalidParameter, notFound, systemError } from "../errdefs/index.js";
import { newID, rfc3339Nano } from "../lib/index.js";
import { ActiveMounts, mountPoints } from "./active-mounts.js";
import { mountLocalVolume, unmountLocalVolume } from "./local-mount.js";
import { mountSpecOf, validateLocalOptions } from "./local-options.js";

/** A volume as the API shows it (Volume in the Engine API spec). */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: "local";
  Options: Record<string, string> | null;
  /** Not in the API: true for volumes made for an image VOLUME or `-v /path`. */
  anonymous?: boolean;
}

const VALID_VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

/**
 * Named local volumes: a directory `<root>/<name>/_data`, as Docker's local driver lays them out.
 * A volume made with options (type, device, o) has that device mounted on its _data while a
 * container uses it (mount/unmount, counted per holder).
 */
export class VolumeService {
  private readonly records: RecordStore<Volume>;
  private readonly active = new ActiveMounts();
  constructor(private readonly root: string, private readonly events: EventBus) {
    this.records = new RecordStore<Volume>(path.join(root, "_meta"));
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o701 });
    await this.records.load();
    // Mounts that outlived pierd: the containers restored next hold them again (adopt), the
    // rest are unmounted by sweepUnheld() once the restore is done.
    const mounted = mountPoints();
    for (const v of this.records.values()) {
      if (mountSpecOf(v.Options) && mounted.has(v.Mountpoint)) this.active.markMounted(v.Name);
    }
  }

  get(name: string): Volume | undefined {
    return this.records.get(name);
  }

  inspect(name: string): Volume {
    const v = this.records.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  list(): Volume[] {
    return [...this.records.values()];
  }

  async create(opts: { Name?: string; Driver?: string; DriverOpts?: Record<string, string> | null; Labels?: Record<string, string> | null; anonymous?: boolean }): Promise<Volume> {
    const driver = opts.Driver || "local";
    const anonymous = opts.anonymous || !opts.Name;
    const name = opts.Name || newID();
    // moby's store wraps the driver lookup as an OpErr: "create <name>: …" (a generated name too).
    if (driver !== "local") throw notFound(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    if (!VALID_VOLUME_NAME.test(name)) {
      throw invalidParameter(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const existing = this.records.get(name);
    if (existing) return existing; // Docker: creating an existing volume returns it, whatever the options.
    if (opts.DriverOpts) {
      try {
        validateLocalOptions(opts.DriverOpts);
      } catch (err) {
        throw invalidParameter(`create ${name}: ${(err as Error).message}`);
      }
    }
    const dir = path.join(this.root, name);
    await fsp.mkdir(path.join(dir, "_data"), { recursive: true, mode: 0o755 });
    const labels = { ...(opts.Labels ?? {}) };
    if (anonymous && opts.anonymous) labels[ANONYMOUS_LABEL] = "";
    const v: Volume = {
      Name: name,
      Driver: "local",
      Mountpoint: path.join(dir, "_data"),
      CreatedAt: rfc3339Nano(Date.now()).replace(/\.\d+Z$/, "Z"),
      Labels: labels,
      Scope: "local",
      // As given: dockerd shows {} for an empty map and null when none was sent.
      Options: opts.DriverOpts ? { ...opts.DriverOpts } : null,
      anonymous: !!opts.anonymous,
    };
    await this.records.put(name, v);
    this.events.publish({ Type: "volume", Action: "create", ID: name, Attributes: { driver: "local" } });
    return v;
  }

  /** usedBy lists the containers that mount it; a volume in use is kept (409) unless force. */
  async remove(name: string, usedBy: string[], force = false): Promise<void> {
    const v = this.records.get(name);
    if (!v) {
      if (force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    if (usedBy.length > 0) throw conflict(`remove ${name}: volume is in use - [${usedBy.join(", ")}]`);
    if (this.active.count(name) > 0) throw systemError(`remove ${name}: volume has active mounts`);
    // Never delete through a mount: a bind volume's _data is the user's host directory.
    if (mountSpecOf(v.Options)) unmountLocalVolume(v.Mountpoint);
    if (mountPoints().has(v.Mountpoint)) throw systemError(`remove ${name}: volume data is still mounted at ${v.Mountpoint}`);
    this.active.forget(name);
    await this.records.delete(name);
    await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
    this.events.publish({ Type: "volume", Action: "destroy", ID: name, Attributes: { driver: "local" } });
  }

  /**
   * A container (or a copy-up: any `holder` name) starts using the volume: the first one mounts
   * its device on _data, as moby's local driver. Returns where the data is. A volume without
   * options is a plain directory and needs nothing.
   */
  async mount(name: string, holder: string): Promise<string> {
    const v = this.inspect(name);
    const spec = mountSpecOf(v.Options);
    if (!spec) return v.Mountpoint;
    await this.active.acquire(name, holder, async () => {
      try {
        await mountLocalVolume(spec, v.Mountpoint);
      } catch (err) {
        throw systemError((err as Error).message, err);
      }
    });
    return v.Mountpoint;
  }

  /** The holder is done with the volume; the last one out unmounts it. */
  async unmount(name: string, holder: string): Promise<void> {
    const v = this.records.get(name);
    if (!v || !mountSpecOf(v.Options)) return;
    await this.active.release(name, holder, () => unmountLocalVolume(v.Mountpoint));
  }

  /**
   * Live restore: a container found running after a pierd restart holds its volume again, its
   * mount being still in place (moby's LiveRestoreVolume).
   */
  adopt(name: string, holder: string): void {
    const v = this.records.get(name);
    if (!v || !mountSpecOf(v.Options)) return;
    this.active.adopt(name, holder);
  }

  /** After the restore: unmount what no container holds (its containers ended while pierd was away). */
  async sweepUnheld(): Promise<void> {
    await this.active.sweep((name) => {
      const v = this.records.get(name);
      if (v) unmountLocalVolume(v.Mountpoint);
    });
  }

  /** How many holders the volume's mount has (0 for a volume without options). */
  activeMounts(name: string): number {
    return this.active.count(name);
  }

  /** Size of a volume's data, for /system/df. */
  async usage(name: string): Promise<number> {
    const v = this.records.get(name);
    return v ? dirSize(v.Mountpoint) : 0;
  }
}

export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile()) total += (await fsp.lstat(p)).size;
  }
  return total;
}

export { ANONYMOUS_LABEL };
