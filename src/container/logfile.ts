import { promises as fsp, watch, type FSWatcher } from "node:fs";
import { frame } from "../lib/index.js";

/**
 * conmon's k8s-file log: one line per record, "<RFC3339Nano time> <stdout|stderr> <P|F> <text>".
 * P marks a partial line (the text continues in the next record), F a full one.
 * Docker's logs endpoint wants whole lines with their newline, framed per stream unless tty.
 */
export interface LogRecord {
  timeMs: number;
  /** The time exactly as conmon wrote it, kept for --timestamps. */
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
  let start = 0;
  for (;;) {
    const nl = chunk.indexOf(NL, start);
    if (nl < 0) break;
    const rec = parseLine(chunk.subarray(start, nl));
    if (rec) out.push(rec);
    start = nl + 1;
  }
  return chunk.subarray(start);
}

function parseLine(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const s3 = line.indexOf(SPACE, s2 + 1);
  const time = line.toString("latin1", 0, s1);
  const stream = line[s1 + 1] === 0x65 /* e(stderr) */ || line.toString("latin1", s1 + 1, s2) === "stderr" ? 2 : 1;
  const flag = line[s2 + 1];
  const text = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  return { time, timeMs: parseTimeMs(time), stream, text, partial: flag === 0x50 /* P */ };
}

function parseTimeMs(t: string): number {
  // Date.parse copes with the nanosecond fraction by ignoring the excess digits only in some
  // engines; trim to milliseconds first so the result never depends on that.
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$/.exec(t);
  if (!m) return Date.parse(t);
  const frac = m[2] ? m[2].slice(0, 4) : "";
  return Date.parse(`${m[1]}${frac}${m[3]}`);
}

/** Docker prints log timestamps as RFC3339Nano in UTC. conmon writes local offset form. */
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
 * joined separately: conmon may write a stderr line between two parts of a long stdout line.
 */
export class LogEncoder {
  private readonly pending = new Map<1 | 2, { parts: Buffer[]; time: string; seq: number }>();
  private seq = 0;
  constructor(private readonly o: LogReadOptions) {}

  /** Records in, wire bytes out (several lines batched into one Buffer for speed). */
  encode(records: LogRecord[]): Buffer {
    const chunks: Buffer[] = [];
    for (const r of records) {
      const p = this.pending.get(r.stream);
      if (r.partial) {
        if (p) p.parts.push(r.text);
        else this.pending.set(r.stream, { parts: [r.text], time: r.time, seq: this.seq++ });
        continue;
      }
      let text = r.text;
      let time = r.time;
      if (p) {
        text = Buffer.concat([...p.parts, r.text]);
        time = p.time;
        this.pending.delete(r.stream);
      }
      this.push(chunks, r.stream, time, text, true);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /** A trailing partial line (the process ended without a newline) is sent as it is. */
  flush(): Buffer {
    if (this.pending.size === 0) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    const left = [...this.pending.entries()].sort((a, b) => a[1].seq - b[1].seq);
    this.pending.clear();
    for (const [stream, p] of left) this.push(chunks, stream, p.time, Buffer.concat(p.parts), false);
    return Buffer.concat(chunks);
  }

  private push(chunks: Buffer[], stream: 1 | 2, time: string, text: Buffer, newline: boolean) {
    if (stream === 1 && !this.o.stdout) return;
    if (stream === 2 && !this.o.stderr) return;
    const parts: Buffer[] = [];
    if (this.o.timestamps) parts.push(Buffer.from(dockerTimestamp(time) + " "));
    parts.push(text);
    if (newline) parts.push(Buffer.from("\n"));
    const payload = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    chunks.push(this.o.tty ? payload : frame(stream, payload));
  }
}

export function inWindow(r: LogRecord, o: LogReadOptions): boolean {
  if (o.sinceMs !== undefined && r.timeMs < o.sinceMs) return false;
  if (o.untilMs !== undefined && r.timeMs > o.untilMs) return false;
  return true;
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
 * Follows a log file from an offset, calling onRecords as conmon appends. stop() reads what
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
      // conmon creates it when the container starts; fs.watch cannot watch a missing file.
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
