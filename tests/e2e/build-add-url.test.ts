// `docker build` with `ADD <url>` against pierd, the URLs served by a node http server on
// 127.0.0.1 that this test starts: the file is named after the URL, written 0600 with its
// mtime from Last-Modified (the epoch without one), never extracted; the downloaded content is
// part of the cache key; HTTP errors and unreachable servers fail the build clearly.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

const ENV = { DOCKER_BUILDKIT: "0" };
const LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT";
let engine: Engine;
let server: http.Server;
let base: string;
const tmp = mkdtempSync("/tmp/pier-build-url-");
const hits = new Map<string, number>();
const files: Record<string, { body: Buffer; lastModified?: string }> = {};

before(async () => {
  // A real tar archive: ADD must copy it as a file, not unpack it.
  const src = path.join(tmp, "tarsrc");
  mkdirSync(src);
  writeFileSync(path.join(src, "inner.txt"), "inner\n");
  execFileSync("tar", ["-cf", path.join(tmp, "a.tar"), "-C", src, "inner.txt"]);
  files["/files/hello.txt"] = { body: Buffer.from("hello\n"), lastModified: LAST_MODIFIED };
  files["/files/plain.txt"] = { body: Buffer.from("plain\n") };
  files["/files/archive.tar"] = { body: readFileSync(path.join(tmp, "a.tar")), lastModified: LAST_MODIFIED };
  server = http.createServer((req, res) => {
    const p = new URL(req.url ?? "/", "http://x").pathname;
    hits.set(p, (hits.get(p) ?? 0) + 1);
    if (p === "/redirect/moved.txt") {
      res.writeHead(302, { Location: "/files/hello.txt" }).end();
      return;
    }
    const f = files[p];
    if (!f) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("no such file here\n");
      return;
    }
    res.writeHead(200, { "Content-Length": f.body.length, ...(f.lastModified ? { "Last-Modified": f.lastModified } : {}) }).end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  engine = await startEngine();
});

after(async () => {
  await engine?.stop();
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function build(dir: string, dockerfile: string, args: string[] = []) {
  writeFileSync(path.join(dir, "Dockerfile"), dockerfile);
  const r = await engine.docker(["build", ...args, dir], { env: ENV, timeoutMs: 90_000 });
  return { ...r, out: r.stdout + r.stderr };
}

async function sh(image: string, script: string): Promise<string> {
  const r = await engine.docker(["run", "--rm", image, "sh", "-c", script]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

const cacheHits = (out: string) => (out.match(/ ---> Using cache\n/g) ?? []).length;

describe("docker build: ADD <url>", () => {
  const dir = path.join(tmp, "ctx");
  mkdirSync(dir, { recursive: true });

  it("names the file after the URL, 0600, mtime from Last-Modified or the epoch, never extracted", async () => {
    const df = [
      "FROM busybox",
      `ADD ${base}/files/hello.txt /dl/`,
      `ADD ${base}/files/plain.txt /renamed.txt`,
      `ADD ${base}/files/archive.tar /arch/`,
      `ADD ${base}/redirect/moved.txt /dl/`,
      "",
    ].join("\n");
    const r = await build(dir, df, ["-t", "addurl:1"]);
    assert.equal(r.code, 0, r.out);
    const out = await sh("addurl:1", "stat -c '%n %a %Y %s' /dl/hello.txt /renamed.txt /arch/archive.tar /dl/moved.txt; cat /dl/hello.txt /dl/moved.txt; ls /arch");
    const lm = Date.parse(LAST_MODIFIED) / 1000;
    assert.equal(
      out,
      [
        `/dl/hello.txt 600 ${lm} 6`,
        "/renamed.txt 600 0 6",
        `/arch/archive.tar 600 ${lm} ${files["/files/archive.tar"]!.body.length}`,
        `/dl/moved.txt 600 ${lm} 6`,
        "hello",
        "hello",
        "archive.tar",
        "",
      ].join("\n"),
    );
  });

  it("downloads on every build; the content decides the cache", async () => {
    const df = `FROM busybox\nADD ${base}/files/plain.txt /p.txt\nRUN cat /p.txt > /copy\n`;
    const first = await build(dir, df);
    assert.equal(first.code, 0, first.out);
    const before = hits.get("/files/plain.txt") ?? 0;
    const again = await build(dir, df);
    assert.equal(again.code, 0, again.out);
    assert.equal(cacheHits(again.out), 2, again.out);
    assert.equal(hits.get("/files/plain.txt"), before + 1);
    files["/files/plain.txt"] = { body: Buffer.from("changed\n") };
    const changed = await build(dir, df, ["-t", "addurl:2"]);
    assert.equal(changed.code, 0, changed.out);
    assert.equal(cacheHits(changed.out), 0, changed.out);
    assert.equal(await sh("addurl:2", "cat /copy"), "changed\n");
  });

  it("an HTTP error or an unreachable server fails the build with a clear message", async () => {
    const notFound = await build(dir, `FROM busybox\nADD ${base}/files/missing.txt /m\n`);
    assert.notEqual(notFound.code, 0);
    assert.match(notFound.out, new RegExp(`failed to GET ${base}/files/missing.txt with status 404 Not Found: no such file here`));
    // Port 1 on the loopback: nothing listens there.
    const refused = await build(dir, "FROM busybox\nADD http://127.0.0.1:1/x.txt /x\n");
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /127\.0\.0\.1:1.*(refused|ECONNREFUSED)/);
  });
});
