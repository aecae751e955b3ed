import http from "node:http";
import { Duplex, Readable } from "node:stream";
import { Demuxer } from "../lib/index.js";
import { ApiError, ConnectionError, StreamError, isConnectFailure, messageFromBody } from "./errors.js";
import { parseHost, type Endpoint } from "./host.js";
import { JsonStreamDecoder } from "./json-stream.js";

/** The API version Pier speaks; lowered to the daemon's when the daemon is older. */
export const CLIENT_API_VERSION = "1.45";

export type QueryValue = string | number | boolean | undefined | null | readonly string[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (tar streams for load/import/build). */
  rawBody?: Readable | Buffer | string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The whole body as text, or parsed as JSON (for answers read in one piece later, like wait). */
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
}

/** A hijacked connection (attach, exec start): read the container's output, write its stdin. */
export interface HijackedConnection {
  /** Output from the daemon; also writable for stdin when the daemon upgraded the connection. */
  stream: Duplex;
  /** True when the daemon answered 101 and stdin may be written. */
  upgraded: boolean;
  /** "application/vnd.docker.raw-stream" (tty) or "application/vnd.docker.multiplexed-stream". */
  contentType: string;
}

/** Encode query values as the Go client does: booleans as 1/0, undefined and null dropped. */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return "";
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const v = query[key];
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? (v as readonly string[]) : [typeof v === "boolean" ? (v ? "1" : "0") : String(v)];
    for (const s of values) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(s)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** A whole body as UTF-8 text. */
async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** A client for the Docker Engine API over a unix socket or TCP. */
export class ApiClient {
  readonly host: string;
  readonly endpoint: Endpoint;
  /**
   * node:http with keep-alive rather than undici: undici's many CommonJS files and its wasm
   * HTTP parser took ~150 ms of every `pier` command's start-up.
   */
  private readonly agent: http.Agent;
  private version: string | undefined;
  private negotiation: Promise<string> | undefined;

