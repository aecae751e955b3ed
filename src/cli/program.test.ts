import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PassThrough } from "node:stream";
import { startFakeDaemon, upgradeResponse, type FakeDaemon } from "../client/fake-daemon.js";
import { frame } from "../lib/index.js";
import { CliContext } from "./cli-context.js";
import { indentJSON } from "./inspect.js";
import { runCli } from "./program.js";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function pier(args: string[], host?: string, stdinText = ""): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  stdin.end(stdinText);
  const cli = new CliContext({ stdout, stderr, stdin });
  const code = await runCli(host ? ["-H", host, ...args] : args, cli);
  return { code, stdout: out, stderr: err };
}

describe("usage errors (no daemon needed)", () => {
  it("unknown flag: exit 125 with Docker's wording", async () => {
    const r = await pier(["run", "--bogus", "busybox"]);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "unknown flag: --bogus\n\nUsage:  pier run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'pier run --help' for more information\n");
  });
  it("missing argument: exit 1", async () => {
    const r = await pier(["rm"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "pier: 'pier rm' requires at least 1 argument\n\nUsage:  pier rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'pier rm --help' for more information\n");
  });
  it("unknown command: exit 1", async () => {
    const r = await pier(["bogus"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "pier: unknown command: pier bogus\n\nRun 'pier --help' for more information\n");
  });
  it("bad flag value in run: exit 125 with the usage", async () => {
    const r = await pier(["run", "-m", "1x", "busybox"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'\n\nUsage:  pier run/);
  });
  it("client-side parse error in run: pier: prefix, exit 125", async () => {
    const r = await pier(["run", "-p", "1.2.3:80", "busybox"]);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "pier: invalid hostPort: 1.2.3\n\nRun 'pier run --help' for more information\n");
  });
  it("--version", async () => {
    const r = await pier(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Pier version /);
  });
});

describe("commands against a fake daemon", () => {
  let daemon: FakeDaemon;
  const containers = new Map<string, unknown>([["web", { Id: "abc123", Name: "/web", Config: { Tty: false, Image: "busybox", Env: ["A=1"] }, State: { ExitCode: 0 } }]]);
  let imagePulled = false;
  before(async () => {
    daemon = await startFakeDaemon(
      (req) => {
        const url = new URL(req.url, "http://x");
        const p = url.pathname.replace(/^\/v1\.45/, "");
        let m: RegExpExecArray | null;
        if ((m = /^\/containers\/([^/]+)\/json$/.exec(p))) {
          const c = containers.get(decodeURIComponent(m[1]!));
          return c ? { json: c } : { status: 404, json: { message: `No such container: ${m[1]}` } };
        }
        if ((m = /^\/containers\/([^/]+)$/.exec(p)) && req.method === "DELETE") {
          return containers.has(m[1]!) ? { status: 204 } : { status: 404, json: { message: `No such container: ${m[1]}` } };
        }
        if ((m = /^\/images\/([^/]+)\/json$/.exec(p))) return { status: 404, json: { message: `No such image: ${m[1]}:latest` } };
        if (p === "/containers/create") {
          if (!imagePulled) return { status: 404, json: { message: "No such image: busybox:latest" } };
          return { status: 201, json: { Id: "c0ffee", Warnings: [] } };
        }
        if (p === "/images/create") {
          imagePulled = true;
          return { chunks: ['{"status":"Pulling from library/busybox","id":"latest"}\n', '{"status":"Download complete","progressDetail":{"current":5,"total":10},"id":"x"}\n', '{"status":"Status: Downloaded newer image for busybox:latest"}\n'] };
        }
        if (p === "/containers/c0ffee/wait") return { chunks: ['{"StatusCode":3,"Error":null}\n'] };
        if (p === "/containers/c0ffee/start") return { status: 204 };
        return { status: 404, json: { message: "page not found" } };
      },
      (_req, socket) => {
        socket.write(upgradeResponse(false));
        setTimeout(() => {
          socket.write(Buffer.concat([frame(1, Buffer.from("hello\n")), frame(2, Buffer.from("oops\n"))]));
          socket.end();
        }, 20);
      },
    );
  });
  after(() => daemon.close());

  it("rm: prints what was removed, then each error; exit 1", async () => {
    const r = await pier(["rm", "web", "nosuch"], daemon.host);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "web\n");
    assert.equal(r.stderr, "Error response from daemon: No such container: nosuch\n");
  });
  it("inspect: indented JSON array; a missing object says so", async () => {
    const r = await pier(["inspect", "web", "nosuch"], daemon.host);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, indentJSON(`[${JSON.stringify(containers.get("web"))}]`) + "\n");
    assert.match(r.stdout, /^\[\n {4}\{\n {8}"Id": "abc123",/);
    assert.equal(r.stderr, "Error: No such object: nosuch\n");
  });
  it("container inspect: the daemon's message; [] when nothing was found", async () => {
    const r = await pier(["container", "inspect", "nosuch"], daemon.host);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "[]\n");
    assert.equal(r.stderr, "Error response from daemon: No such container: nosuch\n");
  });
  it("inspect --format", async () => {
    const r = await pier(["inspect", "-f", "{{.Name}} {{json .Config.Env}} {{.State.ExitCode}}", "web"], daemon.host);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '/web ["A=1"] 0\n');
  });
  it("run: create → 404 → pull → create → attach → wait → start, exit with the container's code", async () => {
    const r = await pier(["run", "busybox", "echo", "hello"], daemon.host);
    assert.equal(r.stdout, "hello\n");
    assert.equal(
      r.stderr,
      "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\nStatus: Downloaded newer image for busybox:latest\noops\n",
    );
    assert.equal(r.code, 3);
    const paths = daemon.requests.map((q) => q.url.replace(/^\/v1\.45/, "").replace(/\?.*/, "")).filter((u) => u !== "/_ping");
    const runPaths = paths.slice(paths.indexOf("/containers/create"));
    assert.deepEqual(runPaths, ["/containers/create", "/images/create", "/containers/create", "/containers/c0ffee/attach", "/containers/c0ffee/wait", "/containers/c0ffee/start"]);
    const pull = daemon.requests.find((q) => q.url.includes("/images/create"))!;
    assert.match(pull.url, /fromImage=docker\.io%2Flibrary%2Fbusybox&tag=latest/);
    assert.match(daemon.requests.find((q) => q.url.includes("/wait"))!.url, /condition=next-exit/);
  });
});

describe("indentJSON", () => {
  it("indents like Go's json.Indent and keeps strings verbatim", () => {
    assert.equal(indentJSON('[{"a":[],"b":{},"c":"x\\u003cy","d":[1,2]}]'), '[\n    {\n        "a": [],\n        "b": {},\n        "c": "x\\u003cy",\n        "d": [\n            1,\n            2\n        ]\n    }\n]');
  });
});
