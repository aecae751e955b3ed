import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PassThrough } from "node:stream";
import { frame } from "../lib/index.js";
import { ApiClient, copyOutput, encodeQuery } from "./client.js";
import { ApiError, ConnectionError } from "./errors.js";
import { startFakeDaemon, upgradeResponse } from "./fake-daemon.js";
import { DEFAULT_HOST, parseHost, resolveHost } from "./host.js";
import { JsonStreamDecoder, parseJsonLossless } from "./json-stream.js";

describe("host", () => {
  it("-H wins, then PIER_HOST, then DOCKER_HOST, then the default", () => {
    assert.equal(resolveHost("unix:///a", { PIER_HOST: "unix:///b", DOCKER_HOST: "unix:///c" }), "unix:///a");
    assert.equal(resolveHost(undefined, { PIER_HOST: "unix:///b", DOCKER_HOST: "unix:///c" }), "unix:///b");
    assert.equal(resolveHost(undefined, { DOCKER_HOST: "unix:///c" }), "unix:///c");
    assert.equal(resolveHost(undefined, {}), DEFAULT_HOST);
  });
  it("parses unix and tcp forms", () => {
    assert.deepEqual(parseHost("unix:///run/pier/pier.sock"), { kind: "unix", socketPath: "/run/pier/pier.sock", url: "unix:///run/pier/pier.sock" });
    assert.deepEqual(parseHost("tcp://127.0.0.1:2375"), { kind: "tcp", hostname: "127.0.0.1", port: 2375, url: "tcp://127.0.0.1:2375" });
    assert.throws(() => parseHost("ssh://x"), /unsupported host protocol/);
  });
});

describe("query and JSON streams", () => {
  it("encodes booleans as 1/0, drops undefined, repeats arrays", () => {
    assert.equal(encodeQuery({ stream: true, stdin: undefined, names: ["a", "b:1"], t: 0 }), "?names=a&names=b%3A1&stream=1&t=0");
  });
  it("decodes concatenated and split JSON objects", () => {
    const d = new JsonStreamDecoder();
    const seen: unknown[] = [];
    d.push('{"a":"x}"}\r\n{"b":', (v) => seen.push(v));
    d.push("[1,2]}{", (v) => seen.push(v));
    d.push('"c":3}\n', (v) => seen.push(v));
    assert.deepEqual(seen, [{ a: "x}" }, { b: [1, 2] }, { c: 3 }]);
  });
  it("keeps integers beyond 2^53 as text when asked", () => {
    const v = parseJsonLossless('{"timeNano":1795312169280117811,"time":1795312169,"s":"123456789012345678901"}') as Record<string, unknown>;
    assert.equal(v["timeNano"], "\u0000int:1795312169280117811");
    assert.equal(v["time"], 1795312169);
    assert.equal(v["s"], "123456789012345678901");
  });
});

describe("ApiClient against a fake daemon", () => {
  it("prefixes the negotiated version and types errors with the daemon's message", async () => {
    const daemon = await startFakeDaemon((req) => {
      if (req.url.startsWith("/v1.45/containers/nosuch/json")) return { status: 404, json: { message: "No such container: nosuch" } };
      return { json: [{ Id: "abc" }] };
    });
    const client = new ApiClient(daemon.host);
    try {
      assert.deepEqual(await client.get("/containers/json", { all: true }), [{ Id: "abc" }]);
      assert.equal(daemon.requests.at(-1)!.url, "/v1.45/containers/json?all=1");
      await assert.rejects(client.get("/containers/nosuch/json"), (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.status, 404);
        assert.equal(err.kind, "NotFound");
        assert.equal(err.message, "No such container: nosuch");
        return true;
      });
    } finally {
      await client.destroy();
      await daemon.close();
    }
  });
  it("lowers the API version to an older daemon's", async () => {
    const daemon = await startFakeDaemon(() => ({ json: {} }));
    const client = new ApiClient(daemon.host);
    try {
      // The fake daemon says 1.45; pretend an older one by forcing a version.
      const old = new ApiClient(daemon.host, { apiVersion: "1.41" });
      await old.get("/info");
      assert.equal(daemon.requests.at(-1)!.url, "/v1.41/info");
      await old.destroy();
      assert.equal(await client.apiVersion(), "1.45");
    } finally {
      await client.destroy();
      await daemon.close();
    }
  });
  it("reports an unreachable daemon", async () => {
    const client = new ApiClient("unix:///nonexistent/pier.sock");
    await assert.rejects(client.get("/info"), (err: unknown) => err instanceof ConnectionError && /Cannot connect to the Docker daemon at unix:\/\/\/nonexistent\/pier.sock/.test(err.message));
    await client.destroy();
  });
  it("streams JSON lines", async () => {
    const daemon = await startFakeDaemon(() => ({ chunks: ['{"status":"Pulling"}\n{"sta', 'tus":"Done"}\n'] }));
    const client = new ApiClient(daemon.host);
    try {
      const seen: unknown[] = [];
      await client.jsonLines("POST", "/images/create", { query: { fromImage: "busybox" } }, (m) => seen.push(m));
      assert.deepEqual(seen, [{ status: "Pulling" }, { status: "Done" }]);
    } finally {
      await client.destroy();
      await daemon.close();
    }
  });
  it("hijacks attach: 101, multiplexed output, stdin half-close", async () => {
    let received = "";
    const daemon = await startFakeDaemon(
      () => ({ json: {} }),
      (req, socket) => {
        assert.equal(req.headers["upgrade"], "tcp");
        socket.write(upgradeResponse(false));
        socket.write(Buffer.concat([frame(1, Buffer.from("out\n")), frame(2, Buffer.from("err\n"))]));
        socket.on("data", (d: Buffer) => (received += d.toString()));
        socket.on("end", () => {
          socket.write(frame(1, Buffer.from(`got ${received}`)));
          socket.end();
        });
      },
    );
    const client = new ApiClient(daemon.host);
    try {
      const conn = await client.hijack("/containers/x/attach", { stream: true, stdin: true, stdout: true, stderr: true });
      assert.equal(conn.upgraded, true);
      assert.equal(conn.contentType, "application/vnd.docker.multiplexed-stream");
      conn.stream.write("hello");
      conn.stream.end();
      const out = new PassThrough();
      const err = new PassThrough();
      let outText = "";
      let errText = "";
      out.on("data", (d: Buffer) => (outText += d.toString()));
      err.on("data", (d: Buffer) => (errText += d.toString()));
      await copyOutput(conn.stream, false, out, err);
      assert.equal(outText, "out\ngot hello");
      assert.equal(errText, "err\n");
      assert.match(daemon.requests.at(-1)!.url, /^\/v1\.45\/containers\/x\/attach\?stderr=1&stdin=1&stdout=1&stream=1$/);
    } finally {
      await client.destroy();
      await daemon.close();
    }
  });
  it("a refused hijack is an ApiError", async () => {
    const daemon = await startFakeDaemon(() => ({ json: {} }));
    const client = new ApiClient(daemon.host);
    try {
      await assert.rejects(client.hijack("/containers/x/attach", { stream: true }), (err: unknown) => err instanceof ApiError && err.message === "page not found");
    } finally {
      await client.destroy();
      await daemon.close();
    }
  });
});
