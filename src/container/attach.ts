import { constants as fsc, promises as fsp } from "node:fs";
import type { Duplex } from "node:stream";
import { invalidParameter } from "../errdefs/index.js";
import { frame } from "../lib/index.js";
import { seqpacketClose, seqpacketConnect, seqpacketRead, seqpacketShutdown, seqpacketWrite } from "../sys/index.js";

// Interactive streams through the monitor's attach socket (SOCK_SEQPACKET, `<dir>/attach`): each
// message from the monitor is one byte naming the stream (2 stdout, 3 stderr; a tty's output is
// stdout) and the data; each message we send is stdin. A half-close of our side (shutdown
// SHUT_WR) makes the monitor close the process's stdin unless it runs with --leave-stdin-open.

/** the monitor reads at most 32767 bytes of a message (CONN_SOCK_BUF_SIZE - 1); stay well below. */
const STDIN_CHUNK = 8192;
/** the monitor sends at most its 8192-byte read buffer plus the stream byte. */
const READ_MAX = 65536;
const MONITOR_STDOUT = 2;
const MONITOR_STDERR = 3;

/** Docker's default detach keys, ctrl-p ctrl-q. */
export const DEFAULT_DETACH_KEYS = [0x10, 0x11];

/** "ctrl-p,ctrl-q" → bytes, as Docker's term.ToBytes reads detach keys; "" → the default. */
export function parseDetachKeys(keys: string | undefined): number[] {
  if (!keys) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const key of keys.split(",")) {
    const k = key.trim();
    if (k.length > 1 && k.toLowerCase().startsWith("ctrl-")) {
      const c = k.slice(5).toLowerCase();
      const code = c.charCodeAt(0);
      if (c.length === 1 && c >= "a" && c <= "z") out.push(code - 96);
      else if (c === "@") out.push(0);
      else if (c === "[") out.push(27);
      else if (c === "\\") out.push(28);
      else if (c === "]") out.push(29);
      else if (c === "^") out.push(30);
      else if (c === "_") out.push(31);
      else throw invalidParameter(`Invalid detach keys (${keys}) provided`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw invalidParameter(`Invalid detach keys (${keys}) provided`);
    }
  }
  return out;
}

export interface BridgeOptions {
  /** Raw output (tty) or Docker's multiplexed frames. */
  raw: boolean;
  /** Forward the client's bytes as the process's stdin. */
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /**
   * When the client half-closes (stdin EOF): "close-stdin" passes the EOF on and keeps the
   * output flowing (Docker's CloseStdin without a tty); "detach" ends the attach, the process
   * goes on (a tty, or a container whose stdin outlives attaches).
   */
  onStdinEnd: "close-stdin" | "detach";
  /** Detach key sequence (a tty's escape keys); undefined: none. */
  detachKeys?: number[];
  /** Client bytes read before the bridge began (the rest of the request head). */
  pending?: Buffer;
}

export type BridgeEnd = "output-ended" | "detached" | "client-gone";

/**
 * Joins a hijacked client connection and a monitor's attach socket. `ended` resolves once: when
 * the monitor closes the socket (the process ended and its output is all sent), when the client
 * detaches, or when the client goes away. The client is not ended by the bridge: the caller
 * records what it must (an exit code) and then calls `finish()`.
 */
export class AttachBridge {
  readonly ended: Promise<BridgeEnd>;
  private resolveEnded!: (how: BridgeEnd) => void;
  private closed = false;
  private held: number[] = [];
  private writing: Promise<void> = Promise.resolve();
  private stdinDone = false;

