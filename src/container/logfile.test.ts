import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { crc32, deflateRawSync } from "node:zlib";
import { Demuxer } from "../lib/index.js";
import { LogEncoder, LogFollower, dockerTimestamp, logEnd, parseRecords, readLog, streamLog, type LogRecord } from "./logfile.js";

const LOG = [
  "2026-11-22T01:45:25.100000000+00:00 stdout F one",
  "2026-11-22T01:45:25.200000000+00:00 stderr F two",
  "2026-11-22T01:45:25.300000000+00:00 stdout P thr",
  "2026-11-22T01:45:25.300000001+00:00 stdout F ee",
  "2026-11-22T01:45:26.000000000+00:00 stdout F four",
  "",
].join("\n");

function demux(buf: Buffer): [number, string][] {
  const out: [number, string][] = [];
  new Demuxer().push(buf, (s, p) => out.push([s, p.toString()]));
  return out;
}

describe("k8s-file logs", () => {
  it("parses records and keeps an incomplete last line for later", () => {
    const recs: LogRecord[] = [];
    const rest = parseRecords(Buffer.from(LOG + "2026-11-22T01:45:27.0+00:00 stdout F fi"), recs);
    assert.equal(recs.length, 5);
    assert.equal(rest.toString(), "2026-11-22T01:45:27.0+00:00 stdout F fi");
    assert.equal(recs[1]!.stream, 2);
    assert.equal(recs[2]!.partial, true);
  });

  it("frames whole lines per stream and joins partial records", () => {
    const recs: LogRecord[] = [];
    parseRecords(Buffer.from(LOG), recs);
    const enc = new LogEncoder({ stdout: true, stderr: true, timestamps: false, tty: false });
    assert.deepEqual(demux(enc.encode(recs)), [[1, "one\n"], [2, "two\n"], [1, "three\n"], [1, "four\n"]]);
  });

  it("filters streams, adds timestamps and writes raw bytes for a tty", () => {
    const recs: LogRecord[] = [];
    parseRecords(Buffer.from(LOG), recs);
    const onlyErr = new LogEncoder({ stdout: false, stderr: true, timestamps: true, tty: false });
    assert.deepEqual(demux(onlyErr.encode(recs)), [[2, "2026-11-22T01:45:25.2Z two\n"]]);
    const tty = new LogEncoder({ stdout: true, stderr: true, timestamps: false, tty: true });
    assert.equal(tty.encode(recs).toString(), "one\ntwo\nthree\nfour\n");
  });

  it("tails by lines and windows by time", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-log-"));
    const file = path.join(dir, "log");
    await fsp.writeFile(file, LOG);
    const base = { stdout: true, stderr: true, timestamps: false, tty: true };
    const tail2 = await readLog(file, { ...base, tail: 2 });
    assert.equal(new LogEncoder(base).encode(tail2.records).toString(), "three\nfour\n");
    const since = await readLog(file, { ...base, sinceMs: Date.parse("2026-11-22T01:45:25.250Z") });
    assert.equal(new LogEncoder(base).encode(since.records).toString(), "three\nfour\n");
    const until = await readLog(file, { ...base, untilMs: Date.parse("2026-11-22T01:45:25.150Z") });
    assert.equal(new LogEncoder(base).encode(until.records).toString(), "one\n");
    const none = await readLog(path.join(dir, "missing"), base);
    assert.deepEqual(none.records, []);
    await fsp.rm(dir, { recursive: true });
  });

  it("joins a long stdout line even when a stderr line was logged between its parts, and tails by such lines", async () => {
    const log = [
      "2026-11-22T01:45:25.1+00:00 stdout F out1",
      "2026-11-22T01:45:25.2+00:00 stdout P aaa",
      "2026-11-22T01:45:25.3+00:00 stderr F err1",
      "2026-11-22T01:45:25.4+00:00 stdout P bbb",
      "2026-11-22T01:45:25.5+00:00 stdout F ccc",
      "2026-11-22T01:45:25.6+00:00 stdout P partial",
      "",
    ].join("\n");
    const recs: LogRecord[] = [];
    parseRecords(Buffer.from(log), recs);
    const o = { stdout: true, stderr: true, timestamps: false, tty: false };
    const enc = new LogEncoder(o);
    assert.deepEqual(demux(Buffer.concat([enc.encode(recs), enc.flush()])), [[1, "out1\n"], [2, "err1\n"], [1, "aaabbbccc\n"], [1, "partial"]]);
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-log-"));
    const file = path.join(dir, "log");
    await fsp.writeFile(file, log);
    const tail = async (n: number) => {
      const e = new LogEncoder(o);
      const r = await readLog(file, { ...o, tail: n });
      return demux(Buffer.concat([e.encode(r.records), e.flush()]));
    };
    assert.deepEqual(await tail(1), [[1, "partial"]]);
    assert.deepEqual(await tail(2), [[1, "aaabbbccc\n"], [1, "partial"]]);
    assert.deepEqual(await tail(3), [[2, "err1\n"], [1, "aaabbbccc\n"], [1, "partial"]]);
    assert.equal((await tail(10)).length, 4);
    await fsp.rm(dir, { recursive: true });
  });

  it("prints timestamps in UTC like Docker", () => {
    assert.equal(dockerTimestamp("2026-11-22T01:45:25.361508334+00:00"), "2026-11-22T01:45:25.361508334Z");
    assert.equal(dockerTimestamp("2026-11-22T03:45:25.5+02:00"), "2026-11-22T01:45:25.5Z");
  });
});

