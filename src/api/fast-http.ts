import * as net from "node:net";
import { STATUS_CODES, type Server as HttpServer } from "node:http";
import type { Reply } from "./http.js";

/**
 * An HTTP/1.1 fast path in front of node:http for the hot, simple requests (issue 2's
 * api-latency benchmark: `/_ping`, `/containers/json`, `/containers/{id}/json`).
 *
 * Why: pierd is one JS thread. On /_ping, node:http's per-request objects (IncomingMessage,
 * ServerResponse, header maps) and its two writes per response were most of pierd's CPU;
 * Docker's Go server answered ~1.3x as many pings. A request that is a bare GET or HEAD with no
 * body needs none of that: its head is read here and its Reply (the same one the router's
 * node:http path writes, `Router.answerFast`) goes out in one write, byte for byte what
 * node:http sends (Date and Connection included).
 *
 * Every connection starts here. The first request that is not simple — a method other than
 * GET/HEAD, a body, Upgrade, Expect, anything this reader is not sure of — or that is not for
 * a fast route hands the connection to node:http for good: the unread bytes go back into the
 * socket (`unshift`) and the socket is given to the http.Server as a new connection (the way
 * its docs allow), so bodies, hijacks, streams and errors keep node:http's behaviour exactly.
 */

/** Heads longer than this are node:http's to judge (its own limit is 16 KiB). */
export const MAX_FAST_HEAD = 8192;

/** A request the fast path may answer itself. */
export interface SimpleRequest {
  method: "GET" | "HEAD";
  url: string;
  /** HTTP/1.0 (0) or 1.1 (1) */
  minor: 0 | 1;
  /** What llhttp would decide: 1.1 unless `Connection: close`, 1.0 only with `keep-alive`. */
  keepAlive: boolean;
}

export type HeadResult =
  /** No whole head yet: wait for more bytes. */
  | { kind: "incomplete" }
  /** A simple request whose head ends at `end` (the offset after its blank line). */
  | { kind: "simple"; req: SimpleRequest; end: number }
  /** Anything else: node:http's. */
  | { kind: "other" };

const INCOMPLETE: HeadResult = { kind: "incomplete" };
const OTHER: HeadResult = { kind: "other" };
const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.([01])$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters (HTAB aside) and lone CR/LF make a head node:http's to judge. */
const BAD_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * What the last heads read said, by their text: a client on a kept-alive connection sends the
 * same head again and again (the docker CLI, docker-py, a benchmark), and reading one is a
 * pure function of its text. Small (heads up to 1 KiB, 64 of them), and emptied when full.
 */
const known = new Map<string, SimpleRequest | undefined>();
const KNOWN_MAX = 64;
const KNOWN_HEAD_MAX = 1024;

/**
 * Read one request head from `text` (bytes as latin1) at `start`. Strict on purpose: whatever
 * it does not recognise as plainly simple is "other", and node:http answers it as before.
 */
export function readHead(text: string, start: number): HeadResult {
  const blank = text.indexOf("\r\n\r\n", start);
  if (blank < 0) return text.length - start > MAX_FAST_HEAD ? OTHER : INCOMPLETE;
  const end = blank + 4;
  if (end - start > MAX_FAST_HEAD) return OTHER;
  const headText = start === 0 && end === text.length ? text : text.slice(start, end);
  let req = known.get(headText);
  if (req === undefined && !known.has(headText)) {
    req = parseHead(headText);
    if (headText.length <= KNOWN_HEAD_MAX) {
      if (known.size >= KNOWN_MAX) known.clear();
      known.set(headText, req);
    }
  }
  return req ? { kind: "simple", req, end } : OTHER;
}

