// `docker build` against pierd: the layer cache (all hits on a rebuild, a changed COPY source
// rebuilds from that step on, --no-cache, build args, a daemon restart), context escapes,
// failing steps, -q. The real docker CLI with the classic builder.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

const ENV = { DOCKER_BUILDKIT: "0" };
let engine: Engine;
const tmp = mkdtempSync("/tmp/pier-build-cache-");

before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function build(args: string[]) {
  const r = await engine.docker(["build", ...args], { env: ENV, timeoutMs: 90_000 });
  return { ...r, out: r.stdout + r.stderr };
}

function ctx(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

const cacheHits = (out: string) => (out.match(/ ---> Using cache\n/g) ?? []).length;
const ran = (out: string) => (out.match(/ ---> Running in /g) ?? []).length;
const builtID = (out: string) => /Successfully built ([0-9a-f]{12})/.exec(out)?.[1];

const DOCKERFILE = [
  "FROM busybox",
  "ARG V=1",
  "RUN echo first-$V > /first",
  "COPY a.txt /a.txt",
  "ENV STAGE=2",
  "RUN cat /a.txt /first > /second",
  "COPY b.txt /b.txt",
  "",
].join("\n");

describe("docker build: layer cache", () => {
  let dir: string;
  let firstID: string | undefined;

  it("a second build is all cache hits and gives the same image", async () => {
    dir = ctx("cache", { Dockerfile: DOCKERFILE, "a.txt": "a1\n", "b.txt": "b1\n" });
    const one = await build(["-t", "cache:1", dir]);
    assert.equal(one.code, 0, one.out);
    assert.equal(cacheHits(one.out), 0);
    assert.equal(ran(one.out), 2);
    firstID = builtID(one.out);
    const two = await build(["-t", "cache:1", dir]);
    assert.equal(two.code, 0, two.out);
    assert.equal(cacheHits(two.out), 6, two.out);
    assert.equal(ran(two.out), 0);
    assert.equal(builtID(two.out), firstID);
  });

  it("the cache survives a daemon restart", async () => {
    if (!engine.restart) return;
    await engine.restart();
    const r = await build(["-t", "cache:1", dir]);
    assert.equal(r.code, 0, r.out);
    assert.equal(cacheHits(r.out), 6, r.out);
    assert.equal(builtID(r.out), firstID);
  });

  it("changing one COPY source rebuilds from that step on", async () => {
    writeFileSync(path.join(dir, "a.txt"), "a2\n");
    const r = await build(["-t", "cache:2", dir]);
    assert.equal(r.code, 0, r.out);
    // ARG and the first RUN come from the cache; COPY a.txt and everything after is rebuilt.
    assert.match(r.out, /Step 3\/7 : RUN echo first-\$V > \/first\n ---> Using cache\n/);
    assert.match(r.out, /Step 4\/7 : COPY a.txt \/a.txt\n ---> [0-9a-f]{12}\n/);
    assert.equal(cacheHits(r.out), 2);
    assert.equal(ran(r.out), 1);
    const run = await engine.docker(["run", "--rm", "cache:2", "cat", "/second", "/b.txt"]);
    assert.equal(run.stdout, "a2\nfirst-1\nb1\n");
    // A file whose content is the same again hits the cache of the first build.
    writeFileSync(path.join(dir, "a.txt"), "a1\n");
    const back = await build([dir]);
    assert.equal(cacheHits(back.out), 6, back.out);
  });

  it("a different build arg reruns the RUN steps that see it; --no-cache bypasses the cache", async () => {
    const r = await build(["--build-arg", "V=2", dir]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Step 2\/7 : ARG V=1\n ---> Using cache\n/);
    assert.equal(ran(r.out), 2);
    const hist = await engine.docker(["history", "--no-trunc", "--format", "{{.CreatedBy}}", builtID(r.out)!]);
    assert.match(hist.stdout, /^\|1 V=2 \/bin\/sh -c cat \/a.txt \/first > \/second$/m);
    const nc = await build(["--no-cache", dir]);
    assert.equal(nc.code, 0, nc.out);
    assert.equal(cacheHits(nc.out), 0);
    assert.equal(ran(nc.out), 2);
    assert.notEqual(builtID(nc.out), firstID);
  });
});

describe("docker build: a step's layer as built equals the layer as saved", () => {
  it("files, modes, owners, links and times are the same after save, rmi and load", async () => {
    const dir = ctx("layer-equal", { "d/a.txt": "a\n", "d/sub/b.sh": "#!/bin/sh\n" });
    const src = path.join(tmp, "layer-equal-tar");
    mkdirSync(path.join(src, "t/deep"), { recursive: true });
    writeFileSync(path.join(src, "t/deep/f"), "f\n");
    symlinkSync("deep/f", path.join(src, "t/link"));
    execFileSync("tar", ["-cf", path.join(dir, "x.tar"), "-C", src, "t"]);
    writeFileSync(
      path.join(dir, "Dockerfile"),
      [
        "FROM busybox",
        "COPY d /d",
        "COPY --chown=7:8 --chmod=741 d/sub/b.sh /d/sub/b2.sh",
        "ADD x.tar /x/",
        "WORKDIR /w/deep",
        "RUN ln /d/a.txt /d/hard && rm /x/t/deep/f && chmod 700 /d/sub",
        "COPY d/a.txt /x/t/deep/",
        "",
      ].join("\n"),
    );
    const r = await build(["-t", "layer-equal", dir]);
    assert.equal(r.code, 0, r.out);
    const list = "find /d /x /w | sort | xargs stat -c '%n %A %u %g %s %Y %h %N'";
    const before = (await engine.docker(["run", "--rm", "layer-equal", "sh", "-c", list])).stdout;
    assert.match(before, /^\/d\/sub\/b2\.sh -rwxr----x 7 8 /m);
    assert.match(before, /^\/x\/t\/link lrwxrwxrwx .* -> 'deep\/f'$/m);
    const archive = path.join(tmp, "layer-equal.tar");
    assert.equal((await engine.docker(["save", "-o", archive, "layer-equal"])).code, 0);
    assert.equal((await engine.docker(["rmi", "layer-equal"])).code, 0);
    const load = await engine.docker(["load", "-i", archive]);
    assert.equal(load.code, 0, load.stderr);
    const after = (await engine.docker(["run", "--rm", "layer-equal", "sh", "-c", list])).stdout;
    assert.equal(after, before);
  });
});

describe("docker build --cache-from", () => {
  const CF = ["FROM busybox", "RUN echo one > /one", "ENV X=1", "COPY a.txt /a.txt", "RUN cat /one /a.txt > /both", 'CMD ["cat", "/both"]', ""].join("\n");

  it("a saved, removed and loaded image serves as the cache of a rebuild", async () => {
    const dir = ctx("cachefrom", { Dockerfile: CF, "a.txt": "a\n" });
    const first = await build(["-t", "cf:1", dir]);
    assert.equal(first.code, 0, first.out);
    const id = builtID(first.out)!;
    const archive = path.join(tmp, "cf.tar");
    assert.equal((await engine.docker(["save", "-o", archive, "cf:1"])).code, 0);
    // Removing the tag removes the untagged parents too: nothing of the build is left.
    const rmi = await engine.docker(["rmi", "cf:1"]);
    assert.equal(rmi.code, 0, rmi.stderr);
    assert.equal((await engine.docker(["load", "-i", archive])).code, 0);

    // A loaded image has no parent chain: without --cache-from nothing is reused.
    const plain = await build(["--no-cache=false", dir]);
    assert.equal(plain.code, 0, plain.out);
    assert.equal(cacheHits(plain.out), 0, plain.out);
    assert.notEqual(builtID(plain.out), id);

    const cached = await build(["--cache-from", "cf:1", "-t", "cf:2", dir]);
    assert.equal(cached.code, 0, cached.out);
    assert.equal(cacheHits(cached.out), 5, cached.out);
    assert.equal(ran(cached.out), 0);
    assert.equal(builtID(cached.out), id);
    assert.equal((await engine.docker(["run", "--rm", "cf:2"])).stdout, "one\na\n");
    // Again: the same intermediate images, the same result.
    const again = await build(["--cache-from", "cf:1", dir]);
    assert.equal(cacheHits(again.out), 5, again.out);
    assert.equal(builtID(again.out), id);

    // A changed source rebuilds from its step on; the steps before it still come from cf:1.
    writeFileSync(path.join(dir, "a.txt"), "b\n");
    const changed = await build(["--cache-from", "cf:1", "-t", "cf:3", dir]);
    assert.equal(changed.code, 0, changed.out);
    assert.equal(cacheHits(changed.out), 2, changed.out);
    assert.equal(ran(changed.out), 1);
    assert.equal((await engine.docker(["run", "--rm", "cf:3"])).stdout, "one\nb\n");
  });

  it("only the named images and their parents are cache sources", async () => {
    const dir = ctx("cachefrom-only", { Dockerfile: "FROM busybox\nRUN echo x > /x\nLABEL a=b\n" });
    const first = await build([dir]);
    assert.equal(first.code, 0, first.out);
    // The local cache has these steps, but busybox's chain does not.
    const other = await build(["--cache-from", "busybox", dir]);
    assert.equal(other.code, 0, other.out);
    assert.equal(cacheHits(other.out), 0, other.out);
    // The image just built, named as a source, is a hit again (its own parent chain).
    const own = await build(["--cache-from", builtID(other.out)!, dir]);
    assert.equal(cacheHits(own.out), 2, own.out);
    assert.equal(builtID(own.out), builtID(other.out));
    // A source that does not exist is skipped (Docker only logs it).
    const missing = await build(["--cache-from", "no-such-cache:1", dir]);
    assert.equal(missing.code, 0, missing.out);
    assert.equal(cacheHits(missing.out), 0, missing.out);
  });
});

describe("docker build: errors", () => {
  it("a failing RUN stops the build with Docker's message and exit code", async () => {
    const dir = ctx("fail", { Dockerfile: "FROM busybox\nRUN echo out; echo err >&2; exit 3\nRUN echo never\n" });
    const r = await build([dir]);
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /out\n/);
    assert.match(r.out, /The command '\/bin\/sh -c echo out; echo err >&2; exit 3' returned a non-zero code: 3/);
    assert.doesNotMatch(r.out, /never/);
    // Without --force-rm the failed step's container is kept (as Docker does); with it, not.
    const before = (await engine.docker(["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean).length;
    const f = await build(["--force-rm", dir]);
    assert.equal(f.code, 3);
    const afterCount = (await engine.docker(["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean).length;
    assert.equal(afterCount, before);
  });

  it("COPY sources can never leave the context", async () => {
    const dir = ctx("escape", { "inside.txt": "in\n" });
    symlinkSync("/etc/passwd", path.join(dir, "abs-link"));
    symlinkSync("../../../../../../etc", path.join(dir, "rel-link"));
    mkdirSync(path.join(dir, "sub"));
    symlinkSync("../inside.txt", path.join(dir, "sub", "ok-link"));
    const cases: Array<[string, RegExp]> = [
      ["COPY ../x /x", /Forbidden path outside the build context: \.\.\/x/],
      ["COPY abs-link /x", /Forbidden path outside the build context: abs-link \(abs-link is a symlink to \/etc\/passwd\)/],
      ["COPY rel-link/passwd /x", /Forbidden path outside the build context: rel-link\/passwd/],
      ["COPY missing /x", /file not found in build context or excluded by \.dockerignore: stat missing: file does not exist/],
      ["COPY inside.txt sub/ok-link /x", /When using COPY with more than one source file, the destination must be a directory and end with a \//],
    ];
    for (const [line, re] of cases) {
      writeFileSync(path.join(dir, "Dockerfile"), `FROM busybox\n${line}\n`);
      const r = await build([dir]);
      assert.notEqual(r.code, 0, line);
      assert.match(r.out, re, line);
    }
    // A symlink that stays inside the context is followed.
    writeFileSync(path.join(dir, "Dockerfile"), "FROM busybox\nCOPY sub/ok-link /x\n");
    const ok = await build(["-t", "escape-ok", dir]);
    assert.equal(ok.code, 0, ok.out);
    assert.equal((await engine.docker(["run", "--rm", "escape-ok", "cat", "/x"])).stdout, "in\n");
  });

  it("Dockerfile mistakes are reported with Docker's wording", async () => {
    const dir = ctx("bad", {});
    const cases: Array<[string, RegExp]> = [
      ["FROM busybox\nFOO bar\n", /unknown instruction: FOO/],
      ["RUN true\n", /no build stage in current context/],
      ["FROM busybox\nCOPY onlyone\n", /COPY requires at least two arguments/],
      ["FROM busybox\nENV A=${B\n", /missing ':' in substitution|missing '}'/],
      ["FROM busybox\nSHELL sh -c\n", /SHELL requires the arguments to be in JSON form/],
      ["FROM busybox\nONBUILD ONBUILD RUN x\n", /Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/],
      ["FROM no-such-image-here\n", /no-such-image-here/],
      ["FROM busybox\nRUN --mount=type=cache,target=/x true\n", /--mount option requires BuildKit/],
      ["FROM busybox\nEXPOSE 80 80a\n", /Invalid containerPort: 80a/],
      ["FROM busybox\nEXPOSE 80/foo\n", /Invalid proto: foo/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(path.join(dir, "Dockerfile"), text);
      const r = await build([dir]);
      assert.notEqual(r.code, 0, text);
      assert.match(r.out, re, text);
    }
  });

  it("--pull cannot pull without a registry client: a clear error naming the image; scratch and stages need no pull", async () => {
    const dir = ctx("pull", { "a.txt": "a\n", Dockerfile: "FROM busybox\nRUN true\n" });
    const r = await build(["--pull", dir]);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /failed to pull busybox:latest \(--pull\): this pierd has no registry client yet/);
    assert.doesNotMatch(r.out, /Step 2\/2/);
    writeFileSync(path.join(dir, "Dockerfile"), "FROM busybox\nCOPY --from=busybox:latest /bin/true /t\n");
    assert.match((await build(["--pull", dir])).out, /failed to pull busybox:latest \(--pull\)/);
    // FROM scratch and FROM <stage> are never pulled, with or without --pull.
    writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch AS base\nCOPY a.txt /a\nFROM base\nCOPY --from=base /a /b\n");
    const ok = await build(["--pull", "-t", "pull-ok", dir]);
    assert.equal(ok.code, 0, ok.out);
    const files = await engine.docker(["image", "inspect", "-f", "{{len .RootFS.Layers}}", "pull-ok"]);
    assert.equal(files.stdout.trim(), "2");
  });

  it("-q prints only the image ID; unused build args are warned about", async () => {
    const dir = ctx("quiet", { Dockerfile: "FROM busybox\nRUN echo loud\n" });
    const r = await build(["-q", "--build-arg", "UNUSED=1", dir]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const v = await build(["--build-arg", "UNUSED=1", dir]);
    assert.match(v.out, /\[Warning\] One or more build-args \[UNUSED\] were not consumed/);
  });
});
