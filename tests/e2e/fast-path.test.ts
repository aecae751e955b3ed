// pierd answers simple GETs of its hot routes (/_ping, /version, /containers/json,
// /containers/{id}/json) itself before node:http (src/api/fast-http.ts). What a client sees must
// not change: the same raw answer whichever path serves it. A GET carrying an empty chunked body
// is served by node:http (the fast path never reads bodies), the same GET without it by the fast
// path, so each hot URL is asked both ways over the real socket and the raw bytes compared.
// Passes against Docker too (PIER_TEST_DOCKER_HOST), whose server has one path.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { dockerOk, startEngine, type Engine } from "../harness.js";

/** One raw exchange on a fresh connection; the server closes it after the last answer. */
function exchange(e: Engine, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(e.host.replace(/^unix:\/\//, ""), () => c.write(bytes));
    const got: Buffer[] = [];
    c.on("data", (d) => got.push(d));
    c.on("error", reject);
    c.on("end", () => {
      c.end();
      resolve(Buffer.concat(got).toString());
    });
  });
}

const fastGet = (method: string, url: string) => `${method} ${url} HTTP/1.1\r\nHost: docker\r\nUser-Agent: fast-path-test\r\nConnection: close\r\n\r\n`;
const slowGet = (method: string, url: string) => `${method} ${url} HTTP/1.1\r\nHost: docker\r\nUser-Agent: fast-path-test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`;
const normalize = (raw: string) => raw.replace(/\r\nDate: [^\r]+\r\n/i, "\r\nDate: *\r\n");

describe("API fast path", () => {
  let e: Engine;
  let id: string;
  before(async () => {
    e = await startEngine();
    const netArgs = (await e.docker(["network", "inspect", "bridge"])).code === 0 ? [] : ["--network", "none"];
    id = await dockerOk(e, ["run", "-d", ...netArgs, "--name", "fastpath", "--label", "a=é", "busybox", "sleep", "600"]);
  });
  after(async () => {
    await e?.stop();
  });

  it("sends the same bytes from both paths for every hot route, errors included", async () => {
    const cases: [string, string, number][] = [
      ["GET", "/_ping", 200],
      ["HEAD", "/_ping", 200],
      ["GET", "/v1.41/_ping", 200],
      ["GET", "/version", 200],
      ["GET", "/v1.41/version", 200],
      ["GET", "/v1.41/containers/json", 200],
      ["GET", `/v1.41/containers/json?all=1&filters=${encodeURIComponent('{"label":["a=é"]}')}`, 200],
      ["GET", `/v1.41/containers/${id}/json`, 200],
      ["GET", "/containers/fastpath/json", 200],
      ["GET", "/v1.41/containers/no-such-thing/json", 404],
      ["GET", `/v1.41/containers/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`, 400],
      ["GET", "/v1.99/_ping", 400],
    ];
    for (const [method, url, status] of cases) {
      // "Up N seconds" and Date may tick between the two asks: ask again until both agree.
      let fast = "";
      let slow = "";
      for (let i = 0; i < 5; i++) {
        fast = normalize(await exchange(e, fastGet(method, url)));
        slow = normalize(await exchange(e, slowGet(method, url)));
        if (fast === slow) break;
      }
      assert.equal(fast, slow, `${method} ${url}`);
      assert.match(fast, new RegExp(`^HTTP/1\\.1 ${status} `), `${method} ${url}`);
    }
  });

  it("keeps one connection across fast answers and ones node:http gives (pipelined)", async () => {
    const create = JSON.stringify({ Image: "busybox", Cmd: ["true"] });
    const raw = await exchange(
      e,
      "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n" +
        `GET /v1.41/containers/${id}/json HTTP/1.1\r\nHost: docker\r\n\r\n` +
        `POST /v1.41/containers/create?name=fastpath2 HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(create)}\r\n\r\n${create}` +
        // (node:http runs pipelined requests' handlers without waiting for the one before,
        // so this one must not depend on the create.)
        `GET /v1.41/containers/${id}/json HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n`,
    );
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d+) /g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 200, 201, 200], raw.slice(0, 2000));
    assert.equal(await dockerOk(e, ["inspect", "-f", "{{.Name}}", "fastpath2"]), "/fastpath2");
  });

  it("serves the docker CLI through both paths", async () => {
    assert.equal(await dockerOk(e, ["inspect", "-f", "{{.Name}} {{.State.Status}} {{index .Config.Labels \"a\"}}", "fastpath"]), "/fastpath running é");
    assert.match(await dockerOk(e, ["ps", "--filter", "name=fastpath", "--format", "{{.Names}}"]), /^fastpath$/m);
    assert.match(await dockerOk(e, ["version", "--format", "{{.Server.APIVersion}}"]), /^1\.\d+$/);
    assert.equal(await dockerOk(e, ["run", "--rm", "busybox", "echo", "through node:http"]), "through node:http");
  });
});
