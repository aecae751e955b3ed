import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytesSize, formatG, fromHumanSize, humanDuration, humanSize, humanSizeWithPrecision, parseCpus, parseDurationNs, ramInBytes } from "./units.js";

describe("byte sizes (go-units)", () => {
  it("RAMInBytes parses Docker's size strings", () => {
    assert.equal(ramInBytes("64m"), 64 * 1024 * 1024);
    assert.equal(ramInBytes("1g"), 1024 ** 3);
    assert.equal(ramInBytes("512k"), 512 * 1024);
    assert.equal(ramInBytes("1GiB"), 1024 ** 3);
    assert.equal(ramInBytes("1.5MB"), 1.5 * 1024 * 1024);
    assert.equal(ramInBytes("100"), 100);
    assert.equal(ramInBytes("32 b"), 32);
    assert.equal(ramInBytes("10 M"), 10 * 1024 * 1024);
  });
  it("RAMInBytes errors as go-units words them", () => {
    assert.throws(() => ramInBytes("1x"), /invalid suffix: 'x'/);
    assert.throws(() => ramInBytes("abc"), /invalid size: 'abc'/);
    assert.throws(() => ramInBytes("-1"), /invalid size: '-1'/);
    assert.throws(() => ramInBytes("1mbb"), /invalid suffix: 'mbb'/);
  });
  it("FromHumanSize is decimal", () => {
    assert.equal(fromHumanSize("1kB"), 1000);
    assert.equal(fromHumanSize("2M"), 2_000_000);
  });
  it("HumanSizeWithPrecision / HumanSize / BytesSize", () => {
    assert.equal(humanSizeWithPrecision(4_260_000, 3), "4.26MB");
    assert.equal(humanSizeWithPrecision(1_982_408, 3), "1.98MB");
    assert.equal(humanSize(1_982_408), "1.982MB");
    assert.equal(humanSizeWithPrecision(0, 3), "0B");
    assert.equal(humanSizeWithPrecision(999, 3), "999B");
    assert.equal(humanSizeWithPrecision(999_999, 3), "1e+03kB");
    assert.equal(humanSizeWithPrecision(1000, 3), "1kB");
    assert.equal(bytesSize(25_276_514_304), "23.54GiB");
  });
  it("Go's %g", () => {
    assert.equal(formatG(1.5, 3), "1.5");
    assert.equal(formatG(123.456, 4), "123.5");
    assert.equal(formatG(1234.5, 3), "1.23e+03");
  });
});

describe("durations", () => {
  it("HumanDuration like go-units", () => {
    assert.equal(humanDuration(500), "Less than a second");
    assert.equal(humanDuration(1000), "1 second");
    assert.equal(humanDuration(59_900), "59 seconds");
    assert.equal(humanDuration(60_000), "About a minute");
    assert.equal(humanDuration(119_000), "About a minute");
    assert.equal(humanDuration(120_000), "2 minutes");
    assert.equal(humanDuration(59 * 60_000), "59 minutes");
    assert.equal(humanDuration(60 * 60_000), "About an hour");
    assert.equal(humanDuration(2 * 3_600_000), "2 hours");
    assert.equal(humanDuration(3 * 86_400_000), "3 days");
    assert.equal(humanDuration(15 * 86_400_000), "2 weeks");
    assert.equal(humanDuration(90 * 86_400_000), "3 months");
    assert.equal(humanDuration(800 * 86_400_000), "2 years");
  });
  it("ParseDuration", () => {
    assert.equal(parseDurationNs("5s"), 5e9);
    assert.equal(parseDurationNs("1h30m"), 5400e9);
    assert.equal(parseDurationNs("1.5s"), 1.5e9);
    assert.equal(parseDurationNs("100ms"), 1e8);
    assert.equal(parseDurationNs("0"), 0);
    assert.throws(() => parseDurationNs("5"), /missing unit/);
    assert.throws(() => parseDurationNs("x"), /invalid duration/);
  });
  it("--cpus to NanoCpus", () => {
    assert.equal(parseCpus("1.5"), 1_500_000_000);
    assert.equal(parseCpus("0.01"), 10_000_000);
    assert.throws(() => parseCpus("abc"));
  });
});
