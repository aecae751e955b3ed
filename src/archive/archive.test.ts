import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp, lstatSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { isKind } from "../errdefs/index.js";
import { lgetxattr, llistxattr, lsetxattr, mknod } from "../sys/index.js";
import { applyLayer, diffOverlay, tarDirectory } from "./index.js";
import { patchTarStreamPax } from "./pax.js";

type Entry = Partial<tar.Header> & { name: string; content?: string | Buffer };

/** A tar made entry by entry, so tests can say exactly what a hostile layer would contain. */
async function makeTar(entries: Entry[]): Promise<Buffer> {
  patchTarStreamPax();
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) out.push(c as Buffer);
  })();
  for (const { content, ...hdr } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content !== undefined) pack.entry({ mtime: new Date(1e12), ...hdr }, content, cb);
      else pack.entry({ mtime: new Date(1e12), ...hdr }, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c);
  return Buffer.concat(out);
}

async function listTar(buf: Buffer): Promise<tar.Header[]> {
  patchTarStreamPax();
  const ex = tar.extract();
  const headers: tar.Header[] = [];
  const feed = Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  void feed;
  for await (const e of ex) {
    headers.push(e.header);
    for await (const _ of e);
  }
  return headers;
}

async function tmp(t: { after(fn: () => unknown): void }): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-archive-"));
  t.after(() => fsp.rm(d, { recursive: true, force: true }));
  return d;
}

const apply = (buf: Buffer, dest: string, whiteouts?: "overlay" | "delete") => applyLayer(Readable.from([buf]), dest, { whiteouts });

test("applies files, dirs, links, devices, modes, owners, mtimes and xattrs", async (t) => {
  const d = await tmp(t);
  const bin = Buffer.from([0x00, 0xff, 0x80, 0x41, 0xc3]); // not valid UTF-8: must survive byte-exact
  const buf = await makeTar([
    { name: "etc/", type: "directory", mode: 0o755, mtime: new Date(1_000_000_000_000) },
    { name: "etc/hosts", content: "127.0.0.1 localhost\n", mode: 0o644, uid: 1000, gid: 1001 },
    { name: "etc/shadow", content: "root:*:1::::::\n", mode: 0o640, uid: 0, gid: 42 },
    { name: "bin/su", content: "ELF", mode: 0o4755 },
    { name: "tmp/", type: "directory", mode: 0o1777 },
    { name: "etc/hosts.link", type: "link", linkname: "etc/hosts" },
    { name: "etc/localtime", type: "symlink", linkname: "/usr/share/zoneinfo/UTC", uid: 5, gid: 6 },
    { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "dev/loop0", type: "block-device", devmajor: 7, devminor: 0, mode: 0o660 },
    { name: "run/fifo", type: "fifo", mode: 0o600 },
    { name: "xattr", content: "x", pax: { "SCHILY.xattr.user.note": Buffer.from("héllo").toString("latin1"), "SCHILY.xattr.trusted.bin": bin.toString("latin1"), "SCHILY.xattr.security.selinux": "system_u:object_r:bin_t:s0" } },
  ]);
  const res = await apply(buf, d);
  assert.equal(res.diffID, `sha256:${createHash("sha256").update(buf).digest("hex")}`);
  assert.equal(res.size, 20 + 15 + 3 + 1);
  assert.equal(readFileSync(path.join(d, "etc/hosts"), "utf8"), "127.0.0.1 localhost\n");
  const hosts = lstatSync(path.join(d, "etc/hosts"));
  assert.deepEqual([hosts.uid, hosts.gid, hosts.mode & 0o7777, hosts.nlink], [1000, 1001, 0o644, 2]);
  assert.equal(lstatSync(path.join(d, "etc/hosts.link")).ino, hosts.ino);
  assert.equal(lstatSync(path.join(d, "bin/su")).mode & 0o7777, 0o4755);
  assert.equal(lstatSync(path.join(d, "tmp")).mode & 0o7777, 0o1777);
  assert.equal(lstatSync(path.join(d, "etc/shadow")).gid, 42);
  const lt = lstatSync(path.join(d, "etc/localtime"));
  assert.ok(lt.isSymbolicLink());
  assert.deepEqual([lt.uid, lt.gid], [5, 6]);
  assert.equal(await fsp.readlink(path.join(d, "etc/localtime")), "/usr/share/zoneinfo/UTC");
  const dn = lstatSync(path.join(d, "dev/null"));
  assert.ok(dn.isCharacterDevice());
  assert.equal(dn.rdev, (1 << 8) | 3);
  assert.equal(dn.mode & 0o777, 0o666);
  assert.ok(lstatSync(path.join(d, "dev/loop0")).isBlockDevice());
  assert.ok(lstatSync(path.join(d, "run/fifo")).isFIFO());
  assert.equal(lgetxattr(path.join(d, "xattr"), "user.note")?.toString(), "héllo");
  assert.deepEqual(lgetxattr(path.join(d, "xattr"), "trusted.bin"), bin);
  // Directory mtimes are set after their content was written.
  assert.equal(lstatSync(path.join(d, "etc")).mtimeMs, 1_000_000_000_000);
  assert.equal(lstatSync(path.join(d, "etc/hosts")).mtimeMs, 1e12);
});

