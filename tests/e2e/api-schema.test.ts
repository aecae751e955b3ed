// Response bodies of the main endpoints validate against the Engine API 1.45 spec.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { apiRequest, startEngine, type Engine } from "../harness.js";
import { assertMatchesSpec, specAvailable } from "../apispec.js";

async function json(e: Engine, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await apiRequest(e, method, p, body);
  assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${r.text}`);
  return JSON.parse(r.text);
}

describe("API bodies match the 1.45 spec", { skip: !specAvailable() && "the API spec is not beside the project" }, () => {
  let e: Engine;
  let running: string;
  before(async () => {
    e = await startEngine();
    await e.docker(["volume", "create", "specvol"]);
    running = (await e.docker(["run", "-d", "-l", "a=b", "-v", "specvol:/data", "busybox", "sleep", "60"])).stdout.trim();
    await e.docker(["run", "--name", "spec-exited", "busybox", "true"]);
  });
  after(async () => {
    await e?.stop();
  });

  it("advertises 1.45 in the headers of every answer", async () => {
    const r = await apiRequest(e, "GET", "/_ping");
    assert.equal(r.text, "OK");
    assert.equal(r.headers["api-version"], "1.45");
    assert.equal(r.headers["ostype"], "linux");
    assert.ok(r.headers["server"]);
    assert.equal(r.headers["builder-version"], undefined, "BuildKit is never advertised");
    // The same headers on a JSON body, an error, an answer without a body and a stream (moby's
    // version middleware sets them on every routed answer).
    await apiRequest(e, "POST", "/v1.45/volumes/create", { Name: "hdrvol" });
    const answers = await Promise.all([
      apiRequest(e, "HEAD", "/_ping"),
      apiRequest(e, "GET", "/v1.45/version"),
      apiRequest(e, "GET", "/v1.45/containers/no-such-container/json"),
      apiRequest(e, "DELETE", "/v1.45/volumes/hdrvol"),
      apiRequest(e, "GET", `/v1.45/events?since=0&until=${Math.floor(Date.now() / 1000)}`),
    ]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 404, 204, 200]);
    for (const a of answers) {
      assert.equal(a.headers["api-version"], "1.45");
      assert.equal(a.headers["ostype"], "linux");
      assert.match(String(a.headers["server"]), /\S/);
    }
  });

  it("system", async () => {
    assertMatchesSpec("SystemVersion", await json(e, "GET", "/v1.45/version"));
    assertMatchesSpec("SystemInfo", await json(e, "GET", "/v1.45/info"));
    assertMatchesSpec("GET /system/df", await json(e, "GET", "/v1.45/system/df"));
  });

  it("containers", async () => {
    const list = (await json(e, "GET", "/v1.45/containers/json?all=1")) as unknown[];
    assert.equal(list.length, 2);
    for (const c of list) assertMatchesSpec("ContainerSummary", c);
    assertMatchesSpec("GET /containers/{id}/json", await json(e, "GET", `/v1.45/containers/${running}/json`));
    assertMatchesSpec("GET /containers/{id}/json", await json(e, "GET", `/v1.45/containers/spec-exited/json`));
    const created = await json(e, "POST", "/v1.45/containers/create", { Image: "busybox", Cmd: ["true"] });
    assertMatchesSpec("ContainerCreateResponse", created);
    const wait = await json(e, "POST", `/v1.45/containers/spec-exited/wait`);
    assertMatchesSpec("ContainerWaitResponse", wait);
    assertMatchesSpec("POST /containers/prune", await json(e, "POST", "/v1.45/containers/prune"));
  });

  it("images", async () => {
    const list = (await json(e, "GET", "/v1.45/images/json")) as unknown[];
    for (const i of list) assertMatchesSpec("ImageSummary", i);
    assertMatchesSpec("ImageInspect", await json(e, "GET", "/v1.45/images/busybox/json"));
    for (const h of (await json(e, "GET", "/v1.45/images/busybox/history")) as unknown[]) assertMatchesSpec("ImageHistoryResponseItem", h);
    await e.docker(["tag", "busybox", "spec-tag:1"]);
    for (const d of (await json(e, "DELETE", "/v1.45/images/spec-tag:1")) as unknown[]) assertMatchesSpec("ImageDeleteResponseItem", d);
    assertMatchesSpec("POST /images/prune", await json(e, "POST", "/v1.45/images/prune"));
  });

  it("volumes and networks", async () => {
    assertMatchesSpec("VolumeListResponse", await json(e, "GET", "/v1.45/volumes"));
    assertMatchesSpec("Volume", await json(e, "GET", "/v1.45/volumes/specvol"));
    for (const n of (await json(e, "GET", "/v1.45/networks")) as unknown[]) assertMatchesSpec("Network", n);
    assertMatchesSpec("Network", await json(e, "GET", "/v1.45/networks/bridge"));
  });

  it("events", async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await apiRequest(e, "GET", `/v1.45/events?since=${now - 60}&until=${now + 1}`);
    const lines = r.text.trim().split("\n").filter(Boolean);
    assert.ok(lines.length > 0);
    for (const l of lines) assertMatchesSpec("EventMessage", JSON.parse(l));
  });

  it("errors carry a message", async () => {
    const r = await apiRequest(e, "GET", "/v1.45/containers/nope/json");
    assert.equal(r.status, 404);
    assertMatchesSpec("ErrorResponse", JSON.parse(r.text));
  });
});
