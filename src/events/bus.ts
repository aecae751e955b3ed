// The event bus behind GET /events: every service publishes here, the API streams from here.
import { nowNs } from "../lib/index.js";

export type EventType = "container" | "image" | "volume" | "network" | "daemon" | "plugin" | "node" | "service" | "secret" | "config";

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local" | "swarm";
  time: number;
  timeNano: number;
  // Deprecated fields old clients still read.
  status?: string;
  id?: string;
  from?: string;
}

export type EventInput = { Type: EventType; Action: string; ID: string; Attributes?: Record<string, string> };

export type EventListener = (e: EngineEvent) => void;

/** Each event's exact timeNano: a JS number cannot hold nanoseconds since 1970 exactly. */
const exactNano = new WeakMap<EngineEvent, bigint>();

/** The event's time in nanoseconds, exactly. */
export function eventNano(e: EngineEvent): bigint {
  return exactNano.get(e) ?? BigInt(e.timeNano);
}

/** The event as Docker sends it: one JSON object, timeNano an exact int64. */
export function eventJSON(e: EngineEvent): string {
  return JSON.stringify({ ...e, timeNano: 0 }).replace(/"timeNano":0([,}])/, `"timeNano":${eventNano(e)}$1`);
}

/** Events kept for since/until replays (moby keeps 256; in memory only, as moby). */
const HISTORY = 1024;

export class EventBus {
  private readonly history: EngineEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private lastNano = 0n;

  publish(input: EventInput): EngineEvent {
    // timeNano must be strictly increasing so since/until windows are exact; the same clock
    // as the containers' Created/StartedAt/FinishedAt.
    let nano = nowNs();
    if (nano <= this.lastNano) nano = this.lastNano + 1n;
    this.lastNano = nano;
    const attrs = input.Attributes ?? {};
    const e: EngineEvent = {
      Type: input.Type,
      Action: input.Action,
      Actor: { ID: input.ID, Attributes: attrs },
      scope: "local",
      time: Number(nano / 1_000_000_000n),
      timeNano: Number(nano),
    };
    exactNano.set(e, nano);
    if (input.Type === "container" || input.Type === "image") {
      e.status = input.Action;
      if (input.ID) e.id = input.ID; // omitted when empty (a prune), as Go's omitempty
      if (input.Type === "container" && attrs.image) e.from = attrs.image;
    }
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.shift();
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Events already published, oldest first (bounded). */
  past(): readonly EngineEvent[] {
    return this.history;
  }

  /** Past events with since ≤ timeNano ≤ until (nanoseconds; either bound may be absent). */
  between(sinceNs: bigint | undefined, untilNs: bigint | undefined): EngineEvent[] {
    return this.history.filter((e) => (sinceNs === undefined || eventNano(e) >= sinceNs) && (untilNs === undefined || eventNano(e) <= untilNs));
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
