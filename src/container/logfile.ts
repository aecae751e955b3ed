import { promises as fsp, watch, type FSWatcher } from "node:fs";
import * as nodePath from "node:path";
import { parseRFC3339Ns } from "../lib/index.js";
import { gzChunks, identity, MAX_ROTATED, openLogFiles, openSlot, readGz, successorOf, type LogFile } from "./logrotated.js";

/**
 * The monitor's k8s-file log (pier-monitor's or conmon's): one line per record,
 * "<RFC3339Nano time> <stdout|stderr> <P|F> <text>".
 * P marks a partial line (the text continues in the next record), F a full one.
 * Docker's logs endpoint wants whole lines with their newline, framed per stream unless tty.
 */
export interface LogRecord {
  timeMs: number;
  /** The time exactly as the monitor wrote it, kept for --timestamps. */
  time: string;
  stream: 1 | 2;
  text: Buffer;
  partial: boolean;
}

export interface LogReadOptions {
  sinceMs?: number;
  untilMs?: number;
  /** The same bounds to the nanosecond (what the CLI sends): lines of one millisecond told apart. */
  sinceNs?: bigint;
  untilNs?: bigint;
  stdout: boolean;
  stderr: boolean;
  timestamps: boolean;
  /** Last N lines; undefined for all. */
  tail?: number;
  tty: boolean;
  /** `--details`: the attributes' prefix (`k=v,… `) put before every line, after its timestamp. */
  details?: Buffer;
}

const SPACE = 0x20;
const NL = 0x0a;

/** Parse complete lines of a k8s-file chunk; returns the unparsed remainder. */
export function parseRecords(chunk: Buffer, out: LogRecord[]): Buffer {
  // Byte loops instead of indexOf/subarray per line: this runs once per log line, and the
  // native calls and Buffer objects cost more than the scanning itself.
  const n = chunk.length;
  let start = 0;
  while (start < n) {
    // time<SP>stream<SP>flag<SP>text<NL>
    let s1 = -1;
    let s2 = -1;
    let s3 = -1;
    let nl = -1;
    for (let j = start; j < n; j++) {
      const b = chunk[j]!;
      if (b === NL) {
        nl = j;
        break;
      }
      if (b === SPACE && s3 < 0) {
        if (s1 < 0) s1 = j;
        else if (s2 < 0) s2 = j;
        else s3 = j;
      }
    }
    if (nl < 0) break;
    if (s1 > start && s2 > s1) {
      const stream = chunk[s1 + 4] === 0x65 /* stdErr */ ? 2 : 1;
      const textStart = s3 < 0 ? nl : s3 + 1;
      out.push(new K8sRecord(chunk, start, s1, stream, textStart, nl, chunk[s2 + 1] === 0x50 /* P */));
    }
    start = nl + 1;
  }
  return chunk.subarray(start);
}

/**
 * One parsed line, kept as offsets into the chunk it came from. Time and text are made into
 * strings and Buffers only when asked: `docker logs` of 100,000 lines must not pay for
 * 100,000 date parses or Buffer objects it never uses.
 */
export class K8sRecord implements LogRecord {
  private t?: string;
  private ms?: number;
  constructor(
    readonly src: Buffer,
    private readonly lineStart: number,
    private readonly timeEnd: number,
    readonly stream: 1 | 2,
    readonly textStart: number,
    readonly textEnd: number,
    readonly partial: boolean,
  ) {}
  get time(): string {
    return (this.t ??= this.src.toString("latin1", this.lineStart, this.timeEnd));
  }
  get timeMs(): number {
    return (this.ms ??= parseTimeMs(this.time));
  }
  get timeNs(): bigint {
    return parseRFC3339Ns(this.time);
  }
  get text(): Buffer {
    return this.src.subarray(this.textStart, this.textEnd);
  }
}

const EMPTY = Buffer.alloc(0);

function parseTimeMs(t: string): number {
  // Date.parse copes with the nanosecond fraction by ignoring the excess digits only in some
  // engines; trim to milliseconds first so the result never depends on that.
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$/.exec(t);
  if (!m) return Date.parse(t);
  const frac = m[2] ? m[2].slice(0, 4) : "";
  return Date.parse(`${m[1]}${frac}${m[3]}`);
}