describe("k8s-file logs, fast path", () => {
  it("gives the same lines as the general path when partial records are scattered", () => {
    const lines: string[] = [];
    const expected: [number, string][] = [];
    let t = 0;
    const ts = () => `2026-11-22T01:45:25.${String(++t).padStart(9, "0")}+00:00`;
    for (let i = 0; i < 500; i++) {
      const stream = i % 7 === 0 ? "stderr" : "stdout";
      const text = `line-${i}-${"x".repeat(i % 90)}`;
      if (i % 13 === 0) {
        // split into two partial records and a final one
        lines.push(`${ts()} ${stream} P ${text.slice(0, 3)}`, `${ts()} ${stream} P ${text.slice(3, 6)}`, `${ts()} ${stream} F ${text.slice(6)}`);
      } else {
        lines.push(`${ts()} ${stream} F ${text}`);
      }
      expected.push([stream === "stderr" ? 2 : 1, `${text}\n`]);
    }
    const recs: LogRecord[] = [];
    parseRecords(Buffer.from(lines.join("\n") + "\n"), recs);
    const enc = new LogEncoder({ stdout: true, stderr: true, timestamps: false, tty: false });
    // Feed in uneven batches, as a follower would.
    const out: Buffer[] = [];
    for (let i = 0; i < recs.length; i += 37) out.push(enc.encode(recs.slice(i, i + 37)));
    assert.deepEqual(demux(Buffer.concat(out)), expected);
    const onlyOut = new LogEncoder({ stdout: true, stderr: false, timestamps: false, tty: true });
    assert.equal(onlyOut.encode(recs).toString(), expected.filter(([s]) => s === 1).map(([, l]) => l).join(""));
  });
});

