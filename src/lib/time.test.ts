import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { humanDuration, parseGoDuration, parseTimestamp, rfc3339Nano } from "./time.js";

describe("time", () => {
  it("prints RFC 3339 with nanoseconds, also from fractional milliseconds", () => {
    assert.equal(rfc3339Nano(Date.UTC(2026, 10, 22, 1, 2, 3, 0)), "2026-11-22T01:02:03Z");
    assert.equal(rfc3339Nano(Date.UTC(2026, 10, 22, 1, 2, 3, 450)), "2026-11-22T01:02:03.45Z");
    assert.equal(rfc3339Nano(Date.UTC(2026, 10, 22, 1, 2, 3, 777) + 0.34375), "2026-11-22T01:02:03.77734375Z");
  });

  it("words durations as go-units does", () => {
    assert.equal(humanDuration(600), "Less than a second");
    assert.equal(humanDuration(1999), "1 second");
    assert.equal(humanDuration(59_999), "59 seconds");
    assert.equal(humanDuration(90_000), "About a minute");
    assert.equal(humanDuration(3 * 3_600_000), "3 hours");
    assert.equal(humanDuration(3 * 86_400_000), "3 days");
  });

  it("parses Go durations and Docker timestamps", () => {
    assert.equal(parseGoDuration("1h30m"), 5_400_000);
    assert.equal(parseGoDuration("1.5s"), 1500);
    assert.equal(parseGoDuration("10"), undefined);
    assert.equal(parseTimestamp("1700000000.5"), 1_700_000_000_500);
    assert.equal(parseTimestamp("10s", 100_000), 90_000);
    assert.equal(parseTimestamp("2026-11-22T01:02:03Z"), Date.UTC(2026, 10, 22, 1, 2, 3));
  });
});
