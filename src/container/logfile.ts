import { promises as fsp, watch, type FSWatcher } from "node:fs";

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
  stdout: boolean;
  stderr: boolean;
  timestamps: boolean;
  /** Last N lines; undefined for all. */
  tail?: number;
  tty: boolean;
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
    if (this.o.timestamps) return this.encodeGeneral(records);
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
    const stamps = this.o.timestamps ? lines.map((l) => Buffer.from(dockerTimestamp(l.time) + " ", "latin1")) : undefined;
    const header = this.o.tty ? 0 : 8;
    let size = 0;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      size += header + textLength(l.text) + (l.newline ? 1 : 0) + (stamps ? stamps[i]!.length : 0);
    }
    const out = Buffer.allocUnsafe(size);
    let off = 0;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const payload = textLength(l.text) + (l.newline ? 1 : 0) + (stamps ? stamps[i]!.length : 0);
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
  if (o.sinceMs !== undefined && r.timeMs < o.sinceMs) return false;
  if (o.untilMs !== undefined && r.timeMs > o.untilMs) return false;
  return true;
}

/**
 * Stream a log file through an encoder chunk by chunk, so the client starts reading while the
 * rest is parsed (a whole-file read would make it wait). Not for `tail`, which needs the end
 * first. Returns the offset after the last complete record. `write` returns false when the
 * client is not keeping up; the stream then waits for `drain`.
 */
export async function streamLog(path: string, o: LogReadOptions, enc: LogEncoder, write: (b: Buffer) => Promise<void>): Promise<number> {
  let fh;
  try {
    fh = await fsp.open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  const windowed = o.sinceMs !== undefined || o.untilMs !== undefined;
  let offset = 0;
  let rest: Buffer = EMPTY;
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(512 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const data = rest.length ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const recs: LogRecord[] = [];
      rest = parseRecords(data, recs);
      offset += data.length - rest.length;
      const sel = windowed ? recs.filter((r) => inWindow(r, o)) : recs;
      if (sel.length) await write(enc.encode(sel));
    }
  } finally {
    await fh.close();
  }
  return offset;
}

/** Read a whole log file (or what exists of it) into records, honouring since/until/tail. */
export async function readLog(path: string, o: LogReadOptions): Promise<{ records: LogRecord[]; offset: number }> {
  let data: Buffer;
  try {
    data = await fsp.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [], offset: 0 };
    throw err;
  }
  const all: LogRecord[] = [];
  const rest = parseRecords(data, all);
  const offset = data.length - rest.length;
  let records = o.sinceMs !== undefined || o.untilMs !== undefined ? all.filter((r) => inWindow(r, o)) : all;
  if (o.tail !== undefined) records = tailRecords(records, o.tail);
  return { records, offset };
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
 * Follows a log file from an offset, calling onRecords as the monitor appends. stop() reads what
 * is left once more (so nothing written before the exit is lost) and ends.
 */
export class LogFollower {
  private watcher: FSWatcher | undefined;
  private offset: number;
  private rest: Buffer = Buffer.alloc(0);
  private reading: Promise<void> = Promise.resolve();
  private closed = false;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string, offset: number, private readonly onRecords: (r: LogRecord[]) => void) {
    this.offset = offset;
  }

  start(): void {
    try {
      this.watcher = watch(this.path, () => this.kick());
    } catch {
      // The file does not exist yet (the container has not started): look again shortly.
      // The monitor creates it when the container starts; fs.watch cannot watch a missing file.
      this.pollTimer = setInterval(() => {
        try {
          this.watcher = watch(this.path, () => this.kick());
          clearInterval(this.pollTimer);
          this.pollTimer = undefined;
          this.kick();
        } catch {
          /* still missing */
        }
      }, 20);
    }
    this.kick();
  }

  kick(): Promise<void> {
    this.reading = this.reading.then(() => this.readMore());
    return this.reading;
  }

  private async readMore(): Promise<void> {
    if (this.closed) return;
    let fh;
    try {
      fh = await fsp.open(this.path, "r");
    } catch {
      return;
    }
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(256 * 1024);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const data = this.rest.length ? Buffer.concat([this.rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        const recs: LogRecord[] = [];
        this.rest = parseRecords(data, recs);
        if (recs.length) this.onRecords(recs);
      }
    } finally {
      await fh.close();
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
  }
}