  constructor(private readonly client: Duplex, private readonly fd: number, private readonly o: BridgeOptions) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    client.on("error", () => this.end("client-gone"));
    client.on("close", () => this.end("client-gone"));
    if (o.stdin) {
      if (o.pending?.length) this.onInput(o.pending);
      client.on("data", (d: Buffer) => this.onInput(d));
      onceEnded(client, () => this.onInputEnd());
    } else {
      // Without stdin the client's bytes mean nothing; its half-close ends nothing either.
      client.on("data", () => {});
    }
    client.resume();
    void this.pumpOutput();
  }

  /** Let go of the monitor's socket, leaving the client connection to the caller. */
  detach(): void {
    this.release();
  }

  /** End the client connection (after the caller is done) and release the socket. */
  finish(): void {
    this.release();
    if (!this.client.destroyed) this.client.end();
  }

  private end(how: BridgeEnd): void {
    if (how !== "output-ended") this.release();
    this.resolveEnded(how);
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    seqpacketClose(this.fd);
  }

  private async pumpOutput(): Promise<void> {
    for (;;) {
      let msg: Buffer | null;
      try {
        msg = await seqpacketRead(this.fd, READ_MAX);
      } catch {
        msg = null;
      }
      if (msg === null) break;
      if (msg.length < 2) continue;
      const stream = msg[0];
      const data = msg.subarray(1);
      let out: Buffer | undefined;
      if (stream === MONITOR_STDOUT && this.o.stdout) out = this.o.raw ? data : frame(1, data);
      else if (stream === MONITOR_STDERR && this.o.stderr) out = this.o.raw ? data : frame(2, data);
      if (!out || this.client.destroyed || this.client.writableEnded) continue;
      if (!this.client.write(out)) {
        // The client reads slowly: stop reading the monitor (the process waits) until it drains.
        await new Promise<void>((resolve) => {
          const done = () => {
            this.client.off("drain", done);
            this.client.off("close", done);
            resolve();
          };
          this.client.on("drain", done);
          this.client.on("close", done);
        });
      }
    }
    this.end(this.closed ? "client-gone" : "output-ended");
  }

  private onInput(chunk: Buffer): void {
    if (this.closed || this.stdinDone) return;
    const keys = this.o.detachKeys;
    let pass: Buffer = chunk;
    if (keys && keys.length > 0) {
      // Hold back bytes that may begin the detach sequence; let them go on a mismatch.
      const out: number[] = [];
      for (const byte of chunk) {
        if (byte === keys[this.held.length]) {
          this.held.push(byte);
          if (this.held.length === keys.length) {
            this.held = [];
            this.send(Buffer.from(out));
            this.end("detached");
            return;
          }
          continue;
        }
        if (this.held.length) {
          out.push(...this.held);
          this.held = [];
          if (byte === keys[0]) {
            this.held.push(byte);
            continue;
          }
        }
        out.push(byte);
      }
      pass = Buffer.from(out);
    }
    this.send(pass);
  }

  private send(data: Buffer): void {
    if (data.length === 0) return;
    this.client.pause();
    for (let off = 0; off < data.length; off += STDIN_CHUNK) {
      const part = data.subarray(off, off + STDIN_CHUNK);
      this.writing = this.writing.then(() => (this.closed ? undefined : seqpacketWrite(this.fd, part))).catch(() => {});
    }
    void this.writing.then(() => {
      if (!this.client.destroyed) this.client.resume();
    });
  }

  private onInputEnd(): void {
    if (this.stdinDone) return;
    this.stdinDone = true;
    if (this.held.length) {
      this.send(Buffer.from(this.held));
      this.held = [];
    }
    if (this.o.onStdinEnd === "detach") {
      void this.writing.then(() => this.end("detached"));
      return;
    }
    void this.writing.then(() => {
      if (!this.closed) {
        try {
          seqpacketShutdown(this.fd, "write");
        } catch {
          // the monitor is gone already; the output side sees EOF.
        }
      }
    });
  }
}

/**
 * Call `cb` once the client's side has ended. A client that half-closes right after its
 * request may have ended before anyone listened (Node emitted 'end' on the upgraded socket
 * with no listener): then `readableEnded` is already true.
 */
export function onceEnded(stream: Duplex, cb: () => void): void {
  if (stream.readableEnded) queueMicrotask(cb);
  else stream.once("end", cb);
}

/** Connect to the monitor's attach socket in `dir`. */
export function connectAttachSocket(dir: string): number {
  return seqpacketConnect(`${dir}/attach`);
}

/**
 * Resize a tty held by the monitor: its control fifo `<dir>/ctl` takes "1 <height> <width>\n".
 * Returns false when nobody reads the fifo (the monitor is gone).
 */
export async function resizeMonitorTty(dir: string, height: number, width: number): Promise<boolean> {
  let fh;
  try {
    fh = await fsp.open(`${dir}/ctl`, fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    await fh.write(`1 ${height} ${width}\n`);
    return true;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}
