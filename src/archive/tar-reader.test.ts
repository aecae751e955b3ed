import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { promises as fsp, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isKind } from "../errdefs/index.js";
import { readTar, type TarHeader } from "./tar-reader.js";

// The tar reader against archives made by GNU tar (as a user's `docker import` tar would be)
// and against headers built byte by byte here, for the corners GNU tar does not write.

interface Read {
  header: TarHeader;
  data: string;
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Every entry with its content, fed in chunks of `size` bytes (headers split across chunks). */
async function readAll(buf: Buffer, size = 1 << 16): Promise<Read[]> {
  const out: Read[] = [];
  for await (const e of readTar(chunks(buf, size))) {
    const parts: Buffer[] = [];
    for await (const c of e) parts.push(Buffer.from(c));
    out.push({ header: e.header, data: Buffer.concat(parts).toString("latin1") });
  }
  return out;
}

async function tmp(t: { after(fn: () => unknown): void }): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-tarreader-"));
  t.after(() => fsp.rm(d, { recursive: true, force: true }));
  return d;
}

/** A tar of `files` (relative path → content; a value ending in "/" is a directory) made by GNU tar. */
async function gnuTar(dir: string, format: string, files: Record<string, string>, extra: string[] = []): Promise<Buffer> {
  const root = path.join(dir, `root-${format}`);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, content);
  }
  const out = path.join(dir, `${format}.tar`);
  const r = spawnSync("tar", [`--format=${format}`, "--sort=name", "--owner=0", "--group=0", "--mtime=@1000000000", ...extra, "-C", root, "-cf", out, ...Object.keys(files)]);
  assert.equal(r.status, 0, r.stderr?.toString());
  return readFileSync(out);
}

const longDir = `${"d".repeat(60)}/${"e".repeat(60)}`; // over 100 bytes with a file name, under 155: ustar prefix
const veryLong = `${"x".repeat(120)}/${"y".repeat(150)}.txt`; // too long for ustar: PAX or GNU long name

test("GNU tar's formats: ustar prefix, PAX and GNU long names, link targets, content", async (t) => {
  const d = await tmp(t);
  for (const format of ["ustar", "pax", "gnu"]) {
    const files: Record<string, string> = { [`${longDir}/file.txt`]: "in a long directory\n", "small": "x" };
    if (format !== "ustar") files[veryLong] = "deep\n";
    const buf = await gnuTar(d, format, files);
    // Chunk sizes that cut headers in pieces, and one big chunk.
    for (const size of [1, 100, 513, 1 << 20]) {
      const got = await readAll(buf, size);
      const byName = new Map(got.map((e) => [e.header.name, e]));
      assert.equal(byName.get(`${longDir}/file.txt`)?.data, "in a long directory\n", `${format}/${size}`);
      assert.equal(byName.get(`${longDir}/file.txt`)?.header.type, "file");
      assert.equal(byName.get("small")?.data, "x");
      assert.equal(byName.get("small")?.header.mtime.getTime(), 1e12);
      assert.equal(byName.get("small")?.header.uid, 0);
      if (format !== "ustar") assert.equal(byName.get(veryLong)?.data, "deep\n", `${format}: long name`);
      // No PAX or GNU records leak out as entries of their own.
      assert.ok(got.every((e) => e.header.type === "file" || e.header.type === "directory"), `${format}: ${got.map((e) => e.header.typeflag)}`);
    }
  }
});

test("long symlink and hardlink targets (PAX linkpath, GNU ././@LongLink 'K')", async (t) => {
  const d = await tmp(t);
  for (const format of ["pax", "gnu"]) {
    const root = path.join(d, `links-${format}`);
    await fsp.mkdir(path.join(root, path.dirname(veryLong)), { recursive: true });
    await fsp.writeFile(path.join(root, veryLong), "target");
    await fsp.symlink(veryLong, path.join(root, "sym"));
    await fsp.link(path.join(root, veryLong), path.join(root, "hard"));
    const out = path.join(d, `links-${format}.tar`);
    const r = spawnSync("tar", [`--format=${format}`, "-C", root, "-cf", out, veryLong, "sym", "hard"]);
    assert.equal(r.status, 0, r.stderr?.toString());
    const got = await readAll(readFileSync(out));
    const sym = got.find((e) => e.header.name === "sym");
    assert.equal(sym?.header.type, "symlink");
    assert.equal(sym?.header.linkname, veryLong);
    const hard = got.find((e) => e.header.name === "hard");
    assert.equal(hard?.header.type, "link");
    assert.equal(hard?.header.linkname, veryLong);
    assert.equal(hard?.data, "", "a hardlink has no content of its own");
  }
});