describe("rotated logs", () => {
  const rec = (i: number) => `2026-11-22T01:45:${String(10 + i).padStart(2, "0")}.000000000+00:00 stdout F line-${i}\n`;
  /** What the monitor does at max-size with max-file 3: drop F.2, F.1 → F.2, F → F.1, a new F. */
  async function rotate(file: string): Promise<void> {
    await fsp.rm(`${file}.2`, { force: true });
    await fsp.rename(`${file}.1`, `${file}.2`).catch(() => {});
    await fsp.rename(file, `${file}.1`);
    await fsp.writeFile(file, "");
  }
  const texts = (recs: LogRecord[]) => recs.map((r) => r.text.toString());

  it("reads the rotated files oldest first, then the current one, with tail and since across them", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-logrot-"));
    const file = path.join(dir, "c-json.log");
    try {
      await fsp.writeFile(`${file}.2`, rec(0) + rec(1));
      await fsp.writeFile(`${file}.1`, rec(2) + rec(3));
      await fsp.writeFile(file, rec(4));
      const o = { stdout: true, stderr: true, timestamps: false, tty: false };
      const all = await readLog(file, o);
      assert.deepEqual(texts(all.records), ["line-0", "line-1", "line-2", "line-3", "line-4"]);
      assert.equal(all.offset.offset, rec(4).length);
      assert.deepEqual(texts((await readLog(file, { ...o, tail: 3 })).records), ["line-2", "line-3", "line-4"]);
      assert.deepEqual(texts((await readLog(file, { ...o, sinceNs: BigInt(Date.parse("2026-11-22T01:45:11Z")) * 1_000_000n })).records), ["line-1", "line-2", "line-3", "line-4"]);
      const enc = new LogEncoder(o);
      const chunks: Buffer[] = [];
      const end = await streamLog(file, o, enc, async (b) => void chunks.push(b));
      assert.equal(Buffer.concat(chunks).length, 5 * 8 + "line-0\n".length * 5);
      assert.equal(end.offset, rec(4).length);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it("a follower goes on into the next file at each rotation, even from a position in a rotated file", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-logrot-"));
    const file = path.join(dir, "c-json.log");
    try {
      await fsp.writeFile(file, rec(0));
      const start = await logEnd(file);
      await fsp.appendFile(file, rec(1));
      await rotate(file); // the follower starts after this: its position is in F.1 now
      const seen: string[] = [];
      const f = new LogFollower(file, start, (recs) => seen.push(...texts(recs)));
      f.start();
      await f.kick();
      await fsp.appendFile(file, rec(2));
      await f.kick();
      await rotate(file);
      await fsp.appendFile(file, rec(3));
      await f.kick();
      await fsp.appendFile(`${file}.1`, ""); // nothing: the renamed file gets no more
      await fsp.appendFile(file, rec(4));
      await f.stop();
      assert.deepEqual(seen, ["line-1", "line-2", "line-3", "line-4"]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  /**
   * What pier-monitor's compressing child does: `<plain>` into `<plain>.gz`, with its header's
   * JSON (lastTime, the source's inode and birth time), then the plain file removed.
   */
  async function compress(plain: string, unlinkPlain = true): Promise<void> {
    const data = await fsp.readFile(plain);
    const st = await fsp.stat(plain, { bigint: true });
    const extra = Buffer.from(JSON.stringify({ lastTime: "2026-11-22T01:45:59Z", ino: Number(st.ino), birth: String(st.birthtimeNs) }));
    const head = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255, extra.length & 0xff, extra.length >> 8]);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(data), 0);
    trailer.writeUInt32LE(data.length, 4);
    await fsp.writeFile(`${plain}.gz`, Buffer.concat([head, extra, deflateRawSync(data), trailer]));
    if (unlinkPlain) await fsp.rm(plain);
  }

  it("reads compressed rotated files, a plain one before its .gz, and the same lines once", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-logrot-"));
    const file = path.join(dir, "c-json.log");
    try {
      await fsp.writeFile(`${file}.3`, rec(0));
      await compress(`${file}.3`);
      await fsp.writeFile(`${file}.2`, rec(1) + rec(2));
      await compress(`${file}.2`, false); // cut between the .gz's rename and the plain file's unlink
      await fsp.writeFile(`${file}.1`, rec(3)); // not compressed yet
      await fsp.writeFile(file, rec(4));
      const o = { stdout: true, stderr: true, timestamps: false, tty: false };
      const want = ["line-0", "line-1", "line-2", "line-3", "line-4"];
      assert.deepEqual(texts((await readLog(file, o)).records), want);
      assert.deepEqual(texts((await readLog(file, { ...o, tail: 4 })).records), want.slice(1));
      const enc = new LogEncoder({ ...o, tty: true });
      const chunks: Buffer[] = [];
      await streamLog(file, { ...o, tty: true }, enc, async (b) => void chunks.push(b));
      assert.equal(Buffer.concat(chunks).toString(), want.map((l) => l + "\n").join(""));
      // A .gz whose last record is older than --since is not even inflated.
      assert.deepEqual(texts((await readLog(file, { ...o, sinceNs: BigInt(Date.parse("2026-11-22T01:46:00Z")) * 1_000_000n })).records), []);
      // A reader that held F.1 when it was compressed sees its lines once: its .gz is skipped.
      await compress(`${file}.1`);
      await fsp.rm(`${file}.2`);
      assert.deepEqual(texts((await readLog(file, o)).records), want);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it("a follower whose files were rotated and compressed meanwhile reads them from the .gz", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-logrot-"));
    const file = path.join(dir, "c-json.log");
    try {
      await fsp.writeFile(file, rec(0));
      const seen: string[] = [];
      const f = new LogFollower(file, await logEnd(file), (recs) => seen.push(...texts(recs)));
      f.start();
      await f.kick();
      await fsp.appendFile(file, rec(1));
      // Two rotations before the follower looks again, each file compressed at once.
      await rotate(file);
      await compress(`${file}.1`);
      await fsp.appendFile(file, rec(2));
      await fsp.rename(`${file}.1.gz`, `${file}.2.gz`);
      await fsp.rename(file, `${file}.1`);
      await fsp.writeFile(file, "");
      await compress(`${file}.1`);
      await fsp.appendFile(file, rec(3));
      await f.stop();
      assert.deepEqual(seen, ["line-1", "line-2", "line-3"]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it("tail reads a large file from its end: the same lines as a whole read, long split lines too", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-logrot-"));
    const file = path.join(dir, "c-json.log");
    try {
      const t = "2026-11-22T01:45:10.000000000+00:00";
      const records: string[] = [];
      const lines: string[] = [];
      for (let i = 0; i < 4000; i++) {
        if (i === 2500) {
          // A 90 KB line in 8 KB parts, with a stderr line between two of them.
          const part = "x".repeat(8192);
          for (let j = 0; j < 11; j++) records.push(`${t} stdout P ${part}`);
          records.push(`${t} stderr F between`);
          records.push(`${t} stdout F end`);
          lines.push("between", part.repeat(11) + "end");
        }
        const stream = i % 3 === 0 ? "stderr" : "stdout";
        records.push(`${t} ${stream} F ${stream}-${i}-${"y".repeat(i % 50)}`);
        lines.push(`${stream}-${i}-${"y".repeat(i % 50)}`);
      }
      // A record being written: not a line yet.
      await fsp.writeFile(file, records.join("\n") + "\n" + `${t} stdout F incompl`);
      const o = { stdout: true, stderr: true, timestamps: false, tty: true };
      for (const n of [0, 1, 2, 50, 1499, 1500, 1501, 1502, 3000, lines.length, lines.length + 10]) {
        const r = await readLog(file, { ...o, tail: n });
        const want = n === 0 ? "" : lines.slice(-n).map((l) => l + "\n").join("");
        assert.equal(new LogEncoder(o).encode(r.records).toString(), want, `tail ${n}`);
        assert.equal(r.offset.offset, (await fsp.stat(file)).size - `${t} stdout F incompl`.length);
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
