import type { EventType } from "../../events/index.js";
import type { Services } from "../services.js";

/** moby logs one `prune` event per prune call, with no actor ID and the space reclaimed. */
export function publishPrune(s: Services, type: EventType, reclaimed?: number): void {
  s.events.publish({ Type: type, Action: "prune", ID: "", Attributes: reclaimed === undefined ? {} : { reclaimed: String(reclaimed) } });
}
