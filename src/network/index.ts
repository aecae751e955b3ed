import * as path from "node:path";
import { RecordStore } from "../metadata/index.js";
import { forbidden, notFound, invalidParameter } from "../errdefs/index.js";
import { newID, rfc3339Nano } from "../lib/index.js";

/** A network as GET /networks shows it (NetworkResource in the API spec). */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet?: string; Gateway?: string }[] | null };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, unknown>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

const PREDEFINED = ["bridge", "host", "none"] as const;

/**
 * Networks known to the engine. For now the three predefined ones; user networks, IPAM and
 * the bridge's NAT come with the networking work (issue 4). IDs are made once and kept, so
 * clients that cache them see the same ones across restarts.
 */
export class NetworkService {
  private readonly records: RecordStore<NetworkResource>;
  constructor(root: string) {
    this.records = new RecordStore<NetworkResource>(path.join(root, "_meta"));
  }

  async init(): Promise<void> {
    await this.records.load();
    for (const name of PREDEFINED) {
      if ([...this.records.values()].some((n) => n.Name === name)) continue;
      const n: NetworkResource = {
        Name: name,
        Id: newID(),
        Created: rfc3339Nano(Date.now()),
        Scope: "local",
        Driver: name === "bridge" ? "bridge" : name === "host" ? "host" : "null",
        EnableIPv6: false,
        IPAM: { Driver: "default", Options: null, Config: name === "bridge" ? [{ Subnet: "172.17.0.0/16", Gateway: "172.17.0.1" }] : [] },
        Internal: false,
        Attachable: false,
        Ingress: false,
        ConfigFrom: { Network: "" },
        ConfigOnly: false,
        Containers: {},
        Options: name === "bridge" ? { "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": "pier0" } : {},
        Labels: {},
      };
      await this.records.put(n.Id, n);
    }
  }

  list(): NetworkResource[] {
    return [...this.records.values()];
  }

  /** By ID, name, or unique ID prefix. */
  get(ref: string): NetworkResource {
    const exact = this.records.get(ref) ?? this.list().find((n) => n.Name === ref);
    if (exact) return exact;
    const byPrefix = this.list().filter((n) => n.Id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw invalidParameter(`network ${ref} is ambiguous (${byPrefix.length} matches found on name)`);
    throw notFound(`network ${ref} not found`);
  }

  /** name → ID, for the NetworkID of container endpoints. */
  ids(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const n of this.list()) out[n.Name] = n.Id;
    return out;
  }

  remove(ref: string): void {
    const n = this.get(ref);
    if ((PREDEFINED as readonly string[]).includes(n.Name)) throw forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
  }
}
