import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { PierError, invalidParameter } from "../errdefs/index.js";
import type { Logger } from "../lib/index.js";
import { messageOf, statusOf } from "./errors.js";
import { jsonReply, sendJSON, writeReply, type Reply } from "./http.js";
import { RouteTable } from "./routetable.js";

export const API_VERSION = "1.45";
export const MIN_API_VERSION = "1.24";

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (or the newest when unversioned), e.g. 1.45 */
  version: number;
}

/** A hijacked request: the client asked to upgrade the connection to a raw stream. */
export interface HijackCtx {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  params: Record<string, string>;
  query: URLSearchParams;
  version: number;
  /** True when the client sent Upgrade (answer 101); old clients get 200 and a raw stream. */
  upgrade: boolean;
}

/** What a fast route sees: no request or response object, only what the URL says. */
export interface FastCtx {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  version: number;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;
/**
 * A route that answers at once with a whole Reply. node:http requests reach it through
 * `handle` (which writes the Reply), and the fast path (fast-http.ts) through `answerFast`,
 * so the route's logic exists once and both paths send the same bytes.
 */
export type FastHandler = (ctx: FastCtx) => Reply;
/** One of the two kinds of route. */
interface Route {
  handler?: Handler;
  fast?: FastHandler;
}
export type HijackHandler = (ctx: HijackCtx) => Promise<void> | void;
type Method = "GET" | "HEAD" | "POST" | "PUT" | "DELETE";

const versionNumber = (v: string) => {
  const dot = v.indexOf(".");
  return Number(v.slice(0, dot)) + Number(v.slice(dot + 1)) / 100;
};
/** The request's version as the modules below the API write it ("1.41"): versionNumber's inverse. */
export const apiVersionString = (v: number): string => v.toFixed(2);
const NEWEST = versionNumber(API_VERSION);
const OLDEST = versionNumber(MIN_API_VERSION);
const VERSIONED = /^\/v(\d+\.\d+)(\/.*)?$/;
const NO_QUERY = new URLSearchParams();

/**
 * Routes for the Docker API: one table for ordinary requests and one for hijacked ones.
 * Paths may carry a /vX.Y prefix; unknown versions get Docker's 400 message.
 */
export class Router {
  private readonly routes = new RouteTable<Route>();
  private readonly hijacks = new RouteTable<HijackHandler>();

  constructor(private readonly log: Logger) {}

  on(method: Method | Method[], path: string, handler: Handler): this {
    for (const m of Array.isArray(method) ? method : [method]) this.routes.add(m, path, { handler });
    return this;
  }

  /** A route whose answer is a Reply computed synchronously from the URL alone (see FastHandler). */
  onFast(method: Method | Method[], path: string, fast: FastHandler): this {
    for (const m of Array.isArray(method) ? method : [method]) this.routes.add(m, path, { fast });
    return this;
  }

  onHijack(path: string, handler: HijackHandler): this {
    this.hijacks.add("POST", path, handler);
    return this;
  }