/** A whole head (request line to blank line) → the simple request it is, if it is one. */
function parseHead(text: string): SimpleRequest | undefined {
  const blank = text.length - 4;
  let eol = text.indexOf("\r\n");
  const m = REQUEST_LINE.exec(text.slice(0, eol));
  if (!m) return undefined;
  const minor = m[3] === "1" ? 1 : 0;
  let hosts = 0;
  let connections = 0;
  let close = false;
  let keepAliveToken = false;
  while (eol < blank) {
    const from = eol + 2;
    eol = text.indexOf("\r\n", from);
    const line = text.slice(from, eol);
    // obs-fold (a line that continues the one before) is node:http's too.
    if (BAD_CHAR.test(line) || line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) return undefined;
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return undefined;
    switch (name.toLowerCase()) {
      case "host":
        hosts++;
        break;
      case "content-length":
        // An empty body may be announced; any other length means a body to read.
        if (line.slice(colon + 1).replace(OWS, "") !== "0") return undefined;
        break;
      case "connection": {
        if (++connections > 1) return undefined;
        for (const t of line.slice(colon + 1).split(",")) {
          const token = t.replace(OWS, "").toLowerCase();
          if (token === "close") close = true;
          else if (token === "keep-alive") keepAliveToken = true;
          else return undefined; // upgrade, or a hop-by-hop header list
        }
        break;
      }
      // A body, a protocol switch, a 100-continue, or TE (which changes node's 1.0 framing).
      case "transfer-encoding":
      case "upgrade":
      case "expect":
      case "te":
        return undefined;
    }
  }
  // node:http answers an HTTP/1.1 request without exactly one Host with 400.
  if (hosts > 1 || (minor === 1 && hosts === 0)) return undefined;
  if (close && keepAliveToken) return undefined;
  const keepAlive = minor === 1 ? !close : keepAliveToken;
  return { method: m[1] as "GET" | "HEAD", url: m[2]!, minor, keepAlive };
}

let dateCache: string | undefined;
/** The Date header's value, made once a second as node:http makes it. */
function httpDate(): string {
  if (dateCache === undefined) {
    const d = new Date();
    dateCache = d.toUTCString();
    setTimeout(() => (dateCache = undefined), 1000 - d.getMilliseconds()).unref();
  }
  return dateCache;
}

/** "Name: value\r\n" lines of a flat list. */
export function renderHeaders(flat: readonly string[]): string {
  let out = "";
  for (let i = 0; i < flat.length; i += 2) out += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return out;
}

export interface SerializedReply {
  data: string | Buffer;
  encoding: "utf8" | "latin1";
  /** False when node:http would close the connection after it. */
  keepAlive: boolean;
}

/**
 * A Reply as node:http's ServerResponse writes it (`_storeHeader`): status line, the common
 * headers, the reply's own, Date, then Connection — keep-alive when the request allows it
 * and the length is known (a Content-Length, or no body at all under HTTP/1.1), else close.
 * node:http sends head and a string body as one utf8 string, a bare head as latin1; a Buffer
 * body goes out here with the head in one Buffer (node:http writes the two in turn).
 */
export function serializeReply(reply: Reply, commonHeaders: string, req: SimpleRequest): SerializedReply {
  let hasLength = false;
  for (let i = 0; i < reply.headers.length; i += 2) {
    if (reply.headers[i]!.length === 14 && reply.headers[i]!.toLowerCase() === "content-length") hasLength = true;
  }
  const keepAlive = req.keepAlive && (hasLength || req.minor === 1);
  const head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? "unknown"}\r\n${commonHeaders}${renderHeaders(reply.headers)}Date: ${httpDate()}\r\nConnection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
  const withBody = req.method !== "HEAD" && reply.body !== undefined && reply.status !== 204 && reply.status !== 304;
  if (!withBody) return { data: head, encoding: "latin1", keepAlive };
  if (typeof reply.body === "string") return { data: head + reply.body, encoding: "utf8", keepAlive };
  const body = reply.body!;
  const data = Buffer.allocUnsafe(head.length + body.length);
  data.write(head, 0, "latin1");
  body.copy(data, head.length);
  return { data, encoding: "latin1", keepAlive };
}

