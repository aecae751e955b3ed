import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp, existsSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { isKind } from "../errdefs/index.js";
import { lgetxattr } from "../sys/index.js";
import { Snapshotter } from "./index.js";

type Entry = Partial<tar.Header> & { name: string; content?: string };

async function layer(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) out.push(c as Buffer);
  })();
  for (const { content, ...hdr } of entries) {
    if (content !== undefined) pack.entry({ mode: 0o644, ...hdr }, content);
    else pack.entry({ mode: 0o755, type: "directory", ...hdr });
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

const stream = (b: Buffer) => Readable.from([b]);

async function listTar(r: Readable): Promise<string[]> {
  const ex = tar.extract();
  r.pipe(ex as unknown as NodeJS.WritableStream);
  const names: string[] = [];
  for await (const e of ex) {
    names.push(e.header.name);
    for await (const _ of e);
  }
  return names;
}

function mountCount(dir: string): number {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4] === dir).length;
}

async function setup(t: { after(fn: () => unknown): void }, name = "overlay") {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-snap-"));
  const sn = new Snapshotter(path.join(base, name));
  t.after(async () => {
    // Unmount whatever a failed test left mounted before deleting.
    for (const id of await fsp.readdir(path.join(sn.root, "containers")).catch(() => [])) await sn.unmountContainer(id).catch(() => {});
    await fsp.rm(base, { recursive: true, force: true });
  });
  await sn.init();
  return sn;
}

test("chainID follows the OCI definition", () => {
  const d1 = "sha256:" + "a".repeat(64);
  const d2 = "sha256:" + "b".repeat(64);
  const d3 = "sha256:" + "c".repeat(64);
  assert.equal(Snapshotter.chainID(undefined, d1), d1);
  // Computed independently: printf '%s %s' "$C1" "$D2" | sha256sum
  const sha = (s: string) => "sha256:" + execFileSync("sha256sum", { input: s }).toString().split(" ")[0];
  const c2 = sha(`${d1} ${d2}`);
  assert.equal(Snapshotter.chainID(d1, d2), c2);
  assert.equal(Snapshotter.chainID(c2, d3), sha(`${c2} ${d3}`));
});

