import { test } from "node:test";
import * as assert from "node:assert/strict";
import { promises as fsp, existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { ContentStore, digestOf, isDigest } from "./index.js";
import { kindOf } from "../errdefs/index.js";

async function tmpStore(): Promise<{ store: ContentStore; dir: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-content-"));
  const store = new ContentStore(dir);
  await store.init();
  return { store, dir };
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test("ingest stores a blob under its sha256 and reads it back", async () => {
  const { store, dir } = await tmpStore();
  const data = Buffer.from("hello blob\n".repeat(10000));
  const res = await store.ingest(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
  assert.equal(res.digest, digestOf(data));
  assert.equal(res.size, data.length);
  assert.ok(store.has(res.digest));
  assert.equal(store.path(res.digest), path.join(dir, "blobs", "sha256", res.digest.slice(7)));
  assert.equal(await store.size(res.digest), data.length);
  assert.deepEqual(await store.readBytes(res.digest), data);
  assert.deepEqual(await collect(store.readStream(res.digest)), data);
  const listed: string[] = [];
  for await (const d of store.list()) listed.push(d);
  assert.deepEqual(listed, [res.digest]);
  assert.deepEqual(await fsp.readdir(path.join(dir, "ingest")), []);
  assert.ok(existsSync(path.join(dir, "oci-layout")));
  await fsp.rm(dir, { recursive: true });
});

test("expected digest is verified; a mismatch leaves nothing behind", async () => {
  const { store, dir } = await tmpStore();
  const wrong = digestOf("something else");
  await assert.rejects(store.ingestBytes(Buffer.from("abc"), wrong), (err) => {
    assert.equal(kindOf(err), "InvalidParameter");
    assert.match((err as Error).message, /^digest mismatch/);
    return true;
  });
  assert.equal(store.has(wrong), false);
  assert.deepEqual(await fsp.readdir(path.join(dir, "ingest")), []);
  assert.deepEqual(await fsp.readdir(path.join(dir, "blobs", "sha256")), []);
  const ok = await store.ingestBytes("abc", digestOf("abc"));
  assert.equal(ok.digest, digestOf("abc"));
  // Again, already present: still verified, still fine.
  assert.deepEqual(await store.ingestBytes("abc", digestOf("abc")), { ...ok, created: false });
  assert.equal((await store.ingestBytes("abc")).created, false);
  assert.equal(ok.created, true);
  await assert.rejects(store.ingestBytes("abd", digestOf("abc")), /digest mismatch/);
  assert.deepEqual(await store.readBytes(ok.digest), Buffer.from("abc"));
  await fsp.rm(dir, { recursive: true });
});

test("digests are validated: no path escapes, only sha256", async () => {
  const { store, dir } = await tmpStore();
  const bad = [
    "sha256:../../../etc/passwd",
    "../../etc/passwd",
    "sha256:" + "a".repeat(63),
    "sha256:" + "A".repeat(64),
    "sha512:" + "a".repeat(128),
    "sha256:" + "a".repeat(64) + "/x",
    "",
  ];
  for (const d of bad) {
    assert.equal(isDigest(d), false, d);
    assert.equal(store.has(d), false);
    assert.throws(() => store.path(d), (e) => kindOf(e) === "InvalidParameter");
    assert.throws(() => store.readStream(d), (e) => kindOf(e) === "InvalidParameter");
    await assert.rejects(store.readBytes(d), (e) => kindOf(e) === "InvalidParameter");
    await assert.rejects(store.delete(d), (e) => kindOf(e) === "InvalidParameter");
    await assert.rejects(store.ingestBytes("x", d), (e) => kindOf(e) === "InvalidParameter");
  }
  await fsp.rm(dir, { recursive: true });
});

test("missing blobs are NotFound; delete reports presence", async () => {
  const { store, dir } = await tmpStore();
  const d = digestOf("nope");
  assert.throws(() => store.readStream(d), (e) => kindOf(e) === "NotFound");
  await assert.rejects(store.readBytes(d), (e) => kindOf(e) === "NotFound");
  await assert.rejects(store.size(d), (e) => kindOf(e) === "NotFound");
  assert.equal(await store.delete(d), false);
  await store.ingestBytes("nope");
  assert.equal(await store.delete(d), true);
  assert.equal(store.has(d), false);
  await fsp.rm(dir, { recursive: true });
});

test("a failing input stream leaves no temp file", async () => {
  const { store, dir } = await tmpStore();
  async function* bad() {
    yield Buffer.from("part");
    throw new Error("boom");
  }
  await assert.rejects(store.ingest(bad()), /boom/);
  assert.deepEqual(await fsp.readdir(path.join(dir, "ingest")), []);
  // init() clears leftovers of a crash.
  await fsp.writeFile(path.join(dir, "ingest", "leftover"), "x");
  await store.init();
  assert.deepEqual(await fsp.readdir(path.join(dir, "ingest")), []);
  await fsp.rm(dir, { recursive: true });
});
