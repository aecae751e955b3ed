// A hijacked attach to a container: its output to our stdout/stderr (demultiplexed unless tty),
// our stdin to it (raw mode on a terminal with -t), resizes on SIGWINCH, signals proxied.

import { copyOutput, type HijackedConnection } from "../client/index.js";
import type { CliContext } from "./cli-context.js";

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  detachKeys?: string;
}

export interface AttachSession {
  /** Resolves when the daemon closes the output (the container ended or we detached). */
  done: Promise<void>;
  /** True once the user typed the detach key sequence. */
  readonly detached: boolean;
  /** Stop reading stdin and restore the terminal. */
  close(): void;
}

/** POST /containers/{id}/attach, hijacked; call before start so no output is lost. */
export async function attachContainer(cli: CliContext, id: string, opts: AttachOptions): Promise<AttachSession> {
  const conn: HijackedConnection = await cli.client.hijack(`/containers/${encodeURIComponent(id)}/attach`, {
    stream: true,
    stdin: opts.stdin || undefined,
    stdout: opts.stdout || undefined,
    stderr: opts.stderr || undefined,
    detachKeys: opts.detachKeys,
  });
  const { stdin, stdout, stderr } = cli.streams;
  let rawSet = false;
  let closed = false;
  let detached = false;
  const escape = opts.tty ? parseDetachKeys(opts.detachKeys ?? "ctrl-p,ctrl-q") : [];
  let held: number[] = [];
  const send = (data: Buffer) => {
    if (data.length && !conn.stream.destroyed && conn.stream.writable) conn.stream.write(data);
  };
  const onData = (chunk: Buffer) => {
    if (escape.length === 0) return send(chunk);
    // Hold back bytes that could begin the detach sequence; let them go on a mismatch.
    const pass: number[] = [];
    for (const byte of chunk) {
      if (byte === escape[held.length]) {
        held.push(byte);
        if (held.length === escape.length) {
          detached = true;
          send(Buffer.from(pass));
          conn.stream.destroy();
          return;
        }
        continue;
      }
      pass.push(...held, byte);
      held = [];
    }
    send(Buffer.from(pass));
  };
  const onEnd = () => {
    // Half-close: the container sees EOF on its stdin and may go on writing output.
    if (!conn.stream.destroyed && conn.stream.writable) conn.stream.end();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    if (opts.stdin) {
      stdin.removeListener("data", onData);
      stdin.removeListener("end", onEnd);
      stdin.pause();
      (stdin as unknown as { unref?: () => void }).unref?.();
    }
    if (rawSet) stdin.setRawMode?.(false);
  };
  if (opts.stdin && conn.upgraded) {
    if (opts.tty && stdin.isTTY && stdin.setRawMode) {
      stdin.setRawMode(true);
      rawSet = true;
    }
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  }
  const done = copyOutput(conn.stream, opts.tty, stdout, stderr)
    .catch((err: NodeJS.ErrnoException) => {
      // A reset after the container ended is the normal end of a hijacked stream.
      if (err?.code === "ECONNRESET" || err?.code === "EPIPE" || detached) return;
      throw err;
    })
    .finally(close);
  return {
    done,
    close,
    get detached() {
      return detached;
    },
  };
}

/** "ctrl-p,ctrl-q" → the bytes [0x10, 0x11], as Docker's term.ToBytes reads detach keys. */
export function parseDetachKeys(keys: string): number[] {
  const out: number[] = [];
  for (const key of keys.split(",")) {
    const k = key.trim();
    if (k.length > 1 && k.toLowerCase().startsWith("ctrl-")) {
      const c = k.slice(5).toLowerCase();
      if (c.length !== 1) throw new Error(`Unknown character: '${k}'`);
      const code = c.charCodeAt(0);
      if (c >= "a" && c <= "z") out.push(code - 96);
      else if (c === "@") out.push(0);
      else if (c === "[") out.push(27);
      else if (c === "\\") out.push(28);
      else if (c === "]") out.push(29);
      else if (c === "^") out.push(30);
      else if (c === "_") out.push(31);
      else throw new Error(`Unknown character: '${k}'`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw new Error(`Unknown character: '${k}'`);
    }
  }
  return out;
}

/** Tell the daemon the terminal's size now and whenever it changes; returns a stop function. */
export function monitorTtySize(cli: CliContext, id: string, path: "containers" | "exec" = "containers"): () => void {
  const out = cli.streams.stdout;
  if (!out.isTTY) return () => undefined;
  const resize = () => {
    const h = out.rows ?? 0;
    const w = out.columns ?? 0;
    if (h === 0 && w === 0) return;
    cli.client.post(`/${path}/${encodeURIComponent(id)}/resize`, { h, w }).catch(() => undefined);
  };
  resize();
  process.on("SIGWINCH", resize);
  return () => process.removeListener("SIGWINCH", resize);
}

const PROXIED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/** Forward the signals we receive to the container (docker's --sig-proxy); returns a stop function. */
export function proxySignals(cli: CliContext, id: string): () => void {
  const handlers = PROXIED_SIGNALS.map((sig) => {
    const h = () => {
      cli.client.post(`/containers/${encodeURIComponent(id)}/kill`, { signal: sig }).catch(() => undefined);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
}