test("layers, a container's merged view, its writes and its diff", async (t) => {
  const sn = await setup(t);
  const l1 = await layer([
    { name: "etc/" }, { name: "etc/motd", content: "hello" }, { name: "etc/keep", content: "k" },
    { name: "var/" }, { name: "var/cache/" }, { name: "var/cache/old", content: "o" }, { name: "data/" }, { name: "data/f", content: "f" },
  ]);
  const l2 = await layer([
    { name: "etc/" }, { name: "etc/.wh.motd", content: "" },
    { name: "var/" }, { name: "var/cache/" }, { name: "var/cache/.wh..wh..opq", content: "" }, { name: "var/cache/new", content: "n" },
  ]);
  const l3 = await layer([{ name: "bin/" }, { name: "bin/tool", content: "#!", mode: 0o755 }]);

  const r1 = await sn.applyLayer(undefined, stream(l1));
  assert.equal(r1.diffID, "sha256:" + createHash("sha256").update(l1).digest("hex"));
  assert.equal(r1.chainID, r1.diffID);
  assert.equal(r1.size, 5 + 1 + 1 + 1);
  const r2 = await sn.applyLayer(r1.chainID, stream(l2));
  assert.equal(r2.chainID, Snapshotter.chainID(r1.chainID, r2.diffID));
  const r3 = await sn.applyLayer(r2.chainID, stream(l3));
  assert.ok(sn.hasLayer(r3.chainID));
  assert.equal(sn.layerParent(r3.chainID), r2.chainID);
  assert.equal(sn.layerDiffID(r2.chainID), r2.diffID);
  assert.equal(sn.layerSize(r3.chainID), 2);
  const lowers = sn.lowerDirs(r3.chainID);
  assert.equal(lowers.length, 3);
  assert.ok(existsSync(path.join(lowers[0], "bin/tool")) && existsSync(path.join(lowers[2], "etc/motd")));
  // Overlay-form whiteouts in the lower layer dirs.
  assert.ok(lstatSync(path.join(lowers[1], "etc/motd")).isCharacterDevice());
  assert.equal(lgetxattr(path.join(lowers[1], "var/cache"), "trusted.overlay.opaque")?.toString(), "y");

  // Same content again: same chain, nothing new; with a known diffID, not even unpacked.
  assert.deepEqual(await sn.applyLayer(r1.chainID, stream(l2)), r2);
  assert.deepEqual(await sn.applyLayer(r1.chainID, stream(Buffer.from("not a tar")), { diffID: r2.diffID }), r2);
  await assert.rejects(sn.applyLayer(r1.chainID, stream(l3), { diffID: "sha256:" + "9".repeat(64) }), (e) => isKind(e, "InvalidParameter"));
  await assert.rejects(sn.applyLayer("sha256:" + "0".repeat(64), stream(l3)), (e) => isKind(e, "NotFound"));
  assert.deepEqual(await fsp.readdir(path.join(sn.root, "tmp")), []);

  const merged = await sn.mountContainer("c1", r3.chainID);
  assert.equal(await sn.mountContainer("c1", r3.chainID), merged); // idempotent
  assert.equal(mountCount(merged), 1);
  // The image's files under the init layer's (Docker's "-init" layer: mount points, /.dockerenv, /etc/mtab).
  assert.deepEqual((await fsp.readdir(merged)).sort(), [".dockerenv", "bin", "data", "dev", "etc", "proc", "sys", "var"]);
  assert.deepEqual((await fsp.readdir(path.join(merged, "etc"))).sort(), ["hostname", "hosts", "keep", "mtab", "resolv.conf"]);
  assert.equal(readlinkSync(path.join(merged, "etc/mtab")), "/proc/mounts");
  assert.deepEqual((await fsp.readdir(path.join(merged, "dev"))).sort(), ["console", "pts", "shm"]);
  assert.deepEqual(await fsp.readdir(path.join(merged, "var/cache")), ["new"]);
  await assert.rejects(sn.mountContainer("c1", r2.chainID), (e) => isKind(e, "Conflict"));

  // Writes land in upper; deletions become whiteouts; a recreated dir becomes opaque.
  await fsp.writeFile(path.join(merged, "etc/new.conf"), "x=1");
  await fsp.rm(path.join(merged, "etc/keep"));
  await fsp.rm(path.join(merged, "data"), { recursive: true });
  await fsp.mkdir(path.join(merged, "data"));
  await fsp.writeFile(path.join(merged, "data/g"), "g");
  const upper = sn.containerUpperDir("c1");
  assert.equal(readFileSync(path.join(upper, "etc/new.conf"), "utf8"), "x=1");
  const names = await listTar(sn.diffContainer("c1"));
  for (const n of ["etc/new.conf", "etc/.wh.keep", "data/.wh..wh..opq", "data/g"]) assert.ok(names.includes(n), `${n} in ${names}`);
  assert.ok(!names.some((n) => n.startsWith("bin")), "unchanged files are not in the diff");

  // The diff applies as a layer on top and gives the same view.
  const r4 = await sn.applyLayer(r3.chainID, sn.diffContainer("c1"));
  const m2 = await sn.mountContainer("c2", r4.chainID);
  assert.deepEqual((await fsp.readdir(path.join(m2, "etc"))).sort(), ["hostname", "hosts", "mtab", "new.conf", "resolv.conf"]);
  assert.deepEqual(await fsp.readdir(path.join(m2, "data")), ["g"]);

  await sn.unmountContainer("c1");
  await sn.unmountContainer("c1"); // not mounted: no error
  assert.equal(mountCount(merged), 0);
  await sn.removeContainer("c2");
  assert.ok(!existsSync(path.join(sn.root, "containers/c2")));
  await sn.removeContainer("c2"); // gone: no error
});

