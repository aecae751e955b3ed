// `pier build` with Docker's flags, and the same scenarios through the real `docker build`
// (classic builder): tags, -f (a path, outside the context, `-f -`), build args with and
// without a value, --target, --no-cache, -q, --label, --network, --iidfile, --cache-from,
// --pull, .dockerignore applied by the client, a context on stdin, failures' exit codes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { DOCKER, ROOT, startEngine, type Engine } from "../harness.js";

// For `--build-arg FROM_ENV` (no value): the client takes it from its environment.
process.env.PIER_BUILD_TEST_FROM_ENV = "env-value";

let engine: Engine;
const tmp = mkdtempSync("/tmp/pier-build-cli-");

before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

type Client = "pier" | "docker";
const CLIENTS: Client[] = ["pier", "docker"];

async function build(client: Client, args: string[], input?: string) {
  const r =
    client === "pier"
      ? await engine.pier(["build", ...args], { input, timeoutMs: 90_000 })
      : await engine.docker(["build", ...args], { input, timeoutMs: 90_000, env: { DOCKER_BUILDKIT: "0" } });
  return { ...r, out: r.stdout + r.stderr };
}

function ctx(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

async function run(image: string, script: string): Promise<string> {
  const r = await engine.docker(["run", "--rm", "--entrypoint", "sh", image, "-c", script]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

async function inspect(ref: string): Promise<Record<string, any>> {
  const r = await engine.docker(["image", "inspect", ref]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout)[0];
}

const cacheHits = (out: string) => (out.match(/ ---> Using cache\n/g) ?? []).length;

for (const client of CLIENTS) {
  describe(`${client} build`, () => {
    it("tags, build args (with a value, from the environment, unset), labels, --iidfile, classic progress", async () => {
      const dir = ctx(`${client}-basic`, {
        Dockerfile: ["FROM busybox", "ARG A", "ARG PIER_BUILD_TEST_FROM_ENV", "ARG UNSET=default", "RUN echo \"$A/$PIER_BUILD_TEST_FROM_ENV/$UNSET\" > /args", "LABEL from=dockerfile", ""].join("\n"),
      });
      const iid = path.join(tmp, `${client}.iid`);
      writeFileSync(iid, "stale");
      const r = await build(client, [
        "-t",
        `${client}-basic:1`,
        "-t",
        `${client}-basic:2`,
        "--build-arg",
        "A=given",
        "--build-arg",
        "PIER_BUILD_TEST_FROM_ENV",
        "--build-arg",
        "UNSET",
        "--label",
        "cli=yes",
        "--label",
        "empty",
        "--iidfile",
        iid,
        dir,
      ]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, /^Sending build context to Docker daemon\s+\d+(\.\d+)?k?B\r/);
      assert.match(r.stdout, /\nStep 1\/8 : FROM busybox\n ---> [0-9a-f]{12}\n/);
      // --label: one LABEL step per label, sorted, at the end (moby's buildLabelOptions).
      assert.match(r.stdout, /Step 7\/8 : LABEL cli=yes\n( ---> Using cache\n)? ---> [0-9a-f]{12}\nStep 8\/8 : LABEL empty=\n/);
      assert.match(r.stdout, /Successfully built ([0-9a-f]{12})\nSuccessfully tagged (pier|docker)-basic:1\nSuccessfully tagged (pier|docker)-basic:2\n$/);
      const id = readFileSync(iid, "utf8");
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.equal(r.stdout.match(/Successfully built ([0-9a-f]{12})/)![1], id.slice(7, 19));
      assert.equal(await run(`${client}-basic:2`, "cat /args"), "given/env-value/default\n");
      const img = await inspect(id);
      assert.deepEqual(img.Config.Labels, { cli: "yes", empty: "", from: "dockerfile" });
    });

    it("applies .dockerignore before sending; the Dockerfile and .dockerignore always go", async () => {
      const dir = ctx(`${client}-ignore`, {
        Dockerfile: "FROM busybox\nCOPY . /ctx/\n",
        ".dockerignore": "Dockerfile\n.dockerignore\nsecret\n*.log\nbuild\n!build/keep\n",
        "app.txt": "app\n",
        secret: "s\n",
        "debug.log": "l\n",
        "build/drop": "d\n",
        "build/keep": "k\n",
      });
      const r = await build(client, ["-t", `${client}-ignore`, dir]);
      assert.equal(r.code, 0, r.out);
      assert.equal(await run(`${client}-ignore`, "cd /ctx && find . | sort"), "./\n./app.txt\n./build\n./build/keep\n".replace("./\n", ".\n"));
    });

    it("-f inside the context, outside it, and from stdin (never copied into the image)", async () => {
      const dir = ctx(`${client}-file`, { "df/Custom": "FROM busybox\nCOPY . /ctx/\nRUN echo custom > /which\n", "a.txt": "a\n" });
      const inside = await build(client, ["-f", path.join(dir, "df/Custom"), "-t", `${client}-f1`, dir]);
      assert.equal(inside.code, 0, inside.out);
      assert.equal(await run(`${client}-f1`, "cat /which; ls /ctx"), "custom\na.txt\ndf\n");
      const outsideFile = path.join(tmp, `${client}-outside.Dockerfile`);
      writeFileSync(outsideFile, "FROM busybox\nCOPY . /ctx/\nRUN echo outside > /which\n");
      const outside = await build(client, ["-f", outsideFile, "-t", `${client}-f2`, dir]);
      assert.equal(outside.code, 0, outside.out);
      assert.equal(await run(`${client}-f2`, "cat /which; ls -a /ctx"), "outside\n.\n..\na.txt\ndf\n");
      const stdin = await build(client, ["-f", "-", "-t", `${client}-f3`, dir], "FROM busybox\nCOPY . /ctx/\nRUN echo stdin > /which\n");
      assert.equal(stdin.code, 0, stdin.out);
      assert.equal(await run(`${client}-f3`, "cat /which; ls -a /ctx"), "stdin\n.\n..\na.txt\ndf\n");
      const missing = await build(client, ["-f", path.join(dir, "nope"), dir]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.out, /unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat .*nope: no such file or directory/);
    });

    it("a context on stdin: a lone Dockerfile, or a tar", async () => {
      const lone = await build(client, ["-t", `${client}-stdin1`, "-"], "FROM busybox\nRUN echo lone > /x\n");
      assert.equal(lone.code, 0, lone.out);
      assert.equal(await run(`${client}-stdin1`, "cat /x"), "lone\n");
      const dir = ctx(`${client}-stdin-tar`, { Dockerfile: "FROM busybox\nCOPY f /f\n", f: "from tar\n" });
      // The harness passes input as text: the binary tar goes through a shell redirection.
      const tarFile = path.join(tmp, `${client}-ctx.tar`);
      execFileSync("tar", ["-cf", tarFile, "-C", dir, "."]);
      const cmd = client === "pier" ? `"${process.execPath}" "${path.join(ROOT, "bin/pier.js")}"` : DOCKER;
      const viaShell = execFileSync("sh", ["-c", `${cmd} build -q -t ${client}-stdin3 - < "${tarFile}"`], {
        env: { ...process.env, DOCKER_HOST: engine.host, PIER_HOST: engine.host, DOCKER_BUILDKIT: "0" },
      }).toString();
      assert.match(viaShell, /^sha256:[0-9a-f]{64}\n$/);
      assert.equal(await run(`${client}-stdin3`, "cat /f"), "from tar\n");
    });

    it("--target, --no-cache, -q, --network none", async () => {
      const dir = ctx(`${client}-stages`, {
        Dockerfile: ["FROM busybox AS first", "RUN ls /sys/class/net > /nets", "FROM busybox AS second", "RUN echo second > /s", ""].join("\n"),
      });
      const t = await build(client, ["--target", "first", "--network", "none", "-t", `${client}-first`, dir]);
      assert.equal(t.code, 0, t.out);
      assert.doesNotMatch(t.out, /FROM busybox AS second/);
      assert.equal(await run(`${client}-first`, "cat /nets"), "lo\n");
      const cached = await build(client, ["--target", "first", "--network", "none", dir]);
      assert.equal(cacheHits(cached.out), 1, cached.out);
      const nc = await build(client, ["--no-cache", "--target", "first", "--network", "none", dir]);
      assert.equal(nc.code, 0, nc.out);
      assert.equal(cacheHits(nc.out), 0, nc.out);
      const q = await build(client, ["-q", dir]);
      assert.equal(q.code, 0, q.out);
      assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    });

    it("--cache-from and --pull reach the builder", async () => {
      const dir = ctx(`${client}-cf`, { Dockerfile: "FROM busybox\nRUN echo x > /x\n" });
      const first = await build(client, ["-t", `${client}-cf`, dir]);
      assert.equal(first.code, 0, first.out);
      const other = await build(client, ["--cache-from", "busybox", dir]);
      assert.equal(cacheHits(other.out), 0, other.out);
      const own = await build(client, ["--cache-from", `${client}-cf`, dir]);
      assert.equal(cacheHits(own.out), 1, own.out);
      if (client === "pier" || !process.env.PIER_TEST_DOCKER_HOST) {
        const pull = await build(client, ["--pull", dir]);
        assert.notEqual(pull.code, 0);
        assert.match(pull.out, /busybox:latest/);
      }
    });

    it("a failing step: its exit code; -q shows the hidden output on failure; bad flags", async () => {
      const dir = ctx(`${client}-fail`, { Dockerfile: "FROM busybox\nRUN echo visible; exit 7\n" });
      const r = await build(client, [dir]);
      assert.equal(r.code, 7, r.out);
      assert.match(r.stderr, /The command '\/bin\/sh -c echo visible; exit 7' returned a non-zero code: 7/);
      const q = await build(client, ["-q", dir]);
      assert.equal(q.code, 7);
      assert.equal(q.stdout, "");
      assert.match(q.stderr, /visible/);
      const tag = await build(client, ["-t", "Bad:Tag", dir]);
      assert.notEqual(tag.code, 0);
      assert.match(tag.stderr, /invalid argument "Bad:Tag" for "-t, --tag" flag: invalid reference format/);
      const both = await build(client, ["-f", "-", "-"], "FROM busybox\n");
      assert.notEqual(both.code, 0);
      assert.match(both.stderr, /can't use stdin for both build context and dockerfile/);
      const nodir = await build(client, [path.join(tmp, "no-such-dir")]);
      assert.notEqual(nodir.code, 0);
      assert.match(nodir.stderr, /unable to prepare context: path ".*no-such-dir" not found/);
      assert.ok(!existsSync(path.join(tmp, "no-such-dir")));
    });
  });
}
