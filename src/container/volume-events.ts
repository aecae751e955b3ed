import type { EventBus } from "../events/index.js";
import type { ContainerRecord } from "./record.js";

/**
 * Docker's volume `mount` (at a container's start, one per volume, with where and how) and
 * `unmount` (when it ends) events; bind and tmpfs mounts have none.
 */
export function publishVolumeEvents(events: EventBus, c: ContainerRecord, action: "mount" | "unmount"): void {
  for (const m of c.Mounts) {
    if (m.Type !== "volume" || !m.Name) continue;
    const driver = m.Driver || "local";
    const attrs: Record<string, string> = action === "mount"
      ? { container: c.Id, destination: m.Destination, driver, propagation: m.Propagation ?? "", "read/write": String(m.RW) }
      : { container: c.Id, driver };
    events.publish({ Type: "volume", Action: action, ID: m.Name, Attributes: attrs });
  }
}
