import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { familiarString, parseNormalizedNamed, fullName } from "./reference.js";

describe("image references", () => {
  it("normalizes Docker Hub names and keeps registries", () => {
    assert.equal(fullName(parseNormalizedNamed("busybox")), "docker.io/library/busybox");
    assert.equal(familiarString(parseNormalizedNamed("busybox")), "busybox:latest");
    assert.equal(familiarString(parseNormalizedNamed("docker.io/library/busybox:1.36")), "busybox:1.36");
    assert.equal(familiarString(parseNormalizedNamed("localhost:5000/a/b:1")), "localhost:5000/a/b:1");
    assert.equal(familiarString(parseNormalizedNamed("user/repo")), "user/repo:latest");
  });

  it("refuses invalid references", () => {
    assert.throws(() => parseNormalizedNamed("Upper"), /: invalid reference format: repository name \(library\/Upper\) must be lowercase$/);
    assert.throws(() => parseNormalizedNamed("user/Upper"), /repository name \(user\/Upper\) must be lowercase/);
    assert.throws(() => parseNormalizedNamed("localhost:5000/Upper"), /repository name \(Upper\) must be lowercase/);
    assert.throws(() => parseNormalizedNamed("a:b:c"), /invalid reference format/);
    assert.throws(() => parseNormalizedNamed(""), /invalid reference format/);
  });
});
