// The local driver's options (`docker volume create -o type=… -o device=… -o o=…`, compose's
// driver_opts): what moby's local driver accepts at create, with its words.

import { invalidParameter } from "../errdefs/index.js";
import { ramInBytes } from "../lib/index.js";

/** The keys the local driver knows; `size` is a project-quota limit. */
const KNOWN_KEYS = new Set(["type", "device", "o", "size"]);

/**
 * Each option that needs others. moby walks a Go map (a random order) and names the first
 * missing one; a fixed order here names the same key on every call.
 */
const REQUIRES: [string, string[]][] = [
  ["device", ["type"]],
  ["type", ["device"]],
  ["o", ["device", "type"]],
];

/** Refuse what moby's local driver refuses at create (InvalidParameter: 400). */
export function validateLocalOptions(opts: Record<string, string>): void {
  for (const key of Object.keys(opts)) {
    if (!KNOWN_KEYS.has(key)) throw invalidParameter(`invalid option: ${JSON.stringify(key)}`);
  }
  if (opts.size !== undefined) {
    let bytes: number;
    try {
      bytes = ramInBytes(opts.size);
    } catch (err) {
      throw invalidParameter((err as Error).message);
    }
    // Quotas need XFS project quotas on the volumes directory; pierd does not set them up, so
    // it answers as dockerd does on a filesystem without them.
    if (bytes > 0) throw invalidParameter("quota size requested but no quota support");
  }
  for (const [key, needed] of REQUIRES) {
    if (!(key in opts)) continue;
    for (const n of needed) if (!(n in opts)) throw invalidParameter(`missing required option: ${JSON.stringify(n)}`);
  }
}

/** What a volume's options ask to be mounted on its _data at first use. */
export interface LocalMountSpec {
  type: string;
  device: string;
  o: string;
}

/** The mount a volume needs, or undefined for a plain directory (moby's needsMount). */
export function mountSpecOf(opts: Record<string, string> | null | undefined): LocalMountSpec | undefined {
  if (!opts) return undefined;
  const type = opts.type ?? "";
  const device = opts.device ?? "";
  if (type === "" && device === "") return undefined;
  return { type, device, o: opts.o ?? "" };
}