/** Docker prints log timestamps as RFC3339Nano in UTC. conmon writes local offset form, pier-monitor +00:00. */
export function dockerTimestamp(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d|Z)$/.exec(t);
  if (!m) return t;
  if (m[3] === "Z" || m[3] === "+00:00") return `${m[1]}${(m[2] ?? "").replace(/0+$/, "").replace(/\.$/, "")}Z`;
  const ms = parseTimeMs(t);
  const iso = new Date(ms).toISOString().slice(0, 19);
  return `${iso}${(m[2] ?? "").replace(/0+$/, "").replace(/\.$/, "")}Z`;
}

/**
 * Turns records into the bytes of Docker's logs stream. Partial records are joined with the
 * records that complete them, so each emitted message is one whole line. stdout and stderr are
 * joined separately: the monitor may write a stderr line between two parts of a long stdout line.
 */
export class LogEncoder {
  private readonly pending = new Map<1 | 2, { parts: Buffer[]; time: string; seq: number }>();
  private seq = 0;
  constructor(private readonly o: LogReadOptions) {}

  /** Records in, wire bytes out: all lines written into one Buffer (this is the hot path of `docker logs`). */
  encode(records: LogRecord[]): Buffer {
    if (this.o.timestamps || this.o.details) return this.encodeGeneral(records);
    // Runs of whole lines (the bulk) go through the tight loop; partial lines and the lines
    // that complete them go through the general path. The monitor splits a line wherever its read
    // buffer ends, so even `seq` output has a few partial records.
    const chunks: Buffer[] = [];
    let runStart = 0;
    for (let i = 0; i <= records.length; i++) {
      const r = records[i];
      const whole = r instanceof K8sRecord && !r.partial && !this.pending.has(r.stream);
      if (whole) continue;
      if (i > runStart) chunks.push(this.encodeWholeLines(records, runStart, i));
      if (r) chunks.push(this.encodeGeneral([r]));
      runStart = i + 1;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  private encodeGeneral(records: LogRecord[]): Buffer {
    const lines: Line[] = [];
    for (const r of records) {
      const p = this.pending.get(r.stream);
      if (r.partial) {
        if (p) p.parts.push(r.text);
        else this.pending.set(r.stream, { parts: [r.text], time: r.time, seq: this.seq++ });
        continue;
      }
      if (!this.wanted(r.stream)) {
        if (p) this.pending.delete(r.stream);
        continue;
      }
      if (p) {
        lines.push({ stream: r.stream, time: p.time, text: Buffer.concat([...p.parts, r.text]), newline: true });
        this.pending.delete(r.stream);
      } else {
        lines.push({ stream: r.stream, time: this.o.timestamps ? r.time : "", text: r instanceof K8sRecord ? r : r.text, newline: true });
      }
    }
    return this.write(lines);
  }

  /** A trailing partial line (the process ended without a newline) is sent as it is. */
  flush(): Buffer {
    if (this.pending.size === 0) return EMPTY;
    const left = [...this.pending.entries()].sort((a, b) => a[1].seq - b[1].seq);
    this.pending.clear();
    return this.write(left.filter(([stream]) => this.wanted(stream)).map(([stream, p]) => ({ stream, time: p.time, text: Buffer.concat(p.parts), newline: false })));
  }

  /** Whole lines straight from the monitor's file, without timestamps, in one tight loop. */
  private encodeWholeLines(records: LogRecord[], from: number, to: number): Buffer {
    const header = this.o.tty ? 0 : 8;
    const out1 = this.o.stdout;
    const out2 = this.o.stderr;
    let size = 0;
    for (let i = from; i < to; i++) {
      const r = records[i] as K8sRecord;
      if (r.stream === 1 ? out1 : out2) size += header + r.textEnd - r.textStart + 1;
    }
    const out = Buffer.allocUnsafe(size);
    let off = 0;
    for (let i = from; i < to; i++) {
      const r = records[i] as K8sRecord;
      if (!(r.stream === 1 ? out1 : out2)) continue;
      const len = r.textEnd - r.textStart;
      if (header) {
        const payload = len + 1;
        out[off] = r.stream;
        out[off + 1] = 0;
        out[off + 2] = 0;
        out[off + 3] = 0;
        out[off + 4] = payload >>> 24;
        out[off + 5] = (payload >>> 16) & 0xff;
        out[off + 6] = (payload >>> 8) & 0xff;
        out[off + 7] = payload & 0xff;
        off += 8;
      }
      const src = r.src;
      // Short lines are copied byte by byte: cheaper than a native call each.
      if (len < 64) {
        for (let j = r.textStart; j < r.textEnd; j++) out[off++] = src[j]!;
      } else {
        off += src.copy(out, off, r.textStart, r.textEnd);
      }
      out[off++] = 0x0a;
    }
    return out;
  }

  private wanted(stream: 1 | 2): boolean {
    return stream === 1 ? this.o.stdout : this.o.stderr;
  }

  private write(lines: Line[]): Buffer {
    if (lines.length === 0) return EMPTY;
    const details = this.o.details;
    const stamps = this.o.timestamps ? lines.map((l) => Buffer.from(dockerTimestamp(l.time) + " ", "latin1")) : undefined;
    const extra = details ? details.length : 0;
    const header = this.o.tty ? 0 : 8;
    let size = 0;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      size += header + textLength(l.text) + (l.newline ? 1 : 0) + (stamps ? stamps[i]!.length : 0) + extra;
    }
    const out = Buffer.allocUnsafe(size);
    let off = 0;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const payload = textLength(l.text) + (l.newline ? 1 : 0) + (stamps ? stamps[i]!.length : 0) + extra;
      if (header) {
        // Docker's frame header: stream, three zero bytes, payload size (uint32 big-endian).
        out[off] = l.stream;
        out[off + 1] = 0;
        out[off + 2] = 0;
        out[off + 3] = 0;
        out.writeUInt32BE(payload, off + 4);
        off += 8;
      }
      if (stamps) off += stamps[i]!.copy(out, off);
      if (details) off += details.copy(out, off);
      off += copyText(l.text, out, off);
      if (l.newline) out[off++] = 0x0a;
    }
    return out;
  }
}

