// docker cp and the archive endpoints behind it, with the real docker CLI and with pier:
// HEAD/GET/PUT /containers/{id}/archive and X-Docker-Container-Path-Stat (Go FileMode bits),
// directories, files, symlinks, "dir/." contents, -L, -a (copyUIDGID), noOverwriteDirNonDir,
// running and stopped containers, volumes and bind mounts as part of the container's view,
// read-only volumes and rootfs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, promises as fsp, readFileSync, existsSync, lstatSync, readlinkSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { startEngine, type Engine, apiRequest, type RawResponse } from "../harness.js";

const tar = createRequire(import.meta.url)("tar-stream") as typeof import("tar-stream");

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;


const api = apiRequest;

function pathStat(res: RawResponse): { name: string; size: number; mode: number; mtime: string; linkTarget: string } {
  const h = res.headers["x-docker-container-path-stat"];
  assert.equal(typeof h, "string", "X-Docker-Container-Path-Stat is set");
  return JSON.parse(Buffer.from(h as string, "base64").toString());
}

interface TarEntry {
  name: string;
  type: string;
  uid: number;
  gid: number;
  mode: number;
  linkname?: string;
  data: string;
}

async function tarEntries(buf: Buffer): Promise<TarEntry[]> {
  const ex = tar.extract();
  const out: TarEntry[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({ name: h.name, type: h.type, uid: h.uid, gid: h.gid, mode: h.mode, linkname: h.linkname ?? undefined, data: Buffer.concat(chunks).toString() });
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

async function makeTar(entries: { name: string; type?: "file" | "directory" | "symlink" | "link"; data?: string; linkname?: string; mode?: number }[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const en of entries) {
    const type = en.type ?? "file";
    if (type === "file") p.entry({ name: en.name, mode: en.mode ?? 0o644 }, en.data ?? "");
    else p.entry({ name: en.name, type, linkname: en.linkname, mode: en.mode ?? (type === "directory" ? 0o755 : 0o777) });
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}

describe("docker cp and /containers/{id}/archive", () => {
  let e: Engine;
  let tmp: string;
  let ctr: string;
  let bindDir: string;

  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-cp-");
    bindDir = path.join(tmp, "bind");
    await fsp.mkdir(bindDir);
    await fsp.writeFile(path.join(bindDir, "onhost"), "from the host\n");
    const r = await e.docker([
      "run", "-d", "--name", "cpc", "-v", "cpvol:/data", "-v", `${bindDir}:/bind`, "-v", "cprovol:/ro:ro",
      "busybox", "sh", "-c",
      "mkdir -p /w/dir/sub && echo hello > /w/dir/file && echo deep > /w/dir/sub/deep && ln -s dir/file /w/rel && ln -s /w/dir /w/abs && ln -s / /w/root && echo vol > /data/v && chmod 4755 /w/dir/file && touch /w/exists-file && sleep 1000",
    ]);
    assert.equal(r.code, 0, r.stderr);
    ctr = r.stdout.trim();
    for (let i = 0; i < 50; i++) {
      if ((await api(e, "HEAD", `/containers/${ctr}/archive?path=/w/exists-file`)).status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it("HEAD stats a path: Go FileMode bits, size, mtime, linkTarget resolved in the container", async () => {
    const dir = pathStat(await api(e, "HEAD", `/containers/${ctr}/archive?path=/w/dir`));
    assert.equal(dir.name, "dir");
    assert.ok(dir.mode & MODE_DIR, "directory bit (1<<31)");
    assert.equal(dir.mode & 0o777, 0o755);
    assert.match(dir.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(dir.linkTarget, "");
    const file = pathStat(await api(e, "HEAD", `/containers/${ctr}/archive?path=/w/dir/file`));
    assert.equal(file.size, 6);
    assert.equal(file.mode, 0o755 | 2 ** 23, "setuid is Go's ModeSetuid (1<<23), not 04000");
    const rel = pathStat(await api(e, "HEAD", `/containers/${ctr}/archive?path=/w/rel`));
    assert.ok(rel.mode & MODE_SYMLINK);
    assert.equal(rel.linkTarget, "/w/dir/file");
    assert.equal(pathStat(await api(e, "HEAD", `/containers/${ctr}/archive?path=/w/root`)).linkTarget, "/");
    const missing = await api(e, "HEAD", `/containers/${ctr}/archive?path=/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await api(e, "HEAD", `/containers/${ctr}/archive`)).status, 400);
    assert.equal((await api(e, "HEAD", `/containers/nosuch/archive?path=/`)).status, 404);
  });

  it("GET returns a tar rebased on the resource's name, with the stat header", async () => {
    const res = await api(e, "GET", `/containers/${ctr}/archive?path=/w/dir`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/x-tar");
    assert.equal(pathStat(res).name, "dir");
    const names = (await tarEntries(res.body)).map((x) => x.name);
    assert.deepEqual(names, ["dir/", "dir/file", "dir/sub/", "dir/sub/deep"]);
    const contents = await tarEntries((await api(e, "GET", `/containers/${ctr}/archive?path=/w/dir/.`)).body);
    assert.deepEqual(contents.map((x) => x.name), ["./", "./file", "./sub/", "./sub/deep"]);
    const link = await tarEntries((await api(e, "GET", `/containers/${ctr}/archive?path=/w/rel`)).body);
    assert.deepEqual(link.map((x) => [x.name, x.type, x.linkname]), [["rel", "symlink", "dir/file"]]);
    const missing = await api(e, "GET", `/containers/${ctr}/archive?path=/nope`);
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body.toString()).message, /Could not find the file \/nope in container/);
  });

  it("docker cp out: a directory, a file, a symlink, -L, dir/. and into a new name", async () => {
    const out = path.join(tmp, "out");
    await fsp.mkdir(out);
    let r = await e.docker(["cp", "cpc:/w/dir", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(out, "dir/sub/deep"), "utf8"), "deep\n");
    assert.equal(statSync(path.join(out, "dir/file")).mode & 0o7777, 0o4755);
    r = await e.docker(["cp", "cpc:/w/rel", path.join(out, "link")]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readlinkSync(path.join(out, "link")), "dir/file", "a symlink is copied as a symlink");
    r = await e.docker(["cp", "-L", "cpc:/w/rel", path.join(out, "followed")]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(path.join(out, "followed")).isFile());
    assert.equal(readFileSync(path.join(out, "followed"), "utf8"), "hello\n");
    r = await e.docker(["cp", "cpc:/w/dir/.", path.join(out, "contents")]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(out, "contents/sub/deep")));
    r = await e.docker(["cp", "cpc:/w/abs/", path.join(out, "viaabs")]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(out, "viaabs/file")), "a trailing slash follows the symlink");
    r = await e.docker(["cp", "cpc:/nope", out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Could not find the file \/nope in container cpc/);
  });

  it("docker cp in: a directory, a file, a symlink, -L, from stdin", async () => {
    const src = path.join(tmp, "src");
    await fsp.mkdir(path.join(src, "tree/inner"), { recursive: true });
    await fsp.writeFile(path.join(src, "tree/inner/x"), "x\n");
    await fsp.writeFile(path.join(src, "single"), "single\n", { mode: 0o600 });
    await fsp.symlink("tree/inner/x", path.join(src, "ln"));
    let r = await e.docker(["cp", path.join(src, "tree"), "cpc:/w/"]);
    assert.equal(r.code, 0, r.stderr);
    r = await e.docker(["cp", path.join(src, "single"), "cpc:/w/renamed"]);
    assert.equal(r.code, 0, r.stderr);
    r = await e.docker(["cp", path.join(src, "ln"), "cpc:/w/"]);
    assert.equal(r.code, 0, r.stderr);
    r = await e.docker(["cp", "-L", path.join(src, "ln"), "cpc:/w/lnfollowed"]);
    assert.equal(r.code, 0, r.stderr);
    r = await e.docker(["cp", "-", "cpc:/w/"], { input: (await makeTar([{ name: "fromstdin", data: "stdin\n" }])).toString("latin1") });
    assert.equal(r.code, 0, r.stderr);
    const entries = await tarEntries((await api(e, "GET", `/containers/${ctr}/archive?path=/w`)).body);
    const by = new Map(entries.map((x) => [x.name, x]));
    assert.equal(by.get("w/tree/inner/x")?.data, "x\n");
    assert.equal(by.get("w/renamed")?.data, "single\n");
    assert.equal((by.get("w/renamed")!.mode & 0o777), 0o600);
    assert.equal(by.get("w/ln")?.type, "symlink");
    assert.equal(by.get("w/lnfollowed")?.type, "file");
    assert.equal(by.get("w/fromstdin")?.data, "stdin\n");
  });

  it("volumes and bind mounts are part of the view, running and stopped; read-only ones refuse", async () => {
    const src = path.join(tmp, "vsrc");
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, "tovol"), "to volume\n");
    let r = await e.docker(["cp", path.join(src, "tovol"), "cpc:/bind/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(bindDir, "tovol"), "utf8"), "to volume\n", "lands in the bound host dir");
    r = await e.docker(["cp", "cpc:/bind/onhost", "-"]);
    assert.match(r.stdout, /from the host/);
    r = await e.docker(["cp", "cpc:/data/v", "-"]);
    assert.match(r.stdout, /vol/);
    r = await e.docker(["cp", path.join(src, "tovol"), "cpc:/ro/"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /mounted volume is marked read-only/);

    assert.equal((await e.docker(["stop", "-t", "0", "cpc"])).code, 0);
    r = await e.docker(["cp", "cpc:/data/v", "-"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /vol/, "a stopped container's volumes are mounted for the copy");
    r = await e.docker(["cp", path.join(src, "tovol"), "cpc:/data/stopped"]);
    assert.equal(r.code, 0, r.stderr);
    r = await e.docker(["cp", "cpc:/w/dir/file", "-"]);
    assert.equal(r.code, 0, r.stderr);
    // The rootfs is released once the copy's stream has ended, which can be a moment after the
    // CLI has its answer.
    let mounted = true;
    for (let i = 0; i < 40 && mounted; i++) {
      mounted = readFileSync("/proc/self/mountinfo", "utf8").includes(`containers/${ctr}/merged`);
      if (mounted) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!mounted, "the stopped container's rootfs is unmounted again");
    assert.equal((await e.docker(["start", "cpc"])).code, 0);
    r = await e.docker(["cp", "cpc:/data/stopped", "-"]);
    assert.match(r.stdout, /to volume/);
  });

  it("noOverwriteDirNonDir, copyUIDGID (-a) and a read-only rootfs", async () => {
    // A directory may not replace a file (the CLI always asks for noOverwriteDirNonDir).
    const src = path.join(tmp, "ow");
    await fsp.mkdir(path.join(src, "exists-file"), { recursive: true });
    let r = await e.docker(["cp", path.join(src, "exists-file"), "cpc:/w/"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot overwrite non-directory "\/w\/exists-file" with directory "\/w"/);
    const put = await api(e, "PUT", `/containers/${ctr}/archive?path=/w&noOverwriteDirNonDir=1`, await makeTar([{ name: "dir", data: "x" }]));
    assert.equal(put.status, 500);
    assert.match(JSON.parse(put.body.toString()).message, /cannot overwrite directory/);
    const notDir = await api(e, "PUT", `/containers/${ctr}/archive?path=/w/exists-file`, await makeTar([{ name: "a" }]));
    assert.equal(notDir.status, 400);
    assert.match(JSON.parse(notDir.body.toString()).message, /extraction point is not a directory/);
    assert.equal((await api(e, "PUT", `/containers/${ctr}/archive?path=/nope`, await makeTar([{ name: "a" }]))).status, 404);

    const u = await e.docker(["run", "-d", "--name", "cpuser", "-u", "nobody", "busybox", "sleep", "1000"]);
    assert.equal(u.code, 0, u.stderr);
    await fsp.writeFile(path.join(src, "owned"), "o\n");
    assert.equal((await e.docker(["cp", "-a", path.join(src, "owned"), "cpuser:/tmp/archived"])).code, 0);
    assert.equal((await e.docker(["cp", path.join(src, "owned"), "cpuser:/tmp/plain"])).code, 0);
    const es = await tarEntries((await api(e, "GET", `/containers/cpuser/archive?path=/tmp`)).body);
    const archived = es.find((x) => x.name === "tmp/archived")!;
    assert.deepEqual([archived.uid, archived.gid], [65534, 65534], "-a gives the container user's uid/gid");
    const plain = es.find((x) => x.name === "tmp/plain")!;
    assert.deepEqual([plain.uid, plain.gid], [process.getuid!(), process.getgid!()], "without -a the tar's owner is kept");

    const ro = await e.docker(["run", "-d", "--name", "cpro", "--read-only", "-v", "cprw:/rw", "busybox", "sleep", "1000"]);
    assert.equal(ro.code, 0, ro.stderr);
    r = await e.docker(["cp", path.join(src, "owned"), "cpro:/tmp/"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container rootfs is marked read-only/);
    r = await e.docker(["cp", path.join(src, "owned"), "cpro:/rw/"]);
    assert.equal(r.code, 0, r.stderr);
  });

  it("pier cp both ways", async () => {
    const out = path.join(tmp, "pierout");
    await fsp.mkdir(out);
    let r = await e.pier(["cp", "cpc:/w/dir", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(out, "dir/sub/deep"), "utf8"), "deep\n");
    r = await e.pier(["cp", "-L", "cpc:/w/rel", path.join(out, "f")]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(out, "f"), "utf8"), "hello\n");
    r = await e.pier(["cp", "cpc:/w/dir/.", path.join(out, "c")]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(out, "c/file")));
    r = await e.pier(["cp", path.join(out, "dir"), "cpc:/w/frompier"]);
    assert.equal(r.code, 0, r.stderr);
    const es = await tarEntries((await api(e, "GET", `/containers/${ctr}/archive?path=/w/frompier`)).body);
    assert.ok(es.some((x) => x.name === "frompier/sub/deep" && x.data === "deep\n"));
    r = await e.pier(["cp", "cpc:/nope", out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Could not find the file \/nope in container cpc/);
    r = await e.pier(["cp", "cpc:/a", "cpc:/b"]);
    assert.match(r.stderr, /copying between containers is not supported/);
  });
});