test("gzip input: same tree, diffID of the uncompressed bytes, padding after the end marker included", async (t) => {
  const d = await tmp(t);
  const plain = Buffer.concat([await makeTar([{ name: "a", content: "hello" }]), Buffer.alloc(4096)]);
  const res = await applyLayer(Readable.from([gzipSync(plain)]), d);
  assert.equal(res.diffID, `sha256:${createHash("sha256").update(plain).digest("hex")}`);
  assert.equal(res.size, 5);
  assert.equal(readFileSync(path.join(d, "a"), "utf8"), "hello");
  // Byte-sized chunks: magic detection must not depend on chunking.
  const d2 = path.join(d, "two");
  const gz = gzipSync(plain);
  const res2 = await applyLayer(Readable.from([...gz].map((b) => Buffer.from([b]))), d2);
  assert.equal(res2.diffID, res.diffID);
});

test("zstd input is NotImplemented, truncated input is an error", async (t) => {
  const d = await tmp(t);
  const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
  await assert.rejects(applyLayer(Readable.from([zstd]), d), (e) => isKind(e, "NotImplemented"));
  const whole = await makeTar([{ name: "big", content: Buffer.alloc(10000, 1) }]);
  await assert.rejects(applyLayer(Readable.from([whole.subarray(0, 3000)]), d));
});

test("overlay whiteouts: .wh.NAME becomes a 0/0 char device, .wh..wh..opq an opaque xattr", async (t) => {
  const d = await tmp(t);
  await apply(await makeTar([
    { name: "etc/.wh.motd", content: "" },
    { name: "var/", type: "directory" },
    { name: "var/cache/", type: "directory" },
    { name: "var/cache/.wh..wh..opq", content: "" },
    { name: "var/cache/new", content: "n" },
    { name: ".wh..wh.plnk/", type: "directory" },
  ]), d);
  const wh = lstatSync(path.join(d, "etc/motd"));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal(lgetxattr(path.join(d, "var/cache"), "trusted.overlay.opaque")?.toString(), "y");
  assert.deepEqual((await fsp.readdir(path.join(d, "var/cache"))).sort(), ["new"]);
  assert.deepEqual((await fsp.readdir(d)).sort(), ["etc", "var"]);
});

test("delete whiteouts: remove the named path and the earlier content of opaque dirs", async (t) => {
  const d = await tmp(t);
  await apply(await makeTar([
    { name: "etc/motd", content: "hi" },
    { name: "etc/keep", content: "k" },
    { name: "var/cache/old/deep", content: "o" },
    { name: "var/cache/old2", content: "o" },
  ]), d, "delete");
  await apply(await makeTar([
    { name: "etc/.wh.motd", content: "" },
    { name: "var/cache/", type: "directory" },
    { name: "var/cache/.wh..wh..opq", content: "" },
    { name: "var/cache/new/", type: "directory" },
    { name: "var/cache/new/file", content: "n" },
  ]), d, "delete");
  assert.deepEqual(await fsp.readdir(path.join(d, "etc")), ["keep"]);
  assert.deepEqual(await fsp.readdir(path.join(d, "var/cache")), ["new"]);
  assert.deepEqual(await fsp.readdir(path.join(d, "var/cache/new")), ["file"]);
  // An opaque marker that comes after the new content (other tools' order) keeps it too.
  await apply(await makeTar([
    { name: "var/cache/newer", content: "n" },
    { name: "var/cache/.wh..wh..opq", content: "" },
  ]), d, "delete");
  assert.deepEqual(await fsp.readdir(path.join(d, "var/cache")), ["newer"]);
});

test("an entry replaces what is there; a directory over a directory merges", async (t) => {
  const d = await tmp(t);
  await apply(await makeTar([{ name: "x/inner", content: "1" }, { name: "y", content: "file" }, { name: "z/a", content: "a" }]), d, "delete");
  await apply(await makeTar([
    { name: "x", content: "now a file" },
    { name: "y/", type: "directory", mode: 0o700 },
    { name: "z/", type: "directory", mode: 0o711 },
    { name: "z/b", content: "b" },
  ]), d, "delete");
  assert.equal(readFileSync(path.join(d, "x"), "utf8"), "now a file");
  assert.ok(lstatSync(path.join(d, "y")).isDirectory());
  assert.deepEqual((await fsp.readdir(path.join(d, "z"))).sort(), ["a", "b"]);
  assert.equal(lstatSync(path.join(d, "z")).mode & 0o777, 0o711);
});