interface Line {
  stream: 1 | 2;
  time: string;
  /** A Buffer, or a record whose text is copied straight from its source chunk. */
  text: Buffer | K8sRecord;
  newline: boolean;
}

const textLength = (t: Buffer | K8sRecord) => (t instanceof K8sRecord ? t.textEnd - t.textStart : t.length);
const copyText = (t: Buffer | K8sRecord, out: Buffer, off: number) => (t instanceof K8sRecord ? t.src.copy(out, off, t.textStart, t.textEnd) : t.copy(out, off));

export function inWindow(r: LogRecord, o: LogReadOptions): boolean {
  if (o.sinceNs !== undefined || o.untilNs !== undefined) {
    const ns = r instanceof K8sRecord ? r.timeNs : parseRFC3339Ns(r.time);
    if (o.sinceNs !== undefined && ns < o.sinceNs) return false;
    if (o.untilNs !== undefined && ns > o.untilNs) return false;
  }
  if (o.sinceMs !== undefined && r.timeMs < o.sinceMs) return false;
  if (o.untilMs !== undefined && r.timeMs > o.untilMs) return false;
  return true;
}

/** Whether since/until are asked for at all. */
export function isWindowed(o: LogReadOptions): boolean {
  return o.sinceMs !== undefined || o.untilMs !== undefined || o.sinceNs !== undefined || o.untilNs !== undefined;
}

/**
 * Where a reader stopped: the file (by inode, which a rotation's rename keeps, and identity, which
 * a .gz of it records) and the offset in it (in its uncompressed content).
 */
export interface LogPosition {
  ino?: number;
  key?: string;
  offset: number;
}

/** A plain file's content in 512 KiB reads. */
async function* plainChunks(fh: fsp.FileHandle): AsyncGenerator<Buffer> {
  for (;;) {
    const buf = Buffer.allocUnsafe(512 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) return;
    yield buf.subarray(0, bytesRead);
  }
}

/** A compressed file whose last record is older than `since`: dockerd skips it the same way. */
const olderThanWindow = (f: LogFile, o: LogReadOptions) => f.gz && o.sinceNs !== undefined && f.lastTimeNs !== undefined && f.lastTimeNs < o.sinceNs;

