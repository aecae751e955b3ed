import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { RecordStore } from "../metadata/index.js";
import type { EventBus } from "../events/index.js";
import { conflict, invalidParameter, notFound } from "../errdefs/index.js";
import { newID, rfc3339Nano } from "../lib/index.js";

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

/** Named local volumes: a directory `<root>/<name>/_data`, as Docker's local driver lays them out. */
export class VolumeService {
  private readonly records: RecordStore<Volume>;
  constructor(private readonly root: string, private readonly events: EventBus) {
    this.records = new RecordStore<Volume>(path.join(root, "_meta"));
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o701 });
    await this.records.load();
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
    if (driver !== "local") throw notFound(`plugin "${driver}" not found`);
    const anonymous = opts.anonymous || !opts.Name;
    const name = opts.Name || newID();
    if (!VALID_VOLUME_NAME.test(name)) {
      throw invalidParameter(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const existing = this.records.get(name);
    if (existing) return existing; // Docker: creating an existing volume returns it.
    const driverOpts = opts.DriverOpts ?? {};
    for (const key of Object.keys(driverOpts)) {
      if (!["type", "device", "o", "size"].includes(key)) throw invalidParameter(`invalid option key: "${key}"`);
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
      Options: Object.keys(driverOpts).length ? driverOpts : null,
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
    await this.records.delete(name);
    await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
    this.events.publish({ Type: "volume", Action: "destroy", ID: name, Attributes: { driver: "local" } });
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