test("nothing from a hostile tar lands outside the destination", async (t) => {
  const base = await tmp(t);
  const dest = path.join(base, "root");
  await fsp.mkdir(dest);
  const sentinel = path.join(base, "sentinel");
  await fsp.writeFile(sentinel, "original");
  const unchanged = () => {
    assert.equal(readFileSync(sentinel, "utf8"), "original");
    assert.equal(lstatSync(sentinel).nlink, 1);
  };
  const rejects = async (entries: Entry[], mode?: "overlay" | "delete") => {
    await assert.rejects(apply(await makeTar(entries), dest, mode), (e) => isKind(e, "InvalidParameter"));
    unchanged();
  };

  await rejects([{ name: "../sentinel", content: "pwned" }]);
  await rejects([{ name: "a/../../sentinel", content: "pwned" }]);
  await rejects([{ name: "h", type: "link", linkname: "../sentinel" }]);
  await rejects([{ name: "h", type: "link", linkname: "../../x" }]);
  // Through a planted symlink a hardlink finds nothing: it resolves inside dest.
  await rejects([{ name: "r", type: "symlink", linkname: "/" }, { name: "h", type: "link", linkname: `r${sentinel}` }]);

  // Absolute names and ".." above an absolute root are taken inside dest.
  await apply(await makeTar([{ name: sentinel, content: "pwned" }, { name: "/../abs", content: "x" }]), dest);
  unchanged();
  assert.equal(readFileSync(path.join(dest, sentinel), "utf8"), "pwned");
  assert.equal(readFileSync(path.join(dest, "abs"), "utf8"), "x");

  // Symlinks planted by earlier entries are followed as if dest were "/".
  await apply(await makeTar([
    { name: "a", type: "symlink", linkname: "/" },
    { name: `a${sentinel}`, content: "pwned" },
    { name: "a/etc/x", content: "x" },
    { name: "b", type: "symlink", linkname: "../../.." },
    { name: "b/x", content: "x" },
    { name: "b/sentinel", content: "pwned" },
    { name: "c", type: "symlink", linkname: "../sentinel" },
    { name: "c", content: "replaces the link, not its target" },
  ]), dest);
  unchanged();
  assert.equal(readFileSync(path.join(dest, "etc/x"), "utf8"), "x");
  assert.equal(readFileSync(path.join(dest, "x"), "utf8"), "x");
  assert.equal(readFileSync(path.join(dest, "sentinel"), "utf8"), "pwned");
  assert.ok(lstatSync(path.join(dest, "c")).isFile());

  // Whiteouts go through the same resolution, in both modes.
  await apply(await makeTar([{ name: `a${path.dirname(sentinel)}/.wh.sentinel`, content: "" }, { name: "b/.wh..wh..opq", content: "" }]), dest, "delete");
  unchanged();
  await apply(await makeTar([{ name: "d", type: "symlink", linkname: ".." }, { name: "d/.wh.sentinel", content: "" }, { name: "d/.wh..wh..opq", content: "" }]), dest, "overlay");
  unchanged();
  await rejects([{ name: ".wh...", content: "" }], "delete");
  assert.ok(lstatSync(dest).isDirectory());
});

/** Everything tar round-trips, keyed by path; hardlinks as "same inode as" the first name. */
async function describeTree(root: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const inodes = new Map<number, string>();
  async function walk(rel: string) {
    for (const name of (await fsp.readdir(path.join(root, rel))).sort()) {
      const r = path.posix.join(rel, name);
      const p = path.join(root, r);
      const st = lstatSync(p);
      const desc: Record<string, unknown> = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isFile()) {
        if (inodes.has(st.ino)) desc.linkOf = inodes.get(st.ino);
        else inodes.set(st.ino, r);
        desc.sha = createHash("sha256").update(readFileSync(p)).digest("hex");
      }
      if (st.isSymbolicLink()) {
        desc.target = await fsp.readlink(p);
        delete desc.mode;
      }
      if (st.isCharacterDevice() || st.isBlockDevice()) desc.rdev = st.rdev;
      desc.xattrs = Object.fromEntries(llistxattr(p).sort().map((x) => [x, lgetxattr(p, x)?.toString("hex")]));
      out[r] = desc;
      if (st.isDirectory()) await walk(r);
    }
  }
  await walk("");
  return out;
}

