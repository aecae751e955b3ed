import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatPlatform, hostArchitecture, parsePlatformSpecifier, platformMatches } from "./platform.js";

describe("platform specifiers", () => {
  it("parses os, arch, os/arch and os/arch/variant with containerd's aliases", () => {
    assert.deepEqual(parsePlatformSpecifier("linux"), { os: "linux", architecture: hostArchitecture() });
    assert.deepEqual(parsePlatformSpecifier("x86_64"), { os: "linux", architecture: "amd64" });
    assert.deepEqual(parsePlatformSpecifier("linux/aarch64"), { os: "linux", architecture: "arm64" });
    assert.deepEqual(parsePlatformSpecifier("linux/arm64/8"), { os: "linux", architecture: "arm64", variant: "v8" });
    assert.deepEqual(parsePlatformSpecifier("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
    assert.deepEqual(parsePlatformSpecifier("Linux/ARMHF"), { os: "linux", architecture: "arm", variant: "v7" });
    assert.equal(formatPlatform(parsePlatformSpecifier("windows")), `windows/${hostArchitecture()}`);
  });

  it("refuses what containerd cannot parse, with dockerd's words", () => {
    for (const bad of ["bogus/x/y/z", "linux/", "linux/amd64 "]) {
      assert.throws(() => parsePlatformSpecifier(bad), { message: `"${bad}": cannot parse platform specifier: invalid argument` });
    }
  });

  it("matches an image's platform as dockerd does", () => {
    const amd64 = { os: "linux", architecture: "amd64" };
    assert.ok(platformMatches(parsePlatformSpecifier("linux/amd64"), amd64));
    assert.ok(platformMatches(parsePlatformSpecifier("linux/amd64/v2"), amd64));
    assert.ok(!platformMatches(parsePlatformSpecifier("linux/arm64"), amd64));
    assert.ok(!platformMatches(parsePlatformSpecifier("windows/amd64"), amd64));
    assert.ok(platformMatches(parsePlatformSpecifier("linux/arm64"), { os: "linux", architecture: "aarch64" }));
    assert.ok(!platformMatches(parsePlatformSpecifier("linux/arm/v6"), { os: "linux", architecture: "arm", variant: "v7" }));
  });
});