/**
 * Stream a log (its rotated files first, oldest first, compressed ones inflated as they are read)
 * through an encoder chunk by chunk, so the client starts reading while the rest is parsed (a
 * whole-file read would make it wait). Not for `tail`, which needs the end first. Returns where
 * the last complete record ended. `write` returns false when the client is not keeping up; the
 * stream then waits for `drain`.
 */
export async function streamLog(path: string, o: LogReadOptions, enc: LogEncoder, write: (b: Buffer) => Promise<void>): Promise<LogPosition> {
  const files = await openLogFiles(path);
  const windowed = isWindowed(o);
  const pos: LogPosition = { offset: 0 };
  try {
    for (const f of files) {
      // A record never spans two files: the monitor rotates between records.
      let rest: Buffer = EMPTY;
      pos.ino = f.ino;
      pos.key = f.key;
      pos.offset = 0;
      if (olderThanWindow(f, o)) continue;
      for await (const chunk of f.gz ? gzChunks(f.fh) : plainChunks(f.fh)) {
        const data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
        const recs: LogRecord[] = [];
        rest = parseRecords(data, recs);
        pos.offset += data.length - rest.length;
        const sel = windowed ? recs.filter((r) => inWindow(r, o)) : recs;
        if (sel.length) await write(enc.encode(sel));
      }
    }
  } finally {
    for (const { fh } of files) await fh.close();
  }
  return pos;
}

/**
 * Read a log into records, honouring since/until/tail. Files are read newest first, and with
 * `tail` only as far back as the lines asked for reach: a plain file from its end backwards in
 * growing reads, a compressed one inflated whole.
 */
export async function readLog(path: string, o: LogReadOptions): Promise<{ records: LogRecord[]; offset: LogPosition }> {
  const files = await openLogFiles(path);
  const parts: LogRecord[][] = [];
  const pos: LogPosition = { offset: 0 };
  const windowed = isWindowed(o);
  try {
    files: for (let k = files.length - 1; k >= 0; k--) {
      const f = files[k]!;
      if (olderThanWindow(f, o)) break; // and the older ones older still
      const newest = k === files.length - 1;
      const setEnd = (offset: number) => {
        if (newest) Object.assign(pos, { ino: f.ino, key: f.key, offset });
      };
      for await (const recs of segmentsFromEnd(f, o.tail !== undefined, setEnd)) {
        parts.unshift(windowed ? recs.filter((r) => inWindow(r, o)) : recs);
        if (o.tail !== undefined && tailIsWithin(parts.flat(), o.tail)) break files;
      }
    }
  } finally {
    for (const { fh } of files) await fh.close();
  }
  let records = parts.flat();
  if (o.tail !== undefined) records = tailRecords(records, o.tail);
  return { records, offset: pos };
}

/**
 * A file's records in segments, the last segment first (each in order). Whole unless
 * `backwards` (a plain file is then read from its end in reads of 64 KiB, doubling). `setEnd`
 * learns where the file's last complete record ends.
 */
async function* segmentsFromEnd(f: LogFile, backwards: boolean, setEnd: (offset: number) => void): AsyncGenerator<LogRecord[]> {
  if (f.gz || !backwards) {
    const data = f.gz ? await readGz(f.fh) : await f.fh.readFile();
    const recs: LogRecord[] = [];
    const rest = parseRecords(data, recs);
    setEnd(data.length - rest.length);
    yield recs;
    return;
  }
  const { size } = await f.fh.stat();
  let end = size;
  let chunk = 64 * 1024;
  // The head of the part read already, up to its first newline: the end of a line begun earlier.
  let later: Buffer = EMPTY;
  let ended = false; // the file's end parsed: where its last whole record ends is known
  while (end > 0) {
    const start = Math.max(0, end - chunk);
    chunk *= 2;
    const buf = Buffer.allocUnsafe(end - start);
    const { bytesRead } = await f.fh.read(buf, 0, buf.length, start);
    const data = later.length ? Buffer.concat([buf.subarray(0, bytesRead), later]) : buf.subarray(0, bytesRead);
    let from = 0;
    if (start > 0) {
      const nl = data.indexOf(0x0a);
      if (nl < 0) {
        later = data;
        end = start;
        continue;
      }
      from = nl + 1;
    }
    later = data.subarray(0, from);
    const recs: LogRecord[] = [];
    const rest = parseRecords(data.subarray(from), recs);
    if (!ended) setEnd(size - rest.length);
    ended = true;
    end = start;
    yield recs;
  }
  if (!ended) setEnd(0);
}

