import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { childPath, isCleanAbsolute, parentOfClean, resolveClean, secureJoin, splitClean } from "./index.js";

test("path helpers give what node:path gives, for the clean inputs they take", () => {
  for (const [dir, name] of [["/", "a"], ["/a/b", "c"], ["", "c"], ["rel/dir", "x.y"], ["/a", "..."]] as const) {
    assert.equal(childPath(dir, name), dir === "" ? name : path.join(dir, name));
  }
  for (const rel of ["a", "a/b", "a/b/c.d"]) {
    const [dir, base] = splitClean(rel);
    assert.equal(base, path.posix.basename(rel));
    assert.equal(dir === "" ? "." : dir, path.posix.dirname(rel));
  }
  for (const p of ["/a", "/a/b", "/a/b/c"]) assert.equal(parentOfClean(p), path.dirname(p));
  for (const p of ["/", "/a", "/a/b.c", "/a/..b", "/a/.b/c"]) {
    assert.ok(isCleanAbsolute(p), p);
    assert.equal(resolveClean(p), path.resolve(p));
  }
  for (const p of ["a", "/a/", "//a", "/a/./b", "/a/../b", "/a/.", "/a/..", "/.."]) {
    assert.ok(!isCleanAbsolute(p), p);
    assert.equal(resolveClean(p), path.resolve(p));
  }
});

test("secureJoin never leaves the root: '..', absolute and relative symlinks, loops", async (t) => {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-securejoin-"));
  t.after(() => fsp.rm(base, { recursive: true, force: true }));
  const root = path.join(base, "root");
  await fsp.mkdir(path.join(root, "etc"), { recursive: true });
  await fsp.symlink("/", path.join(root, "toroot"));
  await fsp.symlink("../../..", path.join(root, "etc", "up"));
  await fsp.symlink("/etc", path.join(root, "abs"));
  await fsp.symlink("loop", path.join(root, "loop"));
  assert.equal(await secureJoin(root, "../../x"), path.join(root, "x"));
  assert.equal(await secureJoin(root, "toroot/etc/passwd"), path.join(root, "etc/passwd"));
  assert.equal(await secureJoin(root, "etc/up/sentinel"), path.join(root, "sentinel"));
  assert.equal(await secureJoin(root, "abs/../abs/x"), path.join(root, "etc/x"));
  assert.equal(await secureJoin(`${root}/./`, "./etc//x/"), path.join(root, "etc/x"));
  assert.equal(await secureJoin(root, ""), root);
  assert.equal(await secureJoin("/", "a/../b"), "/b");
  await assert.rejects(secureJoin(root, "loop/x"), (e) => (e as NodeJS.ErrnoException).code === "ELOOP");
});
