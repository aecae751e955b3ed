// GET /events filters with moby's semantics (daemon/events/filter.go): every key narrows the
// stream; values of one key are alternatives, except `label`, whose values must all match.
import { familiarName, parseNormalizedNamed } from "../oci/index.js";
import type { EngineEvent } from "./bus.js";

export type EventFilters = Record<string, string[]>;

/** Actions that carry a suffix (`health_status: healthy`, `exec_start: sh -c …`): matched by prefix. */
const SUFFIXED_ACTIONS = new Set(["health_status", "exec_create", "exec_start"]);

/** A predicate for the events the filters let through. */
export function eventMatcher(f: EventFilters): (e: EngineEvent) => boolean {
  const has = (key: string) => (f[key]?.length ?? 0) > 0;
  const exact = (key: string, v: string | undefined) => !has(key) || (v !== undefined && f[key]!.includes(v));
  // moby's FuzzyMatch: the value itself or any filter value that is a prefix of it.
  const fuzzy = (key: string, v: string | undefined) => !has(key) || (v !== undefined && f[key]!.some((w) => v === w || v.startsWith(w)));
  // By ID or name, for whichever object the key names (moby fuzzyMatchName): a
  // `container=web` filter lets through only events whose actor is called or numbered so.
  const byName = (key: string, e: EngineEvent) => !has(key) || fuzzy(key, e.Actor.ID) || fuzzy(key, e.Actor.Attributes.name);
  const eventFuzzy = (f.event ?? []).some((v) => SUFFIXED_ACTIONS.has(v));
  return (e) => {
    if (!(eventFuzzy ? fuzzy("event", e.Action) : exact("event", e.Action))) return false;
    if (!exact("type", e.Type) || !exact("scope", e.scope)) return false;
    for (const key of ["daemon", "container", "plugin", "volume", "network", "node", "service", "secret", "config"]) {
      if (!byName(key, e)) return false;
    }
    if (has("image") && !imageMatches(f.image!, e)) return false;
    if (has("label") && !labelsMatch(f.label!, e.Actor.Attributes)) return false;
    return true;
  };
}

/**
 * moby's matchImage: the actor's ID or its image name (the `image` attribute of a container
 * event, the `name` of an image event), each also without its tag.
 */
function imageMatches(wanted: string[], e: EngineEvent): boolean {
  const name = e.Actor.Attributes[e.Type === "image" ? "name" : "image"];
  const candidates = [e.Actor.ID, stripTag(e.Actor.ID)];
  if (name !== undefined) candidates.push(name, stripTag(name));
  return candidates.some((c) => wanted.includes(c));
}

function stripTag(image: string): string {
  try {
    return familiarName(parseNormalizedNamed(image));
  } catch {
    return image;
  }
}

/** moby's MatchKVList: every `key` must be present, every `key=value` equal. */
function labelsMatch(wanted: string[], attrs: Record<string, string>): boolean {
  return wanted.every((w) => {
    const i = w.indexOf("=");
    const key = i < 0 ? w : w.slice(0, i);
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) return false;
    return i < 0 || attrs[key] === w.slice(i + 1);
  });
}