  constructor(host: string, options: { apiVersion?: string } = {}) {
    this.host = host;
    this.endpoint = parseHost(host);
    this.version = options.apiVersion;
    this.agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 4_000 });
  }

  /** Where requests go: the socket path, or host and port. */
  private target(): http.RequestOptions {
    return this.endpoint.kind === "unix"
      ? { socketPath: this.endpoint.socketPath, host: "localhost" }
      : { host: this.endpoint.hostname, port: this.endpoint.port };
  }

  private hostHeader(): string {
    if (this.endpoint.kind === "unix") return "localhost";
    const h = this.endpoint.hostname.includes(":") ? `[${this.endpoint.hostname}]` : this.endpoint.hostname;
    return `${h}:${this.endpoint.port}`;
  }

  /** The API version in use: ours, or the daemon's when it is older (negotiated once via /_ping). */
  apiVersion(): Promise<string> {
    if (this.version) return Promise.resolve(this.version);
    this.negotiation ??= this.ping().then((info) => {
      const server = info.apiVersion || "1.24";
      this.version = compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
      return this.version;
    });
    return this.negotiation;
  }

  /** GET /_ping: the daemon's API version and OS type. */
  async ping(): Promise<{ apiVersion?: string; osType?: string; body: string }> {
    const res = await this.dispatch({ method: "GET", path: "/_ping", headers: {} });
    const body = await readText(res.body);
    const header = (name: string) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    if (res.statusCode >= 400) throw new ApiError(res.statusCode, messageFromBody(res.statusCode, body, "/_ping"));
    return { apiVersion: header("api-version"), osType: header("ostype"), body };
  }

  private dispatch(opts: { method: string; path: string; headers: Record<string, string>; body?: Readable | Buffer | string; signal?: AbortSignal }): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request({ ...this.target(), agent: this.agent, method: opts.method, path: opts.path, headers: opts.headers, signal: opts.signal }, (res) => {
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body: res,
          text: () => readText(res),
          json: async <T>() => JSON.parse(await readText(res)) as T,
        });
      });
      req.on("error", (err) => {
        if (isConnectFailure(err) || isConnectFailure((err as { cause?: unknown })?.cause)) reject(new ConnectionError(this.host, err));
        else reject(err);
      });
      const body = opts.body;
      if (body instanceof Readable) {
        body.on("error", (err) => req.destroy(err));
        body.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  private async versionedPath(path: string, query?: Query): Promise<string> {
    const version = await this.apiVersion();
    return `/v${version}${path}${encodeQuery(query)}`;
  }

  /** Send a request; an answer of 400 or more becomes an ApiError with the daemon's message. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const fullPath = await this.versionedPath(path, options.query);
    const headers: Record<string, string> = { "user-agent": "Pier-Client", ...options.headers };
    let body: Readable | Buffer | string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    } else if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers["content-type"] ??= "application/x-tar";
    }
    const res = await this.dispatch({ method, path: fullPath, headers, body, signal: options.signal });
    if (res.statusCode >= 400) {
      const text = await readText(res.body).catch(() => "");
      throw new ApiError(res.statusCode, messageFromBody(res.statusCode, text, fullPath));
    }
    return res;
  }

  /** A request whose answer is JSON (or empty: then undefined). */
  async json<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options);
    const text = await readText(res.body);
    if (text.trim() === "") return undefined as T;
    return JSON.parse(text) as T;
  }

  /** Both the parsed JSON and its raw text (inspect keeps the daemon's key order). */
  async jsonWithRaw<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<{ value: T; raw: string }> {
    const res = await this.request(method, path, options);
    const raw = await readText(res.body);
    return { value: JSON.parse(raw) as T, raw };
  }

  get<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.json<T>("GET", path, { query });
  }

  post<T = unknown>(path: string, query?: Query, body?: unknown): Promise<T> {
    return this.json<T>("POST", path, { query, body });
  }

  delete<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.json<T>("DELETE", path, { query });
  }

  /**
   * A streaming JSON answer (pull, push, load, build, events): onMessage sees each object.
   * An `error` inside the stream rejects with a StreamError unless onMessage handles it.
   */
  async jsonLines(
    method: string,
    path: string,
    options: RequestOptions,
    onMessage: (msg: Record<string, unknown>) => void,
    decodeOptions: { lossless?: boolean } = {},
  ): Promise<void> {
    const res = await this.request(method, path, options);
    const decoder = new JsonStreamDecoder(decodeOptions.lossless);
    for await (const chunk of res.body) {
      decoder.push(chunk as Buffer, (v) => onMessage(v as Record<string, unknown>));
    }
  }

  /** A raw byte stream (logs, export, save). */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<Readable> {
    const res = await this.request(method, path, options);
    return res.body;
  }

  /**
   * A hijacked connection: `Connection: Upgrade`, `Upgrade: tcp`, expecting 101. Daemons that
   * answer 200 instead (old protocol) still stream output, but stdin cannot be sent.
   */
  async hijack(path: string, query?: Query, body?: unknown): Promise<HijackedConnection> {
    const fullPath = await this.versionedPath(path, query);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {
      Connection: "Upgrade",
      Upgrade: "tcp",
      "User-Agent": "Pier-Client",
      "Content-Type": payload ? "application/json" : "text/plain",
      "Content-Length": payload ? payload.length : 0,
    };
    return new Promise<HijackedConnection>((resolve, reject) => {
      const req = http.request({ ...this.target(), method: "POST", path: fullPath, headers, agent: false });
      req.on("upgrade", (res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve({ stream: socket, upgraded: true, contentType: String(res.headers["content-type"] ?? "") });
      });
      req.on("response", (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const status = res.statusCode ?? 500;
            reject(new ApiError(status, messageFromBody(status, Buffer.concat(chunks).toString(), fullPath)));
          });
          res.on("error", reject);
          return;
        }
        const duplex = Duplex.from(res);
        resolve({ stream: duplex, upgraded: false, contentType: String(res.headers["content-type"] ?? "") });
      });
      req.on("error", (err) => reject(isConnectFailure(err) ? new ConnectionError(this.host, err) : err));
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Close idle connections so the process can exit (open streams go on). */
  async close(): Promise<void> {
    for (const list of Object.values(this.agent.freeSockets)) for (const sock of list ?? []) sock.destroy();
  }

  /** Destroy everything at once (interrupts open streams). */
  async destroy(): Promise<void> {
    this.agent.destroy();
  }
}

/**
 * Copy a multiplexed stream to stdout/stderr by its 8-byte frame headers; resolves at the end.
 * With a tty the stream is raw and goes to stdout as is.
 */
export async function copyOutput(
  source: Readable,
  tty: boolean,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): Promise<void> {
  const demux = new Demuxer();
  for await (const chunk of source) {
    const buf = chunk as Buffer;
    if (tty) {
      await writeAll(stdout, buf);
      continue;
    }
    const frames: Array<[number, Buffer]> = [];
    demux.push(buf, (stream, payload) => frames.push([stream, Buffer.from(payload)]));
    for (const [stream, payload] of frames) {
      if (stream === 3) throw new StreamError(payload.toString().trim());
      await writeAll(stream === 2 ? stderr : stdout, payload);
    }
  }
}

function writeAll(out: NodeJS.WritableStream, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (out.write(data)) resolve();
    else out.once("drain", () => resolve());
  });
}
