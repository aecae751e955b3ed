import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parsePortRange } from "./ports.js";

describe("parsePortRange", () => {
  it("reads a port and a range, and says why other values are not one", () => {
    assert.deepEqual(parsePortRange("80"), { start: 80, end: 80 });
    assert.deepEqual(parsePortRange("8000-8010"), { start: 8000, end: 8010 });
    assert.deepEqual(parsePortRange("80a"), { error: "syntax" });
    assert.deepEqual(parsePortRange(""), { error: "syntax" });
    assert.deepEqual(parsePortRange("65536"), { error: "out of range" });
    assert.deepEqual(parsePortRange("90-80"), { error: "order" });
  });
});