test("removeLayer refuses while a child layer or a container uses it", async (t) => {
  const sn = await setup(t);
  const a = await sn.applyLayer(undefined, stream(await layer([{ name: "a", content: "a" }])));
  const b = await sn.applyLayer(a.chainID, stream(await layer([{ name: "b", content: "b" }])));
  await assert.rejects(sn.removeLayer(a.chainID), (e) => isKind(e, "Conflict"));
  await sn.mountContainer("c", b.chainID);
  await assert.rejects(sn.removeLayer(b.chainID), (e) => isKind(e, "Conflict"));
  await sn.removeContainer("c");
  await sn.removeLayer(b.chainID);
  await sn.removeLayer(a.chainID);
  assert.ok(!sn.hasLayer(a.chainID) && !sn.hasLayer(b.chainID));
  assert.deepEqual(await fsp.readdir(path.join(sn.root, "layers")), []);
  assert.deepEqual(await fsp.readdir(path.join(sn.root, "l")), []);
  await assert.rejects(sn.removeLayer(a.chainID), (e) => isKind(e, "NotFound"));
  assert.throws(() => sn.layerSize(a.chainID), (e) => isKind(e, "NotFound"));
});

test("init cleans up after a crash and rebuilds its index", async (t) => {
  const sn = await setup(t);
  const a = await sn.applyLayer(undefined, stream(await layer([{ name: "a", content: "a" }])));
  const hex = a.chainID.slice(7);
  const link = (await fsp.readdir(path.join(sn.root, "l")))[0];
  // A crash mid-apply, a layer dir without metadata, a dangling short link, a lost short link.
  await fsp.mkdir(path.join(sn.root, "tmp/apply-123/diff/x"), { recursive: true });
  await fsp.mkdir(path.join(sn.root, "layers", "f".repeat(64), "diff"), { recursive: true });
  await fsp.symlink("../layers/" + "e".repeat(64) + "/diff", path.join(sn.root, "l/DANGLING"));
  await fsp.rm(path.join(sn.root, "l", link));

  const again = new Snapshotter(sn.root);
  assert.equal(again.hasLayer(a.chainID), false); // nothing before init
  await again.init();
  assert.ok(again.hasLayer(a.chainID));
  assert.equal(again.layerSize(a.chainID), 1);
  assert.deepEqual(await fsp.readdir(path.join(sn.root, "tmp")), []);
  assert.deepEqual(await fsp.readdir(path.join(sn.root, "layers")), [hex]);
  assert.deepEqual(await fsp.readdir(path.join(sn.root, "l")), [link]);
  const merged = await again.mountContainer("c", a.chainID);
  assert.equal(readFileSync(path.join(merged, "a"), "utf8"), "a");
  await again.removeContainer("c");
});

test("an image of 70 layers mounts, even under a long data root; scratch mounts empty", async (t) => {
  const sn = await setup(t, "d".repeat(120) + "/overlay");
  let parent: string | undefined;
  for (let i = 0; i < 70; i++) {
    const entries: Entry[] = [{ name: `f${i}`, content: String(i) }, { name: "top", content: String(i) }];
    if (i === 69) entries.push({ name: ".wh.f0", content: "" });
    parent = (await sn.applyLayer(parent, stream(await layer(entries)))).chainID;
  }
  assert.equal(sn.lowerDirs(parent!).length, 70);
  const merged = await sn.mountContainer("big", parent);
  assert.equal(readFileSync(path.join(merged, "top"), "utf8"), "69");
  assert.equal(readFileSync(path.join(merged, "f1"), "utf8"), "1");
  assert.ok(!existsSync(path.join(merged, "f0")));
  assert.equal((await fsp.readdir(merged)).length, 75); // f1..f69 + top + the init layer's .dockerenv, dev, etc, proc, sys

  const scratch = await sn.mountContainer("scratch", undefined);
  assert.deepEqual((await fsp.readdir(scratch)).sort(), [".dockerenv", "dev", "etc", "proc", "sys"]);
  await fsp.writeFile(path.join(scratch, "hello"), "hi");
  assert.deepEqual(await listTar(sn.diffContainer("scratch")), ["hello"]);
  await sn.removeContainer("scratch");
  await sn.removeContainer("big");
  await assert.rejects(sn.mountContainer("../evil", undefined), (e) => isKind(e, "InvalidParameter"));
});
