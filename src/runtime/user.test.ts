import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, writeFile, symlink, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { isKind } from "../errdefs/index.js";
import { resolveUser, getExecUser, parsePasswd, parseGroup } from "./user.js";

let tmp: string;
let rootfs: string; // a normal image rootfs
let empty: string; // no /etc at all
let escape: string; // /etc/passwd and /etc/group are symlinks that point out of the rootfs

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "",
  "alice:x:1000:1000:Alice:/home/alice:/bin/sh",
  "dup:x:1000:1234::/:/bin/false",
].join("\n");
const GROUP = [
  "root:x:0:",
  "daemon:x:1:",
  "wheel:x:10:root,alice",
  "audio:x:29:alice",
  "staff:x:50:",
  "alice:x:1000:",
].join("\n");

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "pier-user-"));
  rootfs = path.join(tmp, "rootfs");
  await mkdir(path.join(rootfs, "etc"), { recursive: true });
  await writeFile(path.join(rootfs, "etc/passwd"), PASSWD);
  await writeFile(path.join(rootfs, "etc/group"), GROUP);

  empty = path.join(tmp, "empty");
  await mkdir(empty);

  // Outside the rootfs: files a naive join would read.
  await mkdir(path.join(tmp, "outside"));
  await writeFile(path.join(tmp, "outside/passwd"), "evil:x:666:666::/:/bin/sh\nroot:x:0:666::/:/bin/sh\n");
  await writeFile(path.join(tmp, "outside/group"), "evilgrp:x:666:root\n");
  escape = path.join(tmp, "escape");
  await mkdir(path.join(escape, "etc"), { recursive: true });
  await symlink("../../outside/passwd", path.join(escape, "etc/passwd")); // relative escape
  await symlink("/../../../../../outside/group", path.join(escape, "etc/group")); // absolute escape
  // What those links mean inside the rootfs:
  await mkdir(path.join(escape, "outside"));
  await writeFile(path.join(escape, "outside/passwd"), "root:x:0:0::/root:/bin/sh\ninside:x:42:43::/:/bin/sh\n");
  await writeFile(path.join(escape, "outside/group"), "insidegrp:x:44:inside\n");
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("default user is root with the groups that list root", async () => {
  assert.deepEqual(await resolveUser(rootfs, "", []), { uid: 0, gid: 0, additionalGids: [0, 10] });
});

test("user by name gets its primary gid and supplementary groups", async () => {
  assert.deepEqual(await resolveUser(rootfs, "alice", []), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
});

test("numeric uid matches the first passwd entry", async () => {
  assert.deepEqual(await resolveUser(rootfs, "1000", []), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
  assert.deepEqual(await resolveUser(rootfs, "1", []), { uid: 1, gid: 1, additionalGids: [1] });
});

test("numeric uid without an entry: gid 0, no groups", async () => {
  assert.deepEqual(await resolveUser(rootfs, "2000", []), { uid: 2000, gid: 0, additionalGids: [0] });
});

test("explicit group: by name or number, and no supplementary groups", async () => {
  assert.deepEqual(await resolveUser(rootfs, "alice:staff", []), { uid: 1000, gid: 50, additionalGids: [50] });
  assert.deepEqual(await resolveUser(rootfs, "alice:60", []), { uid: 1000, gid: 60, additionalGids: [60] });
  assert.deepEqual(await resolveUser(rootfs, "1000:staff", []), { uid: 1000, gid: 50, additionalGids: [50] });
  assert.deepEqual(await resolveUser(rootfs, "3000:3000", []), { uid: 3000, gid: 3000, additionalGids: [3000] });
  assert.deepEqual(await resolveUser(rootfs, "0:audio", []), { uid: 0, gid: 29, additionalGids: [29] });
});

test("unknown user or group names fail with runc's messages", async () => {
  await assert.rejects(resolveUser(rootfs, "nobody", []), (e: Error) => {
    assert.ok(isKind(e, "InvalidParameter"));
    assert.equal(e.message, "unable to find user nobody: no matching entries in passwd file");
    return true;
  });
  await assert.rejects(resolveUser(rootfs, "alice:nogroup", []), (e: Error) => {
    assert.ok(isKind(e, "InvalidParameter"));
    assert.equal(e.message, "unable to find group nogroup: no matching entries in group file");
    return true;
  });
  await assert.rejects(resolveUser(rootfs, "-5", []), /uids and gids must be in range 0-2147483647/);
});

test("GroupAdd: names from /etc/group and bare numbers, appended without duplicates", async () => {
  assert.deepEqual(await resolveUser(rootfs, "alice", ["audio", "staff", "1234", "10"]), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 10, 29, 50, 1234],
  });
  await assert.rejects(resolveUser(rootfs, "", ["nosuch"]), (e: Error) => {
    assert.ok(isKind(e, "InvalidParameter"));
    assert.equal(e.message, "Unable to find group nosuch: no matching entries in group file");
    return true;
  });
});

test("missing /etc/passwd and /etc/group are fine for numeric ids only", async () => {
  assert.deepEqual(await resolveUser(empty, "", []), { uid: 0, gid: 0, additionalGids: [0] });
  assert.deepEqual(await resolveUser(empty, "1000:1000", ["5"]), { uid: 1000, gid: 1000, additionalGids: [1000, 5] });
  await assert.rejects(resolveUser(empty, "alice", []), /unable to find user alice: no matching entries in passwd file/);
  await assert.rejects(resolveUser(empty, "0:staff", []), /unable to find group staff: no matching entries in group file/);
});

test("symlinked /etc/passwd and /etc/group resolve inside the rootfs, never outside", async () => {
  await assert.rejects(resolveUser(escape, "evil", []), /unable to find user evil/);
  await assert.rejects(resolveUser(escape, "", ["evilgrp"]), /Unable to find group evilgrp/);
  assert.deepEqual(await resolveUser(escape, "", []), { uid: 0, gid: 0, additionalGids: [0] });
  assert.deepEqual(await resolveUser(escape, "inside", ["insidegrp"]), { uid: 42, gid: 43, additionalGids: [43, 44] });
});

test("parsers: short lines, bad numbers, member lists", () => {
  assert.deepEqual(parsePasswd("a:x:1\n\n  b:x:zz:2:g:/h:/s  \n"), [
    { name: "a", pass: "x", uid: 1, gid: 0, gecos: "", home: "", shell: "" },
    { name: "b", pass: "x", uid: 0, gid: 2, gecos: "g", home: "/h", shell: "/s" },
  ]);
  assert.deepEqual(parseGroup("g:x:5:a,b\nh:x:6:"), [
    { name: "g", pass: "x", gid: 5, members: ["a", "b"] },
    { name: "h", pass: "x", gid: 6, members: [] },
  ]);
  assert.equal(getExecUser("alice:staff:extra", PASSWD, GROUP).gid, 50);
});