/**
 * Whether the last n lines all begin within these records: each stream's first kept record has
 * a record of its stream before it (a line may start with partial records in an older file).
 */
function tailIsWithin(records: LogRecord[], n: number): boolean {
  const kept = tailRecords(records, n);
  if (kept.length === records.length) return n === 0;
  const firstKept = new Map<1 | 2, LogRecord>();
  for (const r of kept) if (!firstKept.has(r.stream)) firstKept.set(r.stream, r);
  for (const [stream, first] of firstKept) {
    const earlier = records.find((r) => r.stream === stream);
    if (earlier === first) return false;
  }
  return true;
}

/** Where the log ends now: a reader starting here gets only what is written from now on. */
export async function logEnd(path: string): Promise<LogPosition> {
  try {
    const fh = await fsp.open(path, "r");
    try {
      const id = await identity(fh);
      return { ino: id.ino, key: id.key, offset: id.size };
    } finally {
      await fh.close();
    }
  } catch {
    return { offset: 0 };
  }
}

/**
 * The last n lines. A line is a run of partial records of one stream plus the full record that
 * ends it (records of the other stream may sit between its parts); a run of partial records at
 * the very end of a stream (output without a final newline) is a line too, as Docker counts it.
 */
function tailRecords(records: LogRecord[], n: number): LogRecord[] {
  if (n <= 0) return [];
  // Assign each record to its line; lines are ordered by the record that ends them.
  const lineOf: number[] = new Array(records.length);
  const ends: number[] = []; // line id -> index of its last record
  const open = new Map<1 | 2, number>();
  records.forEach((r, i) => {
    let id = open.get(r.stream);
    if (id === undefined) {
      id = ends.length;
      ends.push(i);
      open.set(r.stream, id);
    }
    lineOf[i] = id;
    ends[id] = i;
    if (!r.partial) open.delete(r.stream);
  });
  if (ends.length <= n) return records;
  const byEnd = ends.map((end, id) => ({ end, id })).sort((a, b) => a.end - b.end);
  const keep = new Set(byEnd.slice(byEnd.length - n).map((l) => l.id));
  return records.filter((_, i) => keep.has(lineOf[i]!));
}

/**
 * Follows a log from a position, calling onRecords as the monitor appends, across rotations: when
 * `<log>` is a new file, the one being read is finished (the monitor writes no more to it once it
 * renamed it) and reading goes on with the next newer file — inflated whole when the monitor has
 * compressed it meanwhile. stop() reads what is left once more (so nothing written before the
 * exit is lost) and ends.
 */
