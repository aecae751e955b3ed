// The event bus behind GET /events: every service publishes here, the API streams from here.

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

const HISTORY = 1024;

export class EventBus {
  private readonly history: EngineEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private lastNano = 0n;

  publish(input: EventInput): EngineEvent {
    // timeNano must be strictly increasing so since/until windows are exact.
    let nano = BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
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
    if (input.Type === "container" || input.Type === "image") {
      e.status = input.Action;
      e.id = input.ID;
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

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
