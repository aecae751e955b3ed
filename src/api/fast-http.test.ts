import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { FastHttpServer, MAX_FAST_HEAD, readHead, type HeadResult } from "./fast-http.js";
import { jsonReply, writeReply, type Reply } from "./http.js";

const head = (text: string, start = 0): HeadResult => readHead(text, start);
const simple = (text: string) => {
  const r = head(text);
  assert.equal(r.kind, "simple", `not simple: ${JSON.stringify(text)}`);
  return (r as Extract<HeadResult, { kind: "simple" }>).req;
};

describe("fast-http: reading request heads", () => {
  it("reads a plain GET and where its head ends", () => {
    const text = "GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: Docker-Client/28\r\n\r\n";
    const r = head(text);
    assert.deepEqual(r, { kind: "simple", req: { method: "GET", url: "/v1.41/containers/json?all=1", minor: 1, keepAlive: true }, end: text.length });
  });

  it("waits for a head split across reads, whatever the split", () => {
    const text = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n";
    for (let i = 0; i < text.length; i++) assert.deepEqual(head(text.slice(0, i)), { kind: "incomplete" }, `split at ${i}`);
    assert.equal(head(text).kind, "simple");
  });

  it("reads pipelined requests one after another", () => {
    const a = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n";
    const b = "HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const first = head(a + b + "GET /x");
    assert.equal(first.kind === "simple" && first.end, a.length);
    const second = head(a + b + "GET /x", a.length);
    assert.deepEqual(second, { kind: "simple", req: { method: "HEAD", url: "/_ping", minor: 1, keepAlive: false }, end: a.length + b.length });
    assert.deepEqual(head(a + b + "GET /x", a.length + b.length), { kind: "incomplete" });
  });

  it("leaves heads over the size limit to node:http, complete or not", () => {
    const big = `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(MAX_FAST_HEAD)}\r\n\r\n`;
    assert.equal(head(big).kind, "other");
    assert.equal(head(big.slice(0, MAX_FAST_HEAD + 10)).kind, "other");
  });

  it("reads header names in any case", () => {
    assert.equal(simple("GET /_ping HTTP/1.1\r\nHOST: x\r\ncOnNeCtIoN: Close\r\n\r\n").keepAlive, false);
    assert.equal(simple("GET /_ping HTTP/1.0\r\nconnection:Keep-Alive\r\n\r\n").keepAlive, true);
    assert.equal(simple("GET /_ping HTTP/1.1\r\nhost: x\r\ncontent-LENGTH: 0\r\n\r\n").keepAlive, true);
  });

  it("decides keep-alive as llhttp does", () => {
    assert.equal(simple("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
    assert.equal(simple("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive, true);
    assert.equal(simple("GET / HTTP/1.1\r\nHost: x\r\n\r\n").keepAlive, true);
    assert.equal(simple("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keepAlive, false);
  });

  it("hands over whatever may have a body, switch protocols or is not plain", () => {
    const others = [
      "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 0\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nTE: chunked\r\n\r\n",
      "GET /_ping HTTP/1.1\r\n\r\n", // 1.1 without Host: node:http's 400
      "GET /_ping HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", // obs-fold
      "GET /_ping HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", // bare LF
      "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close, keep-alive\r\n\r\n",
      "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: close\r\n\r\n",
      "GET /_ping HTTP/2.0\r\nHost: x\r\n\r\n",
      "GET http://x/_ping HTTP/1.1\r\nHost: x\r\n\r\n",
      "get /_ping HTTP/1.1\r\nHost: x\r\n\r\n",
      "DELETE /containers/x HTTP/1.1\r\nHost: x\r\n\r\n",
      "\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET  /_ping HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for (const t of others) assert.equal(head(t).kind, "other", JSON.stringify(t));
  });
});

// ---------------------------------------------------------------- the fast path against node:http

const COMMON = ["Api-Version", "1.45", "Server", "Test/1 (linux)"];
const FAST: Record<string, Reply> = {
  "/fast": { status: 200, headers: ["Content-Type", "text/plain; charset=utf-8", "Content-Length", "2"], body: "OK" },
  "/fast/json": jsonReply(200, { name: "é ünïcode", list: [1, 2, 3] }),
  "/fast/missing": jsonReply(404, { message: "No such container: x" }),
  "/fast/big": jsonReply(200, { data: "x".repeat(256 * 1024) }),
};
const answer = (method: string, url: string): Reply | undefined => (method === "GET" || url === "/fast" ? FAST[url] : undefined);

/** What both servers' node:http answers: the fast Reply, else the request echoed (body included). */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const r = answer(req.method!, req.url!) ?? jsonReply(200, { method: req.method, url: req.url, body: Buffer.concat(chunks).toString() });
    writeReply(res, { ...r, headers: [...COMMON, ...r.headers] });
  });
}

function httpServer(): http.Server {
  const s = http.createServer(handler);
  s.keepAliveTimeout = 0; // as pierd's
  return s;
}

async function listen(server: net.Server, dir: string, name: string): Promise<string> {
  const sock = path.join(dir, name);
  await new Promise<void>((res) => server.listen(sock, res));
  return sock;
}

/** Send the pieces (with a pause between, so each is its own read) and read until the server closes. */
function exchange(sock: string, pieces: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    const got: Buffer[] = [];
    c.on("data", (d) => got.push(d));
    c.on("error", reject);
    c.on("end", () => {
      c.end();
      resolve(Buffer.concat(got).toString("latin1"));
    });
    let i = 0;
    const next = () => {
      if (i < pieces.length) c.write(pieces[i++]!, "latin1", () => setTimeout(next, 20));
    };
    c.on("connect", next);
  });
}

const normalize = (raw: string) => raw.replace(/\r\nDate: [^\r]+\r\n/g, "\r\nDate: *\r\n");
const DATE = /\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/;

describe("fast-http: answers as node:http does", () => {
  let dir: string;
  let plainSock: string;
  let fastSock: string;
  let fast: FastHttpServer;
  let answered = 0;
  const servers: net.Server[] = [];

  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-fast-http-"));
    const plain = httpServer();
    fast = new FastHttpServer(httpServer(), { answer, commonHeaders: COMMON, onRequest: () => answered++ });
    servers.push(plain, fast);
    plainSock = await listen(plain, dir, "plain.sock");
    fastSock = await listen(fast, dir, "fast.sock");
  });
  after(async () => {
    fast.closeAllConnections();
    for (const s of servers) s.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  /** The same bytes in, the same bytes out (but the Date's second); returns the fast answer. */
  async function same(pieces: string[]): Promise<string> {
    const [a, b] = await Promise.all([exchange(plainSock, pieces), exchange(fastSock, pieces)]);
    assert.ok(a.length > 0, "node:http answered nothing");
    assert.equal(normalize(b), normalize(a));
    return b;
  }
  const get = (url: string, extra = "") => `GET ${url} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
  const close = "Connection: close\r\n";

  it("answers a GET and a HEAD with node:http's bytes, Date and Connection included", async () => {
    const before = answered;
    const raw = await same([get("/fast") + get("/fast/json") + get("/fast/missing") + `HEAD /fast HTTP/1.1\r\nHost: x\r\n${close}\r\n`]);
    assert.equal(answered - before, 4, "the fast path answered them");
    assert.match(raw, DATE);
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\nApi-Version: 1\.45\r\nServer: Test\/1 \(linux\)\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Length: 2\r\nDate: .*\r\nConnection: keep-alive\r\n\r\nOK/);
    assert.match(raw, /HTTP\/1\.1 404 Not Found\r\n/);
    assert.ok(raw.endsWith("Connection: close\r\n\r\n"), "HEAD has no body");
  });

  it("closes after Connection: close and reads nothing after it", async () => {
    await same([get("/fast", close)]);
    // A request after the close in the same read: node:http's parser fails on it ("Data after
    // Connection: close") and answers 400 alone; the fast path answers the first and ignores
    // the rest, as Docker's Go server and RFC 9112 9.6 do.
    const raw = await exchange(fastSock, [get("/fast", close) + get("/fast")]);
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n\r\nOK$/);
  });

  it("serves HTTP/1.0 with and without keep-alive", async () => {
    await same(["GET /fast HTTP/1.0\r\n\r\n"]);
    await same(["GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "GET /fast/json HTTP/1.0\r\n\r\n"]);
  });

  it("reads heads split across reads and pipelined in one", async () => {
    const all = get("/fast") + get("/fast/json") + get("/fast", close);
    await same([all.slice(0, 5), all.slice(5, 40), all.slice(40, 41), all.slice(41)]);
    await same([all]);
  });

  it("accepts mixed-case names, an empty Content-Length and odd spacing", async () => {
    await same([`GET /fast HTTP/1.1\r\nhOsT:x\r\nCONTENT-LENGTH:   0  \r\nX-Any:\t v \r\n${close}\r\n`]);
  });

  it("hands a request with a body, and the rest of the connection, to node:http", async () => {
    const before = answered;
    const post = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
    const chunked = "GET /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    const raw = await same([get("/fast") + post.slice(0, 50), post.slice(50) + get("/fast/json"), chunked + get("/fast", close)]);
    assert.equal(answered - before, 1, "only the first request was the fast path's");
    assert.match(raw, /"body":"hello world"/);
    assert.match(raw, /"body":"hello"/);
    assert.equal(raw.match(/HTTP\/1\.1 200/g)?.length, 5);
  });

  it("hands over a large body that began in the read the fast path answered from", async () => {
    const body = "z".repeat(1024 * 1024);
    const post = `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const first = get("/fast") + post.slice(0, 5000);
    const rest = post.slice(5000);
    const raw = await same([first, rest.slice(0, 300_000), rest.slice(300_000) + get("/fast", close)]);
    assert.ok(raw.includes(`"body":"${body}"`), "node:http got the whole body");
    assert.equal(raw.match(/HTTP\/1\.1 200/g)?.length, 3);
  });

  it("hands over unknown paths, other methods, oversized and odd heads", async () => {
    await same([get("/other") + `HEAD /fast/json HTTP/1.1\r\nHost: x\r\n${close}\r\n`]);
    await same([get("/fast", `X-Big: ${"b".repeat(MAX_FAST_HEAD)}\r\n`) + get("/fast", close)]);
    await same([`GET /fast HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n${close}\r\n`]);
    await same([get("/fast") + "GET /fast HTTP/1.1\r\n\r\n"]); // no Host: node:http's 400, then close
  });

  it("answers a client that half-closes after its request", async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const c = net.connect(fastSock, () => c.end(get("/fast") + get("/fast/json")));
      const got: Buffer[] = [];
      c.on("data", (d) => got.push(d)).on("error", reject).on("close", () => resolve(Buffer.concat(got).toString()));
    });
    assert.equal(raw.match(/HTTP\/1\.1 200/g)?.length, 2);
  });

  it("survives a client that hangs up mid-answer, and one that does not read for a while", async () => {
    await new Promise<void>((resolve) => {
      const c = net.connect(fastSock, () => {
        c.write(get("/fast/big").repeat(50));
        c.once("data", () => {
          c.destroy();
          resolve();
        });
      });
    });
    // A slow reader: many big answers pile up before it reads any.
    const n = 40;
    const body = await new Promise<string>((resolve, reject) => {
      const c = net.connect(fastSock, () => {
        c.pause();
        for (let i = 0; i < n; i++) c.write(get("/fast/big"));
        c.write(get("/fast", close));
        setTimeout(() => c.resume(), 300);
      });
      const got: Buffer[] = [];
      c.on("data", (d) => got.push(d)).on("error", reject).on("end", () => resolve(Buffer.concat(got).toString("latin1")));
    });
    assert.equal(body.match(/HTTP\/1\.1 200 OK/g)?.length, n + 1);
    assert.match(await exchange(fastSock, [get("/fast", close)]), /^HTTP\/1\.1 200 OK/);
  });
});
