// Images through the real docker CLI: list, inspect, tag, history, rmi, save/load, import, prune.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { busyboxTar, startEngine, type Engine } from "../harness.js";

describe("images", () => {
  let e: Engine;
  let tmp: string;
  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-img-test-");
  });
  after(async () => {
    await e?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("lists, inspects and shows the history of busybox", async () => {
    const ls = await e.docker(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert.match(ls.stdout, /^busybox:latest [0-9a-f]{12}$/m);
    const table = await e.docker(["images"]);
    assert.match(table.stdout.split("\n")[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    const insp = JSON.parse((await e.docker(["image", "inspect", "busybox"])).stdout)[0];
    assert.deepEqual(insp.RepoTags, ["busybox:latest"]);
    assert.match(insp.Id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(insp.Config.Cmd, ["sh"]);
    assert.equal(insp.Os, "linux");
    assert.equal(insp.RootFS.Type, "layers");
    assert.ok(insp.Size > 1_000_000);
    const hist = await e.docker(["history", "--format", "{{.ID}} {{.CreatedBy}}", "busybox"]);
    assert.equal(hist.code, 0, hist.stderr);
    assert.ok(hist.stdout.trim().split("\n").length >= 1);
  });

  it("tags, untags and refuses to remove an image a container uses", async () => {
    assert.equal((await e.docker(["tag", "busybox", "localhost:5000/team/bb:1"])).code, 0);
    const tagged = await e.docker(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=localhost:5000/*/*"]);
    assert.equal(tagged.stdout.trim(), "localhost:5000/team/bb:1");
    const untag = await e.docker(["rmi", "localhost:5000/team/bb:1"]);
    assert.equal(untag.code, 0, untag.stderr);
    assert.match(untag.stdout, /^Untagged: localhost:5000\/team\/bb:1$/m);
    assert.doesNotMatch(untag.stdout, /Deleted:/, "the image still has another tag");

    const run = await e.docker(["create", "--name", "user-of-busybox", "busybox", "true"]);
    assert.equal(run.code, 0, run.stderr);
    const rmi = await e.docker(["rmi", "busybox"]);
    assert.equal(rmi.code, 1);
    assert.match(rmi.stderr, /conflict: unable to remove repository reference "busybox" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/);
    await e.docker(["rm", "user-of-busybox"]);
  });

  it("saves, removes and loads an image back with the same ID and files", async () => {
    const id = (await e.docker(["image", "inspect", "-f", "{{.Id}}", "busybox"])).stdout.trim();
    // A second image made from busybox so removing it does not disturb other tests.
    assert.equal((await e.docker(["tag", "busybox", "roundtrip:1"])).code, 0);
    const file = path.join(tmp, "rt.tar");
    const save = await e.docker(["save", "-o", file, "roundtrip:1"]);
    assert.equal(save.code, 0, save.stderr);
    assert.ok(statSync(file).size > 1_000_000);
    const listing = spawnSync("tar", ["-tf", file], { encoding: "utf8" }).stdout;
    assert.match(listing, /^manifest\.json$/m);
    assert.equal((await e.docker(["rmi", "roundtrip:1"])).code, 0);
    assert.equal((await e.docker(["image", "inspect", "roundtrip:1"])).code, 1);
    const load = await e.docker(["load", "-i", file]);
    assert.equal(load.code, 0, load.stderr);
    assert.match(load.stdout, /Loaded image: roundtrip:1/);
    assert.equal((await e.docker(["image", "inspect", "-f", "{{.Id}}", "roundtrip:1"])).stdout.trim(), id);
    const out = await e.docker(["run", "--rm", "roundtrip:1", "cat", "/etc/passwd"]);
    assert.match(out.stdout, /^root:x:0:0:/m);
    await e.docker(["rmi", "roundtrip:1"]);
  });

  it("refuses a truncated or foreign archive with an error, leaving nothing behind", async () => {
    const whole = readFileSync(busyboxTar());
    const cut = path.join(tmp, "cut.tar");
    // Cut inside the layer blob: the load fails while the layer is being unpacked.
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const junk = path.join(tmp, "junk.tar");
    writeFileSync(junk, Buffer.alloc(20_000, "not a tar archive "));
    const before = (await e.docker(["images", "-q", "--no-trunc"])).stdout;
    for (const file of [cut, junk]) {
      const r = await e.docker(["load", "-i", file]);
      assert.notEqual(r.code, 0, `${path.basename(file)} loaded: ${r.stdout}`);
      assert.match(r.stderr + r.stdout, /\S/, "an error message");
    }
    assert.equal((await e.docker(["images", "-q", "--no-trunc"])).stdout, before, "no image appeared");
    assert.equal((await e.docker(["version", "-f", "{{.Server.Version}}"])).code, 0, "the daemon still answers");
    if (e.dataRoot) {
      // Pier only: no half-unpacked layer and no half-written blob is left.
      assert.deepEqual(readdirSync(path.join(e.dataRoot, "overlay2", "tmp")), []);
      assert.deepEqual(readdirSync(path.join(e.dataRoot, "content", "ingest")), []);
    }
  });

  it("imports a root filesystem tar with --change", async () => {
    const root = path.join(tmp, "rootfs");
    spawnSync("mkdir", ["-p", `${root}/bin`, `${root}/etc`]);
    spawnSync("cp", ["/bin/busybox", `${root}/bin/busybox`]);
    writeFileSync(`${root}/etc/motd`, "imported\n");
    const tar = path.join(tmp, "rootfs.tar");
    spawnSync("tar", ["-C", root, "-cf", tar, "."]);
    const imp = await e.docker(["import", "--change", "ENV GREETING=hi", "--change", 'CMD ["/bin/busybox","cat","/etc/motd"]', tar, "imported:1"]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /^sha256:[0-9a-f]{64}$/m);
    const run = await e.docker(["run", "--rm", "imported:1"]);
    assert.equal(run.stdout, "imported\n");
    const env = await e.docker(["run", "--rm", "imported:1", "/bin/busybox", "sh", "-c", "echo $GREETING"]);
    assert.equal(env.stdout, "hi\n");
    assert.equal((await e.docker(["rmi", "imported:1"])).code, 0);
  });

  it("import --change EXPOSE: ports, protocols and ranges, and Docker's refusal of a bad spec", async () => {
    const tar = path.join(tmp, "empty.tar");
    spawnSync("tar", ["-cf", tar, "-T", "/dev/null"]);
    const imp = await e.docker(["import", "--change", "EXPOSE 80 8080/udp 7000-7002/tcp", tar, "exposed:1"]);
    assert.equal(imp.code, 0, imp.stderr);
    const ports = (await e.docker(["image", "inspect", "-f", "{{json .Config.ExposedPorts}}", "exposed:1"])).stdout;
    assert.deepEqual(Object.keys(JSON.parse(ports)).sort(), ["7000/tcp", "7001/tcp", "7002/tcp", "80/tcp", "8080/udp"]);
    assert.equal((await e.docker(["rmi", "exposed:1"])).code, 0);
    for (const [spec, message] of [["80a", "Invalid containerPort: 80a"], ["80/foo", "Invalid proto: foo"], ["/udp", "No port specified: /udp<empty>"]]) {
      const bad = await e.docker(["import", "--change", `EXPOSE ${spec}`, tar]);
      assert.equal(bad.code, 1, spec);
      assert.equal(bad.stderr.trim(), `Error response from daemon: ${message}`);
    }
  });

  it("prunes dangling images only", async () => {
    const before = (await e.docker(["images", "-q"])).stdout;
    const prune = await e.docker(["image", "prune", "-f"]);
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, /Total reclaimed space/);
    assert.equal((await e.docker(["images", "-q"])).stdout, before);
  });

  it("answers Docker's messages for missing and invalid images", async () => {
    const missing = await e.docker(["image", "inspect", "nope:1"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image: nope:1/);
    const rmi = await e.docker(["rmi", "nope:1"]);
    assert.match(rmi.stderr, /No such image: nope:1/);
    const bad = await e.docker(["tag", "busybox", "Bad:Name"]);
    assert.notEqual(bad.code, 0);
  });
});