// ---- headers built byte by byte

const enc = (s: string) => Buffer.from(s, "latin1");

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

interface Raw {
  name: string;
  type?: string;
  size?: number;
  /** Raw bytes for the size field (base-256, say); otherwise octal of `size`. */
  sizeField?: Buffer;
  linkname?: string;
  prefix?: string;
  magic?: "ustar" | "gnu" | "v7";
  mode?: number;
}

function header(h: Raw, opts: { badChecksum?: boolean; signedChecksum?: boolean } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, "utf8");
  b.write(octal(h.mode ?? 0o644, 8), 100, "latin1");
  b.write(octal(0, 8), 108, "latin1");
  b.write(octal(0, 8), 116, "latin1");
  if (h.sizeField) h.sizeField.copy(b, 124);
  else b.write(octal(h.size ?? 0, 12), 124, "latin1");
  b.write(octal(1_000_000_000, 12), 136, "latin1");
  b.write(h.type ?? "0", 156, "latin1");
  if (h.linkname) b.write(h.linkname, 157, 100, "utf8");
  const magic = h.magic ?? "ustar";
  if (magic === "ustar") b.write("ustar\u000000", 257, "latin1");
  if (magic === "gnu") b.write("ustar  \0", 257, "latin1");
  if (h.prefix) b.write(h.prefix, 345, 155, "utf8");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += opts.signedChecksum ? (x << 24) >> 24 : x;
  if (opts.badChecksum) sum += 1;
  b.write(`${(sum >>> 0).toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return b;
}

function body(content: Buffer | string): Buffer {
  const c = typeof content === "string" ? enc(content) : content;
  return Buffer.concat([c, Buffer.alloc((512 - (c.length % 512)) % 512)]);
}

function pax(records: Record<string, string>): Buffer {
  let out = "";
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len++;
    out += `${len}${rest}`;
  }
  return Buffer.from(out, "utf8");
}

const END = Buffer.alloc(1024);

test("PAX records override the header: path, linkpath, size, ids, mtime; xattrs kept byte-exact", async () => {
  const records = pax({ path: "p/ä-long-name", uid: "3000000", gid: "42", mtime: "1700000000.5", "SCHILY.xattr.user.x": "v" });
  const buf = Buffer.concat([
    header({ name: "PaxHeaders/x", type: "x", size: records.length }),
    body(records),
    header({ name: "short", size: 3 }),
    body("abc"),
    END,
  ]);
  const [e, ...rest] = await readAll(buf);
  assert.equal(rest.length, 0);
  assert.equal(e!.header.name, "p/ä-long-name");
  assert.equal(e!.header.uid, 3000000);
  assert.equal(e!.header.gid, 42);
  assert.equal(e!.header.mtime.getTime(), 1700000000500);
  assert.equal(e!.header.pax?.["SCHILY.xattr.user.x"], "v");
  assert.equal(e!.data, "abc");

  // A PAX size wins over the header's (which a writer sets to 0 when it does not fit).
  const sized = pax({ size: "5" });
  const got = await readAll(Buffer.concat([header({ name: "x", type: "x", size: sized.length }), body(sized), header({ name: "big", size: 0 }), body("12345"), END]));
  assert.equal(got[0]!.data, "12345");
  assert.equal(got[0]!.header.size, 5);

  // Global records ('g') are skipped (as moby's applier does); they do not become an entry.
  const global = pax({ comment: "from git archive" });
  const g = await readAll(Buffer.concat([header({ name: "pax_global_header", type: "g", size: global.length }), body(global), header({ name: "f", size: 1 }), body("z"), END]));
  assert.deepEqual(g.map((e) => [e.header.name, e.header.pax]), [["f", null]]);
});

test("GNU long names (././@LongLink), ustar prefix, v7 headers, old-style directories", async () => {
  const long = "l/".repeat(100) + "name";
  const buf = Buffer.concat([
    header({ name: "././@LongLink", type: "L", size: long.length + 1, magic: "gnu" }),
    body(`${long}\0`),
    header({ name: long.slice(0, 99), size: 2, magic: "gnu" }),
    body("ok"),
    header({ name: "file", prefix: "a/prefix", size: 0 }),
    header({ name: "v7file", magic: "v7", size: 1 }),
    body("7"),
    header({ name: "olddir/", type: "\0", magic: "v7" }),
    END,
  ]);
  const got = await readAll(buf, 7);
  assert.deepEqual(got.map((e) => [e.header.name, e.header.type, e.data]), [
    [long, "file", "ok"],
    ["a/prefix/file", "file", ""],
    ["v7file", "file", "7"],
    ["olddir/", "directory", ""],
  ]);
});

test("base-256 sizes and a signed checksum are read as Go reads them", async () => {
  const content = Buffer.alloc(700, "q");
  const field = Buffer.alloc(12);
  field[0] = 0x80;
  field.writeUIntBE(content.length, 6, 6);
  const got = await readAll(Buffer.concat([header({ name: "b256", sizeField: field, magic: "gnu" }), body(content), END]));
  assert.equal(got[0]!.header.size, 700);
  assert.equal(got[0]!.data, content.toString("latin1"));

  const hi = await readAll(Buffer.concat([header({ name: "é-name", size: 0 }, { signedChecksum: true }), END]));
  assert.equal(hi[0]!.header.name, "é-name");
});

test("malformed tar: bad checksum, truncation, junk, oversized records are InvalidParameter errors", async () => {
  const bad = async (buf: Buffer, re: RegExp) => {
    await assert.rejects(readAll(buf), (e) => isKind(e, "InvalidParameter") && re.test((e as Error).message));
  };
  await bad(Buffer.concat([header({ name: "x", size: 0 }, { badChecksum: true }), END]), /checksum mismatch/);
  const whole = Buffer.concat([header({ name: "x", size: 1000 }), body(Buffer.alloc(1000, 1)), END]);
  await bad(whole.subarray(0, 700), /unexpected end of data/); // inside the content
  await bad(whole.subarray(0, 300), /unexpected end of data/); // inside the header
  await bad(whole.subarray(0, 512 + 1000), /unexpected end of data/); // inside the padding
  const rec = pax({ path: "p" });
  await bad(Buffer.concat([header({ name: "x", type: "x", size: rec.length }), body(rec)]), /unexpected end of data/); // records, then nothing
  await bad(Buffer.alloc(20_000, "not a tar archive "), /invalid tar header/);
  await bad(Buffer.concat([header({ name: "big", type: "x", size: 2 << 20 }), END]), /too large/);
  await bad(Buffer.concat([header({ name: "neg", sizeField: Buffer.from([0xff, ...Buffer.alloc(11, 0xff)]) }), END]), /negative size/);
  await bad(Buffer.concat([Buffer.alloc(512), header({ name: "after-zero" }), END]), /zero block followed by data/);
});

test("the end marker: what follows is read (for digests) but not parsed; no marker at all is an end too", async () => {
  let read = 0;
  async function* counted(buf: Buffer) {
    for (const c of [buf.subarray(0, 600), buf.subarray(600)]) {
      read += c.length;
      yield c;
    }
  }
  const buf = Buffer.concat([header({ name: "a", size: 1 }), body("a"), END, Buffer.alloc(8192)]);
  const names: string[] = [];
  for await (const e of readTar(counted(buf))) names.push(e.header.name);
  assert.deepEqual(names, ["a"]);
  assert.equal(read, buf.length);
  assert.deepEqual((await readAll(Buffer.concat([header({ name: "a", size: 1 }), body("a")]))).map((e) => e.data), ["a"]);
});

test("content not read is skipped; names are returned as written, for the consumer to confine", async () => {
  const buf = Buffer.concat([
    header({ name: "../escape", size: 600 }),
    body(Buffer.alloc(600, 7)),
    header({ name: "/abs/path", type: "2", linkname: "../../etc/passwd" }),
    header({ name: "next", size: 4 }),
    body("next"),
    END,
  ]);
  const seen: [string, string, string][] = [];
  for await (const e of readTar(chunks(buf, 100))) {
    let data = "";
    if (e.header.name === "next") for await (const c of e) data += c.toString();
    seen.push([e.header.name, e.header.linkname, data]);
  }
  assert.deepEqual(seen, [
    ["../escape", "", ""],
    ["/abs/path", "../../etc/passwd", ""],
    ["next", "", "next"],
  ]);
});