  /** Parse "/v1.41/containers/json?x" → path, version, query; throws 400 for bad versions. */
  private parse(url: string): { path: string; query: URLSearchParams; version: number } {
    const q = url.indexOf("?");
    let p = q >= 0 ? url.slice(0, q) : url;
    // Most requests carry no query string (ping, inspect): they share one empty, frozen-by-
    // convention instance instead of building one each (handlers only read the query).
    const query = q >= 0 ? new URLSearchParams(url.slice(q + 1)) : NO_QUERY;
    let version = NEWEST;
    const m = p.startsWith("/v") ? VERSIONED.exec(p) : null;
    if (m) {
      const v = versionNumber(m[1]!);
      if (v > NEWEST) {
        throw invalidParameter(`client version ${m[1]} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      if (v < OLDEST) {
        throw invalidParameter(`client version ${m[1]} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      version = v;
      p = m[2] ?? "/";
    }
    return { path: p, query, version };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = this.log.enabled("debug") ? performance.now() : 0;
    try {
      const { path, query, version } = this.parse(req.url ?? "/");
      const found = this.routes.find(req.method ?? "GET", path);
      if (!found) {
        if (this.routes.hasPath(path)) sendJSON(res, 405, { message: "method not allowed" });
        else sendJSON(res, 404, { message: "page not found" });
        return;
      }
      const params = decodeParams(found.params);
      const route = found.handler;
      if (route.fast) writeReply(res, route.fast({ method: req.method!, params, query, version }));
      else await route.handler!({ req, res, params, query, version });
    } catch (err) {
      this.fail(res, err, req);
    } finally {
      if (this.log.enabled("debug")) this.logRequest(req.method, req.url, res.statusCode, started);
    }
  }

  /**
   * The fast path's way in: the Reply of a fast route for this GET/HEAD, errors included as
   * node:http would send them; undefined when the request is not for a fast route (or its URL
   * does not parse: bad versions and unknown paths), so that node:http serves it as ever.
   */
  answerFast(method: string, url: string): Reply | undefined {
    const started = this.log.enabled("debug") ? performance.now() : 0;
    let parsed;
    try {
      parsed = this.parse(url);
    } catch {
      return undefined;
    }
    const found = this.routes.find(method, parsed.path);
    const fast = found?.handler.fast;
    if (!fast) return undefined;
    let reply: Reply;
    try {
      reply = fast({ method, params: decodeParams(found.params), query: parsed.query, version: parsed.version });
    } catch (err) {
      reply = this.errorReply(err, method, url);
    }
    if (this.log.enabled("debug")) this.logRequest(method, url, reply.status, started);
    return reply;
  }

  private logRequest(method: string | undefined, url: string | undefined, status: number, started: number): void {
    this.log.debug("request", { method, url, status, ms: performance.now() - started });
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upgrade = true): Promise<boolean> {
    let parsed;
    try {
      parsed = this.parse(req.url ?? "/");
    } catch (err) {
      writeRawError(socket, err);
      return true;
    }
    const found = this.hijacks.find("POST", parsed.path);
    if (!found) return false;
    try {
      await found.handler({ req, socket, head, params: decodeParams(found.params), query: parsed.query, version: parsed.version, upgrade });
    } catch (err) {
      writeRawError(socket, err);
    }
    return true;
  }

  /** Is this a hijack route? Used to serve old clients that do not send Upgrade. */
  findHijack(url: string): boolean {
    try {
      return !!this.hijacks.find("POST", this.parse(url).path);
    } catch {
      return false;
    }
  }

  /** The answer to a request that failed before its response began (logged when it is ours, 5xx). */
  private errorReply(err: unknown, method: string | undefined, url: string | undefined): Reply {
    const status = statusOf(err);
    if (status >= 500) this.log.error("request failed", { method, url, err: messageOf(err), stack: (err as Error)?.stack });
    // 304 (start/stop of a container already so) has neither body nor Content-Length.
    return status === 304 ? { status, headers: [] } : jsonReply(status, { message: messageOf(err) });
  }

  private fail(res: ServerResponse, err: unknown, req: IncomingMessage): void {
    if (res.headersSent) {
      const status = statusOf(err);
      if (status >= 500) this.log.error("request failed", { method: req.method, url: req.url, err: messageOf(err), stack: (err as Error)?.stack });
      // The response had begun (a stream): errors go inside it, as Docker does.
      if (!res.writableEnded) {
        res.end(JSON.stringify({ error: messageOf(err), errorDetail: { message: messageOf(err) } }) + "\n");
      }
      return;
    }
    writeReply(res, this.errorReply(err, req.method, req.url));
  }
}

function decodeParams(p: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in p) out[k] = safeDecode(p[k]!);
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function writeRawError(socket: Duplex, err: unknown): void {
  const status = err instanceof PierError ? statusOf(err) : 500;
  const body = JSON.stringify({ message: messageOf(err) }) + "\n";
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? "Not Found" : status === 409 ? "Conflict" : status === 400 ? "Bad Request" : "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
