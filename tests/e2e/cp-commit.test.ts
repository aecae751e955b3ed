// A container's filesystem as a whole: export (tar of the rootfs), diff (/changes: Kind 0
// modified, 1 added, 2 deleted) and commit (a new image from the changes: --change
// instructions, --pause, author, message, config merge, history, empty layers), with the docker
// CLI and pier.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, promises as fsp, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { startEngine, type Engine, apiRequest } from "../harness.js";
import { assertMatchesSpec, specAvailable } from "../apispec.js";

const tar = createRequire(import.meta.url)("tar-stream") as typeof import("tar-stream");

const api = apiRequest;

async function tarNames(buf: Buffer): Promise<Map<string, string>> {
  const ex = tar.extract();
  const out = new Map<string, string>();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, Buffer.concat(chunks).toString());
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

describe("export, diff and commit", () => {
  let e: Engine;
  let tmp: string;
  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-commit-");
    const r = await e.docker(["run", "--name", "changed", "-v", "exvol:/vol", "busybox", "sh", "-c", "mkdir /w && echo new > /w/new && echo extra >> /etc/passwd && rm /etc/group && echo v > /vol/in-volume"]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it("diff lists added, changed and deleted paths, not runc's mount points", async () => {
    const r = await e.docker(["diff", "changed"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["C /etc", "D /etc/group", "C /etc/passwd", "A /vol", "A /w", "A /w/new"]);
    const res = await api(e, "GET", "/containers/changed/changes");
    assert.equal(res.status, 200);
    if (specAvailable()) assertMatchesSpec("GET /containers/{id}/changes", res.json());
    assert.deepEqual(res.json().slice(0, 2), [{ Path: "/etc", Kind: 0 }, { Path: "/etc/group", Kind: 2 }]);
    const p = await e.pier(["diff", "changed"]);
    assert.equal(p.stdout, r.stdout);
    const created = await e.docker(["create", "--name", "fresh", "busybox"]);
    assert.equal(created.code, 0);
    assert.equal((await e.docker(["diff", "fresh"])).stdout, "", "a container never started has no changes");
    assert.equal((await api(e, "GET", "/containers/nosuch/changes")).status, 404);
  });

  it("export is the container's filesystem without its volumes", async () => {
    const out = path.join(tmp, "export.tar");
    const r = await e.docker(["export", "-o", out, "changed"]);
    assert.equal(r.code, 0, r.stderr);
    const names = await tarNames(readFileSync(out));
    assert.ok(names.has("bin/busybox"));
    assert.equal(names.get("w/new"), "new\n");
    assert.match(names.get("etc/passwd") ?? "", /extra/);
    assert.ok(!names.has("etc/group"), "deleted files are gone");
    assert.ok(!names.has("vol/in-volume"), "volumes are not part of an export");
    const running = await e.docker(["run", "-d", "--name", "exrun", "busybox", "sh", "-c", "echo live > /live; sleep 1000"]);
    assert.equal(running.code, 0);
    await new Promise((res) => setTimeout(res, 300));
    const p = await e.pier(["export", "-o", path.join(tmp, "live.tar"), "exrun"]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal((await tarNames(readFileSync(path.join(tmp, "live.tar")))).get("live"), "live\n");
    assert.equal((await api(e, "GET", "/containers/nosuch/export")).status, 404);
  });

  it("commit makes an image from the changes with --change, author and message", async () => {
    const r = await e.docker(["commit", "-a", "Jane <jane@example.com>", "-m", "a message", "-c", "ENV COMMITTED=yes", "-c", 'CMD ["cat", "/w/new"]', "-c", "LABEL stage=committed", "-c", "EXPOSE 8080", "-c", "WORKDIR /w", "changed", "committed:1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const inspect = JSON.parse((await e.docker(["image", "inspect", "committed:1"])).stdout)[0];
    const base = JSON.parse((await e.docker(["image", "inspect", "busybox"])).stdout)[0];
    assert.equal(inspect.Author, "Jane <jane@example.com>");
    assert.equal(inspect.Comment, "a message");
    assert.equal(inspect.Parent, base.Id);
    assert.equal(inspect.RootFS.Layers.length, base.RootFS.Layers.length + 1);
    assert.ok(inspect.Config.Env.includes("COMMITTED=yes"));
    assert.ok(inspect.Config.Env.some((v: string) => v.startsWith("PATH=")), "the container's env is kept");
    assert.deepEqual(inspect.Config.Cmd, ["cat", "/w/new"]);
    assert.equal(inspect.Config.Labels.stage, "committed");
    assert.ok("8080/tcp" in inspect.Config.ExposedPorts);
    assert.equal(inspect.Config.WorkingDir, "/w");
    const run = await e.docker(["run", "--rm", "committed:1"]);
    assert.equal(run.stdout, "new\n");
    const hist = JSON.parse((await api(e, "GET", "/images/committed:1/history")).text);
    assert.equal(hist[0].Comment, "a message");
    assert.ok(hist[0].Size > 0);
    assert.equal(hist.length, JSON.parse((await api(e, "GET", "/images/busybox/history")).text).length + 1);
    const events = await e.docker(["events", "--since", "60s", "--until", String(Math.ceil(Date.now() / 1000) + 1), "--filter", "container=changed", "--filter", "event=commit", "--format", "{{json .Actor.Attributes}}"]);
    const attrs = JSON.parse(events.stdout.trim().split("\n").pop()!);
    assert.equal(attrs.comment, "a message");
    assert.match(attrs.imageID, /^sha256:/);
  });

  it("commit of an unchanged container adds no layer, and a body config merges", async () => {
    const r = await e.docker(["commit", "fresh", "unchanged"]);
    assert.equal(r.code, 0, r.stderr);
    const inspect = JSON.parse((await e.docker(["image", "inspect", "unchanged"])).stdout)[0];
    const base = JSON.parse((await e.docker(["image", "inspect", "busybox"])).stdout)[0];
    assert.deepEqual(inspect.RootFS.Layers, base.RootFS.Layers);
    const res = await api(e, "POST", "/commit?container=changed&repo=bodyconf&tag=2&comment=viaapi", { Cmd: ["echo", "body"], Env: ["ONLY=body"] });
    assert.equal(res.status, 201, res.text);
    if (specAvailable()) assertMatchesSpec("POST /commit 201", res.json());
    const cfg = JSON.parse((await e.docker(["image", "inspect", "bodyconf:2"])).stdout)[0].Config;
    assert.deepEqual(cfg.Cmd, ["echo", "body"]);
    assert.ok(cfg.Env.includes("ONLY=body") && cfg.Env.some((v: string) => v.startsWith("PATH=")), "env merged by key");
    assert.equal((await api(e, "POST", "/commit?container=nosuch")).status, 404);
    assert.equal((await api(e, "POST", "/commit?container=changed&changes=BOGUS%20x")).status, 400);
  });

  it("commit pauses a running container by default (events), not with --pause=false; pier commit", async () => {
    const run = await e.docker(["run", "-d", "--name", "busy", "busybox", "sh", "-c", "echo data > /data; sleep 1000"]);
    assert.equal(run.code, 0);
    await new Promise((res) => setTimeout(res, 300));
    const since = String(Math.floor(Date.now() / 1000) - 1);
    assert.equal((await e.docker(["commit", "busy", "busy:paused"])).code, 0);
    assert.equal((await e.docker(["commit", "--pause=false", "busy", "busy:live"])).code, 0);
    const p = await e.pier(["commit", "-m", "via pier", "busy", "busy:pier"]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const ev = await e.docker(["events", "--since", since, "--until", String(Math.ceil(Date.now() / 1000) + 1), "--filter", "container=busy", "--filter", "event=pause", "--filter", "event=unpause", "--filter", "event=commit", "--format", "{{.Action}}"]);
    assert.deepEqual(ev.stdout.trim().split("\n"), ["pause", "unpause", "commit", "commit", "pause", "unpause", "commit"]);
    assert.equal((await e.docker(["inspect", "-f", "{{.State.Status}}", "busy"])).stdout.trim(), "running");
    const out = await e.docker(["run", "--rm", "busy:live", "cat", "/data"]);
    assert.equal(out.stdout, "data\n");
  });
});
