// `docker build` (the real CLI, classic builder) against pierd: a corpus of Dockerfiles in
// build-fixtures/, each image's config, history and files checked against what Docker's
// classic builder produces for the same Dockerfile (expectations taken from dockerd 20.10
// and Docker's documentation).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { ROOT, startEngine, type Engine } from "../harness.js";

const FIXTURES = path.join(ROOT, "tests/e2e/build-fixtures");
const ENV = { DOCKER_BUILDKIT: "0" };

let engine: Engine;
const tmp = mkdtempSync("/tmp/pier-build-test-");

before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function build(args: string[], input?: string) {
  const r = await engine.docker(["build", ...args], { env: ENV, input, timeoutMs: 90_000 });
  return { ...r, out: r.stdout + r.stderr };
}

async function buildOK(args: string[]) {
  const r = await build(args);
  assert.equal(r.code, 0, r.out);
  return r.out;
}

async function inspect(ref: string): Promise<Record<string, any>> {
  const r = await engine.docker(["image", "inspect", ref]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout)[0];
}

async function history(ref: string): Promise<string[]> {
  const r = await engine.docker(["history", "--no-trunc", "--format", "{{.CreatedBy}}", ref]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").map((l) => l.replace(/(file|dir|multi):[0-9a-f]{64}/g, "$1:HASH"));
}

async function sh(image: string, script: string): Promise<string> {
  const r = await engine.docker(["run", "--rm", "--entrypoint", "sh", image, "-c", script]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

/** Layer sizes per history entry, newest first ("0B" for metadata-only steps). */
async function sizes(ref: string): Promise<string[]> {
  const r = await engine.docker(["history", "--format", "{{.Size}}", ref]);
  return r.stdout.trim().split("\n");
}

describe("docker build: the fixture corpus", () => {
  it("basic: every metadata instruction, RUN with a build arg, COPY, WORKDIR", async () => {
    const out = await buildOK(["-t", "fx-basic", path.join(FIXTURES, "basic")]);
    assert.match(out, /Step 1\/13 : FROM busybox\n ---> [0-9a-f]{12}\n/);
    assert.match(out, /Step 3\/13 : RUN echo hi \$A > \/hi\n ---> Running in [0-9a-f]{12}\nRemoving intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n/);
    assert.match(out, /Successfully built [0-9a-f]{12}\nSuccessfully tagged fx-basic:latest\n/);
    const img = await inspect("fx-basic");
    assert.deepEqual(img.Config.Env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "X=1", "Y=a b"]);
    assert.deepEqual(img.Config.Cmd, ["sh"]);
    assert.equal(img.Config.User, "nobody");
    assert.equal(img.Config.WorkingDir, "/w");
    assert.deepEqual(img.Config.ExposedPorts, { "53/udp": {}, "80/tcp": {} });
    assert.deepEqual(img.Config.Volumes, { "/data": {} });
    assert.deepEqual(img.Config.Labels, { l: "1", "m n": "o" });
    assert.equal(img.Config.StopSignal, "SIGUSR1");
    assert.deepEqual(img.Config.Healthcheck, { Test: ["CMD-SHELL", "true"], Interval: 30e9, Timeout: 5e9, Retries: 3 });
    assert.equal(img.Config.Entrypoint, null);
    assert.equal(img.RootFS.Layers.length, 4, "busybox + RUN + COPY + WORKDIR (mkdir /w)");
    assert.deepEqual((await history("fx-basic")).slice(0, 13), [
      `/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "30s" "5s" "0s" "0s" '\\x03'}`,
      "/bin/sh -c #(nop)  STOPSIGNAL SIGUSR1",
      "/bin/sh -c #(nop)  VOLUME [/data]",
      "/bin/sh -c #(nop)  USER nobody",
      "/bin/sh -c #(nop)  EXPOSE 53/udp 80",
      "/bin/sh -c #(nop) WORKDIR /w",
      "/bin/sh -c #(nop) COPY file:HASH in /f ",
      "/bin/sh -c #(nop)  LABEL l=1 m n=o",
      "/bin/sh -c #(nop)  ENV X=1 Y=a b",
      `/bin/sh -c #(nop)  CMD ["sh"]`,
      "|1 A=b /bin/sh -c echo hi $A > /hi",
      "/bin/sh -c #(nop)  ARG A=b",
      "/bin/sh -c #(nop) ADD file:busybox-static in / # BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.",
    ]);
    const sz = await sizes("fx-basic");
    assert.equal(sz[6], "6B", "COPY f is a 6-byte layer");
    assert.equal(sz[10], "5B", "RUN wrote /hi (5 bytes): runc's mount points are not part of it");
    assert.equal(await sh("fx-basic", "cat /hi /f; pwd; id -u"), "hi b\nhello\n/w\n65534\n");
    // Every step left an image whose parent is the step before (docker history shows IDs).
    const ids = (await engine.docker(["history", "-q", "fx-basic"])).stdout.trim().split("\n");
    assert.equal(ids.filter((i) => i !== "<missing>").length, 13);
  });

  it("parse: escape directive, continuations, comments, quoting and substitution", async () => {
    const out = await buildOK(["-t", "fx-parse", path.join(FIXTURES, "parse")]);
    assert.match(out, /syntax parser directive/);
    const img = await inspect("fx-parse");
    assert.deepEqual(img.Config.Env.slice(1), ["A=hello", "B=with space", "C=hello-with space", "D=dflt", "E=alt", "F=$A", "G=hello", "H=$A", "I=", "legacy=value with  spaces"]);
    assert.deepEqual(img.Config.Labels, { x: "hello", y: "with space" });
    assert.deepEqual(img.Config.Entrypoint, ["echo"]);
    assert.equal(img.Config.Cmd, null, "ENTRYPOINT resets the base image's CMD");
    const h = await history("fx-parse");
    assert.equal(h[1], "sh -c echo json $A > /json");
    assert.equal(h[2], `/bin/sh -c echo "$C|$D|$E|$F|$G|$H|$I" > /vars  && echo continued     > /cont`);
    assert.equal(h[5], "/bin/sh -c #(nop)  ENV C=hello-with space D=dflt E=alt F=$A G=hello H=$A I=");
    assert.equal(await sh("fx-parse", "cat /vars /cont /json"), "hello-with space|dflt|alt|$A|hello|$A|\ncontinued\njson hello\n");
  });

  it("args: scoping, and predefined proxy args used but kept out of history unless declared", async () => {
    const dir = path.join(FIXTURES, "args");
    const proxies = ["--build-arg", "HTTPS_PROXY=https://p:1", "--build-arg", "http_proxy=http://q:2", "--build-arg", "FTP_PROXY=ftp://f"];
    const out = await buildOK(["--target", "main", ...proxies, "-t", "fx-args", dir]);
    // Proxy args never count as unused.
    assert.doesNotMatch(out, /were not consumed/);
    assert.equal(await sh("fx-args", "cat /seen /local"), "g l https://p:1 http://q:2 ftp://f\noverride\n");
    const img = await inspect("fx-args");
    assert.deepEqual(img.Config.Env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROMENV=e"]);
    const h = await history("fx-args");
    // Only the declared proxy arg (http_proxy) is written down; sorted as Go sorts.
    assert.equal(h[0], '|3 GLOBAL=g LOCAL=override http_proxy=http://q:2 /bin/sh -c echo "$LOCAL" > /local');
    assert.equal(h[1], "/bin/sh -c #(nop)  ARG LOCAL=override");
    assert.equal(h[2], '|3 GLOBAL=g LOCAL=l http_proxy=http://q:2 /bin/sh -c echo "$GLOBAL $LOCAL $HTTPS_PROXY $http_proxy $FTP_PROXY" > /seen');
    assert.equal(h[6], "/bin/sh -c #(nop)  ARG GLOBAL");
    // An undeclared proxy value is not in the cache key: changing it reuses every step.
    const again = await buildOK(["--target", "main", "--build-arg", "HTTPS_PROXY=https://other:9", "--build-arg", "http_proxy=http://q:2", dir]);
    assert.equal((again.match(/ ---> Using cache\n/g) ?? []).length, 7, again);
    // A RUN that sees only undeclared proxy args records "|0" before its command.
    await buildOK(["--build-arg", "NO_PROXY=local", "-t", "fx-args-plain", dir]);
    assert.equal(await sh("fx-args-plain", "cat /np"), "[local]\n");
    assert.equal((await history("fx-args-plain"))[0], '|0 /bin/sh -c echo "[$NO_PROXY]" > /np');
  });

  it("multi-stage: ARG before FROM, stage names and indexes, only the needed stages run", async () => {
    const out = await buildOK(["-t", "fx-ms", path.join(FIXTURES, "multistage")]);
    assert.doesNotMatch(out, /must never run/);
    assert.match(out, /Step 1\/11 : ARG BASE=busybox/);
    assert.match(out, /Step 3\/11 : FROM \$\{BASE\} AS builder/);
    assert.equal(await sh("fx-ms", "cat /app/out.txt /app/data.txt"), "v=1\ndata\n");
    assert.deepEqual((await inspect("fx-ms")).Config.Cmd, ["cat", "/app/out.txt"]);
    await buildOK(["--build-arg", "V=2", "-t", "fx-ms2", path.join(FIXTURES, "multistage")]);
    assert.equal(await sh("fx-ms2", "cat /app/out.txt"), "v=2\n");
    const t = await buildOK(["--target", "builder", "-t", "fx-msb", path.join(FIXTURES, "multistage")]);
    assert.match(t, /Step 5\/5 : RUN/);
    assert.equal(await sh("fx-msb", "cat /out.txt"), "v=1\n");
    const bad = await build(["--target", "nope", path.join(FIXTURES, "multistage")]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /failed to reach build target nope in Dockerfile/);
  });

  it(".dockerignore: Docker's pattern rules, exceptions, the Dockerfile itself", async () => {
    await buildOK(["-t", "fx-di", path.join(FIXTURES, "dockerignore")]);
    assert.equal(
      await sh("fx-di", "cat /listing"),
      [".", "./.dockerignore", "./dir", "./dir/keep.md", "./dir/root-only.txt", "./dir/sub", "./dir/sub/c.bak", "./dir/sub/e.txt", "./keep.txt", "./secret", "./secret/allowed.txt", ""].join("\n"),
    );
  });

  it("COPY: wildcards, directory semantics, --chown, --chmod, JSON form, relative destinations", async () => {
    await buildOK(["-t", "fx-copy", path.join(FIXTURES, "copy")]);
    const listing = await sh("fx-copy", `cd / && find txt d1 d2 newname multi owned owned-dir private spaced wd wild | sort | while read f; do echo "$(stat -c '%A %u:%g' "$f") $f"; done`);
    assert.equal(
      listing,
      [
        "drwxr-xr-x 0:0 d1",
        "drwxr-xr-x 0:0 d1/inner",
        "-rw-r--r-- 0:0 d1/inner/y",
        "-rw-r--r-- 0:0 d1/x",
        "drwxr-xr-x 0:0 d2",
        "drwxr-xr-x 0:0 d2/inner",
        "-rw-r--r-- 0:0 d2/inner/y",
        "-rw-r--r-- 0:0 d2/x",
        "drwxr-xr-x 0:0 multi",
        "-rw-r--r-- 0:0 multi/one.txt",
        "-rw-r--r-- 0:0 multi/two.txt",
        "-rw-r--r-- 0:0 newname",
        "-rw-r--r-- 65534:65534 owned",
        "drwxr-xr-x 1234:5678 owned-dir",
        "drwxr-xr-x 1234:5678 owned-dir/inner",
        "-rw-r--r-- 1234:5678 owned-dir/inner/y",
        "-rw-r--r-- 1234:5678 owned-dir/x",
        "-rw------- 0:0 private",
        "drwxr-xr-x 0:0 spaced",
        "-rw-r--r-- 0:0 spaced/with space.txt",
        "drwxr-xr-x 0:0 txt",
        "-rw-r--r-- 0:0 txt/one.txt",
        "-rw-r--r-- 0:0 txt/two.txt",
        "-rw-r--r-- 0:0 txt/with space.txt",
        "drwxr-xr-x 0:0 wd",
        "-rw-r--r-- 0:0 wd/one.txt",
        "drwxr-xr-x 0:0 wd/rel",
        "-rw-r--r-- 0:0 wd/rel/one.txt",
        "drwxr-xr-x 0:0 wild",
        "-rw-r--r-- 0:0 wild/one.txt",
        "-rw-r--r-- 0:0 wild/two.txt",
        "",
      ].join("\n"),
    );
    const h = await history("fx-copy");
    assert.equal(h[0], "/bin/sh -c #(nop) COPY multi:HASH in /wild/ ");
    assert.equal(h[1], "/bin/sh -c #(nop) COPY file:HASH in rel/ ");
    assert.equal(h[11], "/bin/sh -c #(nop) COPY dir:HASH in /d1 ");
  });

  it("ADD: local files, tar and tar.gz archives extracted", async () => {
    const dir = path.join(tmp, "add");
    cpSync(path.join(FIXTURES, "add"), dir, { recursive: true });
    const src = path.join(tmp, "archive-src");
    mkdirSync(path.join(src, "sub"), { recursive: true });
    writeFileSync(path.join(src, "a.txt"), "a\n");
    writeFileSync(path.join(src, "sub/b.txt"), "b\n");
    execFileSync("tar", ["-C", src, "-czf", path.join(dir, "archive.tar.gz"), "."]);
    execFileSync("tar", ["-C", src, "-cf", path.join(dir, "archive.tar"), "."]);
    await buildOK(["-t", "fx-add", dir]);
    assert.equal(await sh("fx-add", "cat /plain.txt /extracted/a.txt /extracted/sub/b.txt /extracted-plain/sub/b.txt"), "plain\na\nb\nb\n");
    // A URL that cannot be reached is a clear error, not a hang.
    writeFileSync(path.join(dir, "Dockerfile"), "FROM busybox\nADD http://127.0.0.1:45631/file.txt /x\n");
    const r = await build([dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /failed to GET http:\/\/127\.0\.0\.1:45631\/file\.txt: connect ECONNREFUSED/);
  });

  it("ONBUILD: triggers run in the child build, then are dropped", async () => {
    await buildOK(["-t", "build-onbuild-parent", path.join(FIXTURES, "onbuild-parent")]);
    assert.deepEqual((await inspect("build-onbuild-parent")).Config.OnBuild, ["RUN echo triggered > /trig", "COPY f /from-child"]);
    const out = await buildOK(["-t", "fx-child", path.join(FIXTURES, "onbuild-child")]);
    assert.match(out, /Step 1\/2 : FROM build-onbuild-parent\n# Executing 2 build triggers\n/);
    assert.equal(await sh("fx-child", "cat /both"), "triggered\nchild-file\n");
    assert.equal((await inspect("fx-child")).Config.OnBuild, null);
  });

  it("FROM scratch, SHELL, ENTRYPOINT/CMD, -f outside the context and from stdin, --label, several -t", async () => {
    const dir = path.join(tmp, "misc");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "hello"), "hello\n");
    const df = path.join(tmp, "Misc.Dockerfile");
    writeFileSync(
      df,
      [
        "FROM scratch AS files",
        "COPY hello /hello",
        "FROM busybox",
        'SHELL ["/bin/sh", "-xc"]',
        "RUN echo shelled > /s",
        "COPY --from=files /hello /",
        "ENTRYPOINT echo e",
        "CMD c",
        "",
      ].join("\n"),
    );
    const out = await buildOK(["-f", df, "--label", "a=1", "--label", "b=two words", "-t", "fx-misc:1", "-t", "fx-misc:2", dir]);
    assert.match(out, /\+ echo shelled/);
    // --label: one LABEL step per label, sorted by key, values never expanded.
    assert.match(out, /Step 9\/10 : LABEL a=1\n ---> [0-9a-f]{12}\nStep 10\/10 : LABEL b=two words\n/);
    assert.match(out, /Successfully tagged fx-misc:1\nSuccessfully tagged fx-misc:2\n/);
    const img = await inspect("fx-misc:2");
    assert.deepEqual(img.RepoTags.sort(), ["fx-misc:1", "fx-misc:2"]);
    assert.deepEqual(img.Config.Shell, ["/bin/sh", "-xc"]);
    assert.deepEqual(img.Config.Entrypoint, ["/bin/sh", "-xc", "echo e"]);
    assert.deepEqual(img.Config.Cmd, ["/bin/sh", "-xc", "c"]);
    assert.deepEqual(img.Config.Labels, { a: "1", b: "two words" });
    const h = await history("fx-misc:1");
    assert.equal(h[0], "/bin/sh -xc #(nop)  LABEL b=two words");
    assert.equal(h[1], "/bin/sh -xc #(nop)  LABEL a=1");
    assert.equal(h[2], `/bin/sh -xc #(nop)  CMD ["/bin/sh" "-xc" "c"]`);
    assert.equal(h[5], "/bin/sh -xc echo shelled > /s");
    assert.equal(h[6], "/bin/sh -xc #(nop)  SHELL [/bin/sh -xc]");
    // The Dockerfile from stdin (docker build -f - DIR).
    const stdin = await build(["-f", "-", "-t", "fx-stdin", dir], "FROM busybox\nCOPY hello /h\n");
    assert.equal(stdin.code, 0, stdin.out);
    assert.equal(await sh("fx-stdin", "cat /h"), "hello\n");
    // A context that is only a Dockerfile (docker build - < Dockerfile).
    const bare = await build(["-t", "fx-bare", "-"], "FROM busybox\nRUN echo bare > /b\n");
    assert.equal(bare.code, 0, bare.out);
    assert.equal(await sh("fx-bare", "cat /b"), "bare\n");
  });
});
