import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RouteTable } from "./routetable.js";

describe("route table", () => {
  const t = new RouteTable<string>();
  t.add("GET", "/containers/json", "list");
  t.add("GET", "/containers/:id/json", "inspect");
  t.add("POST", "/containers/:id/start", "start");
  t.add("GET", "/images/json", "images");
  t.add("GET", "/images/*", "image-suffix");
  t.add("DELETE", "/images/*", "image-delete");

  it("prefers static segments over parameters", () => {
    assert.deepEqual(t.find("GET", "/containers/json"), { handler: "list", params: {} });
    assert.deepEqual(t.find("GET", "/containers/abc/json"), { handler: "inspect", params: { id: "abc" } });
    assert.deepEqual(t.find("GET", "/images/json"), { handler: "images", params: {} });
  });

  it("matches names with slashes and colons by wildcard", () => {
    assert.deepEqual(t.find("GET", "/images/localhost:5000/a/b:1/json"), { handler: "image-suffix", params: { "*": "localhost:5000/a/b:1/json" } });
    assert.deepEqual(t.find("DELETE", "/images/busybox:latest"), { handler: "image-delete", params: { "*": "busybox:latest" } });
  });

  it("ignores a trailing slash and tells 404 from 405", () => {
    assert.equal(t.find("POST", "/containers/x/start/")?.handler, "start");
    assert.equal(t.find("GET", "/containers/x/start"), undefined);
    assert.equal(t.hasPath("/containers/x/start"), true);
    assert.equal(t.hasPath("/nothing/here"), false);
  });
});
