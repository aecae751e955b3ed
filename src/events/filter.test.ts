import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventBus, eventJSON, eventNano } from "./bus.js";
import { eventMatcher } from "./filter.js";
import { parseTimestampNs } from "../lib/index.js";

const bus = new EventBus();
const ctr = bus.publish({ Type: "container", Action: "die", ID: "abc123def", Attributes: { name: "web-1", image: "busybox:latest", exitCode: "3", tier: "web" } });
const exec = bus.publish({ Type: "container", Action: "exec_start: sh -c true", ID: "abc123def", Attributes: { name: "web-1", image: "busybox" } });
const img = bus.publish({ Type: "image", Action: "tag", ID: "sha256:1111", Attributes: { name: "evtag:1" } });
const vol = bus.publish({ Type: "volume", Action: "mount", ID: "data", Attributes: { container: "abc123def", driver: "local" } });
const prune = bus.publish({ Type: "container", Action: "prune", ID: "", Attributes: { reclaimed: "0" } });
const match = (f: Record<string, string[]>) => [ctr, exec, img, vol, prune].filter(eventMatcher(f));

describe("event filters (moby's rules)", () => {
  it("container and volume match an ID or a name, by prefix", () => {
    assert.deepEqual(match({ container: ["abc"] }), [ctr, exec, vol].filter((e) => e.Actor.ID.startsWith("abc")));
    assert.deepEqual(match({ container: ["web"] }), [ctr, exec]);
    assert.deepEqual(match({ volume: ["data"] }), [vol]);
  });
  it("event is exact, except the suffixed actions, which match by prefix", () => {
    assert.deepEqual(match({ event: ["die"] }), [ctr]);
    assert.deepEqual(match({ event: ["exec_start"] }), [exec]);
    assert.deepEqual(match({ event: ["exec"] }), []);
  });
  it("image matches the image attribute or an image event's name, with or without the tag", () => {
    assert.deepEqual(match({ image: ["busybox"] }), [ctr, exec]);
    assert.deepEqual(match({ image: ["evtag"] }), [img]);
    assert.deepEqual(match({ image: ["sha256:1111"] }), [img]);
  });
  it("labels must all match; type and scope are exact; keys combine", () => {
    assert.deepEqual(match({ label: ["tier"] }), [ctr]);
    assert.deepEqual(match({ label: ["tier=web", "exitCode=3"] }), [ctr]);
    assert.deepEqual(match({ label: ["tier=web", "exitCode=4"] }), []);
    assert.deepEqual(match({ type: ["image", "volume"] }), [img, vol]);
    assert.deepEqual(match({ scope: ["swarm"] }), []);
    assert.deepEqual(match({ type: ["container"], event: ["prune"] }), [prune]);
    assert.equal(match({}).length, 5);
    assert.equal(match({ unknownkey: ["x"] }).length, 5, "unknown keys are ignored, as in moby");
  });
});

describe("event JSON and times", () => {
  it("writes timeNano exactly and omits an empty id", () => {
    const line = eventJSON(prune);
    assert.match(line, new RegExp(`"timeNano":${eventNano(prune)}[,}]`));
    assert.equal(JSON.parse(line).id, undefined);
    assert.equal(JSON.parse(eventJSON(ctr)).from, "busybox:latest");
    assert.ok(eventNano(img) > eventNano(exec), "strictly increasing");
  });
  it("parses since/until to the nanosecond", () => {
    assert.equal(parseTimestampNs("1700000000.123456789"), 1700000000123456789n);
    assert.equal(parseTimestampNs("1700000000.5"), 1700000000500000000n);
    assert.equal(parseTimestampNs("1700000000"), 1700000000000000000n);
    assert.equal(parseTimestampNs("2023-11-14T22:13:20.000000001Z"), 1700000000000000001n);
    assert.equal(parseTimestampNs("10s", 1_700_000_010_000), 1700000000000000000n);
    assert.equal(parseTimestampNs("tomorrow"), undefined);
    assert.equal(bus.between(eventNano(img), eventNano(vol)).length, 2);
  });
});
