// docker cp can never reach the host: paths resolve inside the container's root even through a
// symlink to "/", "../" in the destination, tar entries that climb out, symlink-then-write
// tricks inside one tar, and a container that swaps a path component for a symlink while the
// copies run (CVE-2018-15664). And nothing of the container is ever loaded or run by the host
// side (CVE-2019-14271): the container is filled with booby-trapped copies of every module,
// addon and library pierd's copy helper could load; none may run.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, promises as fsp, readFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { ROOT, startEngine, type Engine, apiRequest } from "../harness.js";

const tar = createRequire(import.meta.url)("tar-stream") as typeof import("tar-stream");


const api = apiRequest;

type Entry = { name: string; type?: "file" | "directory" | "symlink" | "link"; data?: string | Buffer; linkname?: string; mode?: number };

async function makeTar(entries: Entry[]): Promise<Buffer> {
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

async function fileFromTar(buf: Buffer): Promise<string | undefined> {
  const ex = tar.extract();
  let data: string | undefined;
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.type === "file" && data === undefined) data = Buffer.concat(chunks).toString();
    }
  })();
  ex.end(buf);
  await done;
  return data;
}

describe("docker cp stays inside the container", () => {
  let e: Engine;
  let tmp: string;
  const tag = randomBytes(6).toString("hex");
  // A directory that exists on the host only, under a name the container also has.
  const hostDir = `/var/tmp/pier-cpsec-${tag}`;
  const hostTmpMarker = `/tmp/pier-cpsec-escape-${tag}`;

  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-cpsec-work-");
    await fsp.mkdir(hostDir, { recursive: true });
    await fsp.writeFile(path.join(hostDir, "secret"), "HOST-SECRET\n");
    const r = await e.docker([
      "run", "-d", "--name", "sec", "busybox", "sh", "-c",
      `ln -s / /hostroot && ln -s ../../../../../../.. /up && mkdir -p ${hostDir} /w/real${hostDir} && echo CONTAINER > ${hostDir}/secret && echo CONTAINER-REAL > /w/real${hostDir}/secret && ` +
        // The race: /w/d is a symlink that keeps flipping between /w/real and "/".
        "while true; do ln -sfn /w/real /w/d; ln -sfn / /w/d; done",
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 50; i++) {
      if ((await api(e, "HEAD", `/containers/sec/archive?path=/w/d`)).status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.rm(hostDir, { recursive: true, force: true });
    await fsp.rm(hostTmpMarker, { recursive: true, force: true });
  });

  it("a symlink to / inside the container is the container's root", async () => {
    let r = await e.docker(["cp", `sec:/hostroot${hostDir}/secret`, "-"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /CONTAINER/);
    assert.doesNotMatch(r.stdout, /HOST-SECRET/);
    r = await e.docker(["cp", "sec:/hostroot/etc/passwd", "-"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nobody:x:65534:65534:nobody:\/home:\/bin\/false/, "busybox's passwd");
    assert.ok(!r.stdout.includes(readFileSync("/etc/passwd", "utf8").split("\n")[0]!), "not the host's");
    // Relative symlinks climbing above the root stop at the root.
    r = await e.docker(["cp", `sec:/up${hostDir}/secret`, "-"]);
    assert.match(r.stdout, /CONTAINER/);
    // Writing through them lands in the container.
    const src = path.join(tmp, `escape-${tag}`);
    await fsp.writeFile(src, "written\n");
    r = await e.docker(["cp", src, "sec:/hostroot/tmp/"]);
    assert.equal(r.code, 0, r.stderr);
    r = await e.docker(["cp", src, "sec:/up/tmp/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(`/tmp/escape-${tag}`), "nothing written to the host's /tmp");
    assert.equal(await fileFromTar((await api(e, "GET", `/containers/sec/archive?path=/tmp/escape-${tag}`)).body), "written\n");
  });

  it("../ in the destination or the source stays inside", async () => {
    const src = path.join(tmp, `dots-${tag}`);
    await fsp.writeFile(src, "dots\n");
    let r = await e.docker(["cp", src, "sec:../../../../../../tmp/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(`/tmp/dots-${tag}`));
    assert.equal(await fileFromTar((await api(e, "GET", `/containers/sec/archive?path=/tmp/dots-${tag}`)).body), "dots\n");
    r = await e.docker(["cp", `sec:/../../../../..${hostDir}/secret`, "-"]);
    assert.match(r.stdout, /CONTAINER/);
    const res = await api(e, "PUT", `/containers/sec/archive?path=${encodeURIComponent("/../../../../tmp")}`, await makeTar([{ name: `dotted-${tag}`, data: "x" }]));
    assert.equal(res.status, 200);
    assert.ok(!existsSync(`/tmp/dotted-${tag}`));
  });

  it("tar entries that climb out, or write through their own symlinks, are refused or contained", async () => {
    // Joined to the extraction dir (Go's filepath.Join stops ".." at "/"), a name that lands
    // outside it is a breakout: refused.
    const climb = await api(e, "PUT", `/containers/sec/archive?path=/w/real`, await makeTar([{ name: `../../../../../../../tmp/pier-cpsec-escape-${tag}`, data: "climb" }]));
    assert.equal(climb.status, 400, climb.body.toString());
    assert.match(JSON.parse(climb.body.toString()).message, /outside of/);
    assert.ok(!existsSync(hostTmpMarker));
    // A symlink to "/" and then a file through it: lands under the container's root.
    const through = await api(e, "PUT", `/containers/sec/archive?path=/tmp`, await makeTar([
      { name: "esc", type: "symlink", linkname: "/" },
      { name: `esc/tmp/pier-cpsec-escape-${tag}`, data: "through" },
    ]));
    assert.equal(through.status, 200, through.body.toString());
    assert.ok(!existsSync(hostTmpMarker), "the host's /tmp is untouched");
    assert.equal(await fileFromTar((await api(e, "GET", `/containers/sec/archive?path=/tmp/pier-cpsec-escape-${tag}`)).body), "through");
    // Relative symlinks pointing out of the extraction dir are refused (moby's breakout check).
    const rel = await api(e, "PUT", `/containers/sec/archive?path=/tmp`, await makeTar([{ name: "rel", type: "symlink", linkname: "../../../../../.." }]));
    assert.equal(rel.status, 400);
    // A hard link to a host file.
    const hard = await api(e, "PUT", `/containers/sec/archive?path=/tmp`, await makeTar([{ name: "hl", type: "link", linkname: `../../../../..${hostDir}/secret` }]));
    if (hard.status === 200) {
      assert.match((await fileFromTar((await api(e, "GET", `/containers/sec/archive?path=/tmp/hl`)).body)) ?? "", /CONTAINER/);
    } else assert.equal(hard.status, 400);
    assert.equal(readFileSync(path.join(hostDir, "secret"), "utf8"), "HOST-SECRET\n");
  });

  it("a path component swapped for a symlink during the copies never reaches the host (CVE-2018-15664)", async () => {
    const seen = new Set<string>();
    const src = await makeTar([{ name: `raced-${tag}`, data: "race" }]);
    for (let i = 0; i < 25; i++) {
      const [got, put] = await Promise.all([
        api(e, "GET", `/containers/sec/archive?path=${encodeURIComponent(`/w/d${hostDir}/secret`)}`),
        api(e, "PUT", `/containers/sec/archive?path=${encodeURIComponent(`/w/d${hostDir}`)}`, src),
      ]);
      if (got.status === 200) seen.add(((await fileFromTar(got.body)) ?? "").trim());
      else seen.add(`status ${got.status}`);
      assert.ok([200, 404].includes(put.status), `PUT: ${put.status} ${put.body.toString()}`);
    }
    const r = await e.docker(["cp", `sec:/w/d${hostDir}/secret`, "-"]);
    if (r.code === 0) seen.add(((await fileFromTar(Buffer.from(r.stdout, "latin1"))) ?? "").trim());
    assert.ok(!seen.has("HOST-SECRET"), `never the host's file: ${[...seen].join(", ")}`);
    assert.ok(seen.has("CONTAINER") || seen.has("CONTAINER-REAL"), `the container's files were read: ${[...seen].join(", ")}`);
    assert.deepEqual(readdirSync(hostDir), ["secret"], "nothing was written to the host directory");
  });

  it("nothing of the container is loaded or run (CVE-2019-14271)", async () => {
    // Plant, at the paths the host's copy helper loads code from, files that would leave a mark
    // if loaded: every JavaScript module, the native addon, libc's NSS modules and libgcc_s.
    const trap = 'process.getBuiltinModule("fs").writeFileSync("/PWNED", "loaded");\n';
    const entries: Entry[] = [];
    const add = (hostPath: string, data: string | Buffer) => entries.push({ name: hostPath.replace(/^\/+/, ""), data, mode: 0o755 });
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (/\.(c|m)?js$/.test(name)) add(p, trap);
        else if (name === "package.json") add(p, readFileSync(p));
      }
    };
    walk(path.join(ROOT, "dist/src"));
    for (const m of ["tar-stream", "streamx", "b4a", "fast-fifo", "text-decoder", "events-universal", "bare-events"]) walk(path.join(ROOT, "node_modules", m));
    add(path.join(ROOT, "package.json"), readFileSync(path.join(ROOT, "package.json")));
    const garbage = Buffer.from("\x7fELF this is not a library\n");
    add(path.join(ROOT, "build/Release/pier_native.node"), garbage);
    for (const lib of ["libnss_files.so.2", "libnss_dns.so.2", "libnss_compat.so.2", "libgcc_s.so.1", "libresolv.so.2"]) {
      for (const dir of ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib"]) add(path.join(dir, lib), garbage);
    }
    const trapTar = await makeTar(entries);
    const u = await e.docker(["run", "-d", "--name", "trap", "-u", "nobody", "-v", "trapvol:/vol", "busybox", "sleep", "1000"]);
    assert.equal(u.code, 0, u.stderr);
    const put = await api(e, "PUT", `/containers/trap/archive?path=/`, trapTar);
    assert.equal(put.status, 200, put.body.toString());

    // Exercise every operation of the helper on the trapped container.
    const file = path.join(tmp, "payload");
    await fsp.writeFile(file, "payload\n");
    const ops: [string, string[]][] = [
      ["cp in", ["cp", file, "trap:/tmp/"]],
      ["cp in -a", ["cp", "-a", file, "trap:/vol/"]],
      ["cp out", ["cp", "trap:/tmp/payload", path.join(tmp, "back")]],
      ["cp out -L", ["cp", "-L", "trap:/etc/passwd", path.join(tmp, "pw")]],
      ["export", ["export", "-o", path.join(tmp, "trap.tar"), "trap"]],
      ["diff", ["diff", "trap"]],
      ["commit", ["commit", "trap", "trapped:1"]],
    ];
    for (const [what, args] of ops) {
      const r = await e.docker(args);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    }
    assert.equal((await e.docker(["stop", "-t", "0", "trap"])).code, 0);
    assert.equal((await e.docker(["cp", file, "trap:/tmp/stopped"])).code, 0, "cp into the stopped container");
    assert.equal((await api(e, "HEAD", `/containers/trap/archive?path=/PWNED`)).status, 404, "no trap was loaded in the container's root");
    assert.ok(!existsSync("/PWNED"), "nor on the host");
    assert.equal(readFileSync(path.join(tmp, "back"), "utf8"), "payload\n");
  });
});
