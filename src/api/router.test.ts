import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { createLogger, silentLogger } from "../lib/index.js";
import { conflict, notFound } from "../errdefs/index.js";
import { Router } from "./router.js";
import { sendJSON, boolParam, filtersParam, jsonReply } from "./http.js";

function request(sock: string, method: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: p }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("router", () => {
  let server: http.Server;
  let sock: string;
  before(async () => {
    const r = new Router(silentLogger);
    r.on("GET", "/things/:id/json", ({ res, params, version }) => sendJSON(res, 200, { id: params.id, version }));
    r.on("POST", "/things/:id/fail", ({ params }) => {
      throw params.id === "x" ? notFound("No such thing: x") : conflict("busy");
    });
    server = http.createServer((req, res) => void r.handle(req, res));
    sock = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), "pier-router-")), "s.sock");
    await new Promise<void>((res) => server.listen(sock, res));
  });
  after(() => server.close());

  it("serves versioned and unversioned paths", async () => {
    assert.deepEqual(JSON.parse((await request(sock, "GET", "/v1.41/things/a/json")).body), { id: "a", version: 1.41 });
    assert.deepEqual(JSON.parse((await request(sock, "GET", "/things/b/json")).body), { id: "b", version: 1.45 });
  });

  it("refuses versions outside 1.24…1.45 with Docker's messages", async () => {
    const newer = await request(sock, "GET", "/v1.99/things/a/json");
    assert.equal(newer.status, 400);
    assert.match(JSON.parse(newer.body).message, /client version 1.99 is too new. Maximum supported API version is 1.45/);
    const older = await request(sock, "GET", "/v1.12/things/a/json");
    assert.equal(older.status, 400);
    assert.match(JSON.parse(older.body).message, /too old. Minimum supported API version is 1.24/);
  });

  it("answers 404 for unknown paths and 405 for a wrong method", async () => {
    assert.deepEqual(await request(sock, "GET", "/nope"), { status: 404, body: '{"message":"page not found"}\n' });
    assert.equal((await request(sock, "DELETE", "/things/a/json")).status, 405);
  });

  it("turns error kinds into statuses", async () => {
    const nf = await request(sock, "POST", "/things/x/fail");
    assert.equal(nf.status, 404);
    assert.equal(JSON.parse(nf.body).message, "No such thing: x");
    assert.equal((await request(sock, "POST", "/things/y/fail")).status, 409);
  });
});

describe("fast routes", () => {
  const lines: string[] = [];
  const r = new Router(createLogger("debug", (l) => lines.push(l)));
  r.onFast("GET", "/things/:id/json", ({ params, version }) => {
    if (params.id === "x") throw notFound("No such thing: x");
    return jsonReply(200, { id: params.id, version });
  });
  let server: http.Server;
  let sock: string;
  before(async () => {
    server = http.createServer((req, res) => void r.handle(req, res));
    sock = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), "pier-router-")), "s.sock");
    await new Promise<void>((res) => server.listen(sock, res));
  });
  after(() => server.close());

  it("answer the same through node:http and through answerFast, errors included", async () => {
    for (const url of ["/v1.41/things/a%2Fb/json", "/things/x/json"]) {
      const reply = r.answerFast("GET", url)!;
      const viaHttp = await request(sock, "GET", url);
      assert.deepEqual({ status: viaHttp.status, body: viaHttp.body }, { status: reply.status, body: String(reply.body) });
    }
    assert.deepEqual(JSON.parse(String(r.answerFast("GET", "/v1.41/things/a%2Fb/json")!.body)), { id: "a/b", version: 1.41 });
    assert.equal(r.answerFast("GET", "/things/x/json")!.status, 404);
  });

  it("leave what is not a fast route, or a bad version, to node:http", () => {
    assert.equal(r.answerFast("GET", "/nope"), undefined);
    assert.equal(r.answerFast("HEAD", "/things/a/json"), undefined);
    assert.equal(r.answerFast("GET", "/v1.99/things/a/json"), undefined);
  });

  it("log one debug line per request on both paths", async () => {
    lines.length = 0;
    r.answerFast("GET", "/things/fast/json");
    await request(sock, "GET", "/things/slow/json");
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; url: string; status: number });
    assert.deepEqual(logged.map((l) => [l.msg, l.url, l.status]), [["request", "/things/fast/json", 200], ["request", "/things/slow/json", 200]]);
  });
});

describe("query parameters", () => {
  it("reads booleans as Docker does", () => {
    const q = new URLSearchParams("a=1&b=false&c=&d=True&e=no&f=none&g=0");
    assert.deepEqual(["a", "b", "c", "d", "e", "f", "g", "missing"].map((k) => boolParam(q, k)), [true, false, false, true, false, false, false, false]);
  });

  it("accepts both filter encodings and refuses bad JSON", () => {
    assert.deepEqual(filtersParam(new URLSearchParams({ filters: '{"label":{"a=b":true}}' })), { label: ["a=b"] });
    assert.deepEqual(filtersParam(new URLSearchParams({ filters: '{"label":["a=b"]}' })), { label: ["a=b"] });
    assert.throws(() => filtersParam(new URLSearchParams({ filters: "{bad" })), /invalid filter/);
  });
});
