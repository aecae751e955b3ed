import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { makeEnv, collect, stream } from "../src/image/testutil.js";
import { makeBusyboxImage } from "./make-busybox-image.js";

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "make-busybox-image.js");
const run = promisify(execFile);

test("two runs of the script give the same bytes", async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-busybox-"));
  try {
    const a = path.join(dir, "a.tar");
    const b = path.join(dir, "b.tar");
    await run(process.execPath, [script, "-o", a]);
    await run(process.execPath, [script, "--tag", "busybox:latest", "-o", b]);
    const [ba, bb] = [await fsp.readFile(a), await fsp.readFile(b)];
    assert.ok(ba.length > 1_000_000);
    assert.ok(ba.equals(bb));
    const img = await makeBusyboxImage();
    assert.ok(img.archive.equals(ba));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test("the busybox archive loads: busybox:latest with the official layout; save round-trips", async () => {
  const env = await makeEnv();
  try {
    const img = await makeBusyboxImage();
    const lines: object[] = [];
    await env.images.load(stream(img.archive), (l) => lines.push(l), { quiet: true });
    assert.deepEqual(lines, [{ stream: "Loaded image: busybox:latest\n" }]);
    const ins = env.images.inspect("busybox");
    assert.equal(ins.Id, img.imageID);
    assert.deepEqual(ins.RepoTags, ["busybox:latest"]);
    assert.deepEqual(ins.Config.Cmd, ["sh"]);
    assert.deepEqual(ins.Config.Env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    assert.equal(ins.Os, "linux");
    assert.equal(ins.Created, "2024-01-01T00:00:00Z");
    assert.deepEqual(ins.RootFS.Layers, [img.diffID]);
    assert.equal(env.images.history("busybox").length, 1);

    const root = env.snapshots.lowerDirs(env.images.chainIDOf(img.imageID)!)[0]!;
    const bb = await fsp.stat(path.join(root, "bin/busybox"));
    const sh = await fsp.stat(path.join(root, "bin/sh"));
    assert.equal(sh.ino, bb.ino); // hard links, as in the official image
    assert.ok(bb.mode & 0o111);
    assert.equal((await fsp.stat(path.join(root, "tmp"))).mode & 0o7777, 0o1777);
    assert.equal((await fsp.stat(path.join(root, "root"))).mode & 0o7777, 0o700);
    for (const d of ["dev", "proc", "sys", "home", "usr/sbin", "var/spool/mail", "var/www"]) {
      assert.ok((await fsp.stat(path.join(root, d))).isDirectory(), d);
    }
    const passwd = await fsp.readFile(path.join(root, "etc/passwd"), "utf8");
    assert.match(passwd, /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.match(passwd, /^nobody:x:65534:65534:nobody:\/home:\/bin\/false$/m);
    const group = await fsp.readFile(path.join(root, "etc/group"), "utf8");
    for (const g of ["root", "daemon", "bin", "sys", "adm", "tty", "disk", "wheel", "staff", "www-data", "nogroup"]) {
      assert.match(group, new RegExp(`^${g}:x:\\d+:`, "m"), g);
    }

    // save → rmi → load: same ID, and the saved archive is byte-identical to the script's.
    const saved = await collect(env.images.save(["busybox:latest"]));
    assert.ok(saved.equals(img.archive));
    const res = await env.images.remove("busybox", {});
    assert.deepEqual(res.slice(0, 2), [{ Untagged: "busybox:latest" }, { Deleted: img.imageID }]);
    await env.images.load(stream(saved), () => {}, { quiet: true });
    assert.equal(env.images.resolve("busybox:latest").id, img.imageID);
  } finally {
    await env.cleanup();
  }
});