export interface FastPathOptions {
  /** The Reply for a simple request, or undefined to hand the connection to node:http. */
  answer(method: string, url: string): Reply | undefined;
  /** Headers every answer carries first (Docker's Api-Version, Server, …), flat. */
  commonHeaders: readonly string[];
  /** Called for every request answered here (the daemon's idle timer). */
  onRequest?: () => void;
}

/**
 * The listening server: a net.Server whose connections are read here first and handed to
 * `httpServer` at their first request that is not for the fast path. `closeAllConnections`
 * ends every connection it accepted, whichever path serves it.
 */
export class FastHttpServer extends net.Server {
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly httpServer: HttpServer, opts: FastPathOptions) {
    // The options node:http's own server listens with: a half-closed client still gets its
    // answers (node:http ends the socket itself).
    super({ allowHalfOpen: true, noDelay: true });
    const common = renderHeaders(opts.commonHeaders);
    this.on("connection", (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      new FastConnection(socket, httpServer, common, opts);
    });
  }

  closeAllConnections(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/** One connection while the fast path serves it. */
class FastConnection {
  /** Bytes received and not yet answered, as latin1 (which gives the same bytes back). */
  private pending = "";
  private done = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly httpServer: HttpServer,
    private readonly common: string,
    private readonly opts: FastPathOptions,
  ) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
  }

  private readonly onData = (chunk: Buffer): void => {
    const text = this.pending === "" ? chunk.toString("latin1") : this.pending + chunk.toString("latin1");
    const out: SerializedReply[] = [];
    let pos = 0;
    for (;;) {
      const head = readHead(text, pos);
      if (head.kind === "incomplete") break;
      const reply = head.kind === "simple" ? this.opts.answer(head.req.method, head.req.url) : undefined;
      if (!reply || head.kind !== "simple") {
        this.write(out);
        this.handOver(text.slice(pos));
        return;
      }
      this.opts.onRequest?.();
      const r = serializeReply(reply, this.common, head.req);
      out.push(r);
      pos = head.end;
      if (!r.keepAlive) {
        // As node:http: the answer goes out, the connection ends, later requests are not read.
        this.write(out);
        this.stop();
        this.socket.end();
        return;
      }
    }
    this.pending = pos === text.length ? "" : text.slice(pos);
    this.write(out);
  };

  /** All answers of one read in one write (a pipelining client gets them in one writev). */
  private write(out: SerializedReply[]): void {
    if (out.length === 0 || this.socket.destroyed) return;
    let ok = true;
    if (out.length === 1) ok = this.socket.write(out[0]!.data, out[0]!.encoding);
    else {
      this.socket.cork();
      for (const r of out) ok = this.socket.write(r.data, r.encoding);
      this.socket.uncork();
    }
    // A client that sends and does not read: stop reading until it does, as node:http does.
    if (!ok && !this.done) {
      this.socket.pause();
      this.socket.once("drain", () => {
        if (!this.done) this.socket.resume();
      });
    }
  }

  /** No more reading here; the error handler stays unless node:http takes the socket. */
  private stop(keepErrorHandler = true): void {
    this.done = true;
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    if (!keepErrorHandler) this.socket.off("error", this.onError);
  }

  /** node:http serves the connection from here on, starting with the bytes not answered. */
  private handOver(rest: string): void {
    // Paused, so that the bytes put back wait in the socket's buffer until node:http listens;
    // the resume then hands them to its parser (on the next tick, before any new read).
    this.socket.pause();
    this.stop(false);
    if (rest !== "") this.socket.unshift(Buffer.from(rest, "latin1"));
    this.httpServer.emit("connection", this.socket);
    this.socket.resume();
  }

  private readonly onEnd = (): void => {
    // The client is done sending (half-close): answers already written still go out.
    this.stop();
    this.socket.end();
  };

  private readonly onError = (): void => {
    // A client that hung up mid-answer (EPIPE, ECONNRESET): nothing to tell anyone.
    this.socket.destroy();
  };
}