export class LogFollower {
  private watcher: FSWatcher | undefined;
  private pos: LogPosition;
  private fh: fsp.FileHandle | undefined;
  private rest: Buffer = Buffer.alloc(0);
  private reading: Promise<void> = Promise.resolve();
  private closed = false;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string, from: LogPosition | number, private readonly onRecords: (r: LogRecord[]) => void) {
    this.pos = typeof from === "number" ? { offset: from } : { ...from };
  }

  start(): void {
    // The directory is watched, not the file: a rotation renames the file, and a watch on it
    // would follow the old one. The directory exists from create on; the log from the start.
    const dir = nodePath.dirname(this.path);
    const base = nodePath.basename(this.path);
    try {
      this.watcher = watch(dir, (_event, name) => {
        if (!name || name.startsWith(base)) void this.kick();
      });
    } catch {
      // No directory yet: look again shortly.
      this.pollTimer = setInterval(() => void this.kick(), 50);
    }
    void this.kick();
  }

  kick(): Promise<void> {
    this.reading = this.reading.then(() => this.readMore()).catch(() => {});
    return this.reading;
  }

  private async readMore(): Promise<void> {
    if (this.closed) return;
    if (!this.fh && !(await this.openAt())) return;
    for (;;) {
      await this.drain();
      // Has the monitor started a new file? Then ours is complete: read its last bytes (written
      // before the rename) and go on with the next one.
      const cur = await fsp.stat(this.path).catch(() => undefined);
      if (!cur) return;
      const mine = await this.fh!.stat();
      if (cur.ino === mine.ino && cur.size >= this.pos.offset) return;
      if (cur.ino === mine.ino) {
        // Same inode but shorter: started afresh in place (an inode number reused at once).
        this.pos.offset = 0;
        this.rest = EMPTY;
        continue;
      }
      await this.drain();
      await this.fh!.close();
      this.fh = undefined;
      if (!(await this.moveOn(this.pos.key))) return;
    }
  }

  /**
   * Go on after the file with identity `key`: compressed successors are read whole, the first
   * plain one is opened to follow. False when there is nothing to open (yet).
   */
  private async moveOn(key: string | undefined): Promise<boolean> {
    this.rest = EMPTY;
    for (let tries = 0; tries < MAX_ROTATED; tries++) {
      const next = (key !== undefined ? await successorOf(this.path, key) : undefined) ?? (await openSlot(this.path, 0));
      if (!next) {
        this.pos = { offset: 0 };
        return false;
      }
      if (next.gz) {
        try {
          this.emit(await readGz(next.fh));
        } finally {
          await next.fh.close();
        }
        key = next.key;
        continue;
      }
      this.fh = next.fh;
      this.pos = { ino: next.ino, key: next.key, offset: 0 };
      return true;
    }
    return false;
  }

  /** Open the file the position names: the current one, or a rotated one it became (maybe compressed). */
  private async openAt(): Promise<boolean> {
    if (this.pos.ino !== undefined) {
      const files = await openLogFiles(this.path);
      let found: LogFile | undefined;
      for (const f of files) {
        const same = this.pos.key !== undefined ? f.key === this.pos.key || f.srcKey === this.pos.key : !f.gz && f.ino === this.pos.ino;
        if (same && !found) found = f;
        else await f.fh.close();
      }
      if (found?.gz) {
        // Compressed since: what is left of it, then on to the files after it.
        try {
          this.emit((await readGz(found.fh)).subarray(this.pos.offset));
        } finally {
          await found.fh.close();
        }
        return (await this.moveOn(found.key)) && this.watchNow();
      }
      if (found) {
        this.fh = found.fh;
        return this.watchNow();
      }
      this.pos = { offset: 0 }; // that file is gone: go on with the current one
    }
    const cur = await openSlot(this.path, 0).catch(() => undefined);
    if (!cur) return false;
    this.fh = cur.fh;
    if (this.pos.ino === undefined) {
      this.pos.ino = cur.ino;
      this.pos.key = cur.key;
    }
    if (this.pos.ino === cur.ino && (await cur.fh.stat()).size < this.pos.offset) this.pos.offset = 0;
    return this.watchNow();
  }

  /** The directory exists now: watch it instead of polling. */
  private watchNow(): boolean {
    if (this.pollTimer && this.watcher === undefined) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      this.start();
    }
    return true;
  }

  private emit(data: Buffer): void {
    const recs: LogRecord[] = [];
    parseRecords(data, recs);
    if (recs.length && !this.closed) this.onRecords(recs);
  }

  private async drain(): Promise<void> {
    for (;;) {
      const buf = Buffer.allocUnsafe(256 * 1024);
      const { bytesRead } = await this.fh!.read(buf, 0, buf.length, this.pos.offset);
      if (bytesRead === 0) return;
      this.pos.offset += bytesRead;
      const data = this.rest.length ? Buffer.concat([this.rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const recs: LogRecord[] = [];
      this.rest = parseRecords(data, recs);
      if (recs.length && !this.closed) this.onRecords(recs);
    }
  }

  /** Drain what is left, then stop watching. */
  async stop(): Promise<void> {
    await this.kick();
    this.close();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.pollTimer) clearInterval(this.pollTimer);
    const fh = this.fh;
    this.fh = undefined;
    // A read in flight finishes first; the handle is closed after it.
    void this.reading.then(() => fh?.close()).catch(() => {});
  }
}
