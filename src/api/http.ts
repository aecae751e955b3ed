import type { IncomingMessage, ServerResponse } from "node:http";
import { invalidParameter } from "../errdefs/index.js";

export const MAX_JSON_BODY = 16 * 1024 * 1024;

/** Docker's boolean query rule: only "", "0", "no", "false", "none" (and absence) are false. */
export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return !["", "0", "no", "false", "none"].includes(v.toLowerCase());
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalidParameter(`invalid value for ${name}: ${v}`);
  return n;
}

/**
 * Filters come as JSON: Go clients send {"label":{"a=b":true}}, docker-py sends {"label":["a=b"]}.
 * Both become key → values.
 */
export function filtersParam(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get("filters");
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidParameter(`invalid filter: ${raw}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalidParameter(`invalid filter: ${raw}`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (typeof v === "object" && v !== null) out[k] = Object.entries(v).filter(([, on]) => on).map(([x]) => x);
    else if (typeof v === "string") out[k] = [v];
    else throw invalidParameter(`invalid filter: ${raw}`);
  }
  return out;
}

/** Refuse filter keys an endpoint does not know, as Docker does. */
export function checkFilterKeys(filters: Record<string, string[]>, allowed: string[]): void {
  for (const k of Object.keys(filters)) {
    if (!allowed.includes(k)) throw invalidParameter(`invalid filter '${k}'`);
  }
}

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw invalidParameter("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON body; an empty one is `undefined`. Wrong content types and bad JSON are 400. */
export async function readJSON<T>(req: IncomingMessage): Promise<T | undefined> {
  const body = await readBody(req);
  if (body.length === 0) return undefined;
  const ct = req.headers["content-type"];
  if (ct && !/^application\/json\b/i.test(ct) && !/^text\/plain\b/i.test(ct)) {
    throw invalidParameter(`unsupported Content-Type header (${ct}): must be 'application/json'`);
  }
  try {
    return JSON.parse(body.toString("utf8")) as T;
  } catch (err) {
    throw invalidParameter(`invalid JSON: ${(err as Error).message}`);
  }
}

/**
 * A whole answer made without a response object: what the fast routes return, so that
 * node:http (`writeReply`) and the fast path (fast-http.ts) send the same thing. `headers` is
 * a flat name, value list in the order they go out (the Docker headers come first, added by
 * whoever writes it); a reply with a body carries its Content-Length among them.
 */
export interface Reply {
  status: number;
  headers: readonly string[];
  body?: string | Buffer;
}

/**
 * A JSON answer. The body is encoded once, here: its length comes with it, and writers send
 * the bytes as they are (a string body was measured with a rope flatten, a UTF-8 length pass
 * and a UTF-8 encoding pass per inspect, a third of its cost).
 */
export function jsonReply(status: number, body: unknown): Reply {
  const data = Buffer.from(JSON.stringify(body) + "\n");
  return { status, headers: ["Content-Type", "application/json", "Content-Length", String(data.length)], body: data };
}

/** Send a Reply through node:http (a HEAD answer drops the body there by itself). */
export function writeReply(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers as string[]);
  res.end(reply.body);
}

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  writeReply(res, jsonReply(status, body));
}

export function sendNoContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** Begin a JSON-lines stream (events, pull, load): headers go out at once. */
export function startJSONStream(res: ServerResponse): (obj: unknown) => void {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.flushHeaders();
  return (obj) => {
    if (!res.writableEnded) res.write(JSON.stringify(obj) + "\n");
  };
}