test("apply(tarDirectory(x)) reproduces x, and tarDirectory is deterministic", async (t) => {
  const base = await tmp(t);
  const src = path.join(base, "src");
  await fsp.mkdir(path.join(src, "usr/bin"), { recursive: true });
  await fsp.writeFile(path.join(src, "usr/bin/tool"), "#!/bin/sh\n", { mode: 0o755 });
  await fsp.chmod(path.join(src, "usr/bin/tool"), 0o4755);
  await fsp.link(path.join(src, "usr/bin/tool"), path.join(src, "usr/bin/tool2"));
  await fsp.writeFile(path.join(src, "shadow"), "secret");
  await fsp.chmod(path.join(src, "shadow"), 0);
  await fsp.lchown(path.join(src, "shadow"), 0, 42);
  await fsp.writeFile(path.join(src, "big"), Buffer.alloc(200_000, 7));
  await fsp.writeFile(path.join(src, "empty"), "");
  await fsp.symlink("usr/bin/tool", path.join(src, "link"));
  await fsp.lchown(path.join(src, "link"), 7, 8);
  const long = path.join(src, "d".repeat(90), "é".repeat(40));
  await fsp.mkdir(path.dirname(long));
  await fsp.writeFile(long, "long name");
  mknod(path.join(src, "null"), 0o666, "c", 1, 3);
  mknod(path.join(src, "fifo"), 0o600, "p");
  await fsp.mkdir(path.join(src, "sticky"), { mode: 0o1777 });
  await fsp.chmod(path.join(src, "sticky"), 0o1777);
  lsetxattr(path.join(src, "usr/bin"), "user.x", Buffer.from([1, 2, 0xff]));
  lsetxattr(path.join(src, "usr/bin"), "trusted.overlay.opaque", "y"); // overlay internals are not content
  await fsp.utimes(path.join(src, "usr/bin"), 1_500_000_000, 1_500_000_000);
  await fsp.utimes(path.join(src, "usr"), 1_400_000_000, 1_400_000_000);

  const bytes = await collect(tarDirectory(src));
  assert.deepEqual(await collect(tarDirectory(src)), bytes);
  const names = (await listTar(bytes)).map((h) => h.name);
  assert.deepEqual(names.slice(0, 3), ["big", "d".repeat(90) + "/", long.slice(src.length + 1)]);
  const dest = path.join(base, "dest");
  const res = await apply(bytes, dest);
  assert.equal(res.diffID, `sha256:${createHash("sha256").update(bytes).digest("hex")}`);
  const want = await describeTree(src);
  delete (want["usr/bin"] as { xattrs: Record<string, unknown> }).xattrs["trusted.overlay.opaque"];
  assert.deepEqual(await describeTree(dest), want);

  const withRoot = await listTar(await collect(tarDirectory(src, { includeRoot: true })));
  assert.equal(withRoot[0].name, "./");
});

test("diffOverlay turns overlay whiteouts and opaque dirs into .wh. entries", async (t) => {
  const upper = await tmp(t);
  await fsp.mkdir(path.join(upper, "etc"));
  mknod(path.join(upper, "etc/motd"), 0, "c", 0, 0);
  await fsp.writeFile(path.join(upper, "etc/new"), "n");
  await fsp.mkdir(path.join(upper, "cache"), { mode: 0o750 });
  await fsp.chmod(path.join(upper, "cache"), 0o750);
  lsetxattr(path.join(upper, "cache"), "trusted.overlay.opaque", "y");
  lsetxattr(path.join(upper, "etc"), "trusted.overlay.impure", "y");
  await fsp.writeFile(path.join(upper, "cache/x"), "x");
  mknod(path.join(upper, "null"), 0o666, "c", 1, 3); // a real device stays a device

  const headers = await listTar(await collect(diffOverlay(upper)));
  assert.deepEqual(headers.map((h) => [h.name, h.type]), [
    ["cache/", "directory"],
    ["cache/.wh..wh..opq", "file"],
    ["cache/x", "file"],
    ["etc/", "directory"],
    ["etc/.wh.motd", "file"],
    ["etc/new", "file"],
    ["null", "character-device"],
  ]);
  assert.equal(headers[1].mode, 0o750);
  for (const h of headers) assert.ok(!Object.keys(h.pax ?? {}).some((k) => k.includes("trusted.overlay")), h.name);

  // Applied with "delete" onto a tree, the diff does what the overlay showed.
  const tree = path.join(upper, "..", path.basename(upper) + "-tree");
  t.after(() => fsp.rm(tree, { recursive: true, force: true }));
  await apply(await makeTar([{ name: "etc/motd", content: "m" }, { name: "cache/old", content: "o" }]), tree, "delete");
  await applyLayer(diffOverlay(upper), tree, { whiteouts: "delete" });
  assert.deepEqual((await fsp.readdir(path.join(tree, "etc"))).sort(), ["new"]);
  assert.deepEqual(await fsp.readdir(path.join(tree, "cache")), ["x"]);
});
