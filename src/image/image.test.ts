import { test } from "node:test";
import * as assert from "node:assert/strict";
import { promises as fsp, existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { kindOf } from "../errdefs/index.js";
import { imageArchive } from "./archive-writer.js";
import { collect, file, imageConfig, layerTar, listTree, makeEnv, rawTar, sha, stream, type Env } from "./testutil.js";

async function twoLayerArchive(tags = ["example:1"], extra: Record<string, unknown> = {}) {
  const l1 = await layerTar({ "etc/": "", "etc/hello": "hello\n", "bin/": "", "bin/tool": "#!/bin/sh\necho tool\n" });
  const l2 = await layerTar({ "etc/": "", "etc/second": "second layer\n" });
  const config = imageConfig([sha(l1), sha(l2)], extra);
  const archive = await collect(
    imageArchive([
      {
        config,
        repoTags: tags,
        layers: [l1, l2].map((l) => ({ diffID: sha(l), size: l.length, open: async function* () { yield l; } })),
      },
    ]),
  );
  return { l1, l2, config, id: sha(config), archive };
}

async function load(env: Env, archive: Buffer) {
  const lines: Array<Record<string, unknown>> = [];
  await env.images.load(stream(archive), (l) => lines.push(l), { quiet: true });
  return lines;
}

/** Parse a tar into name → bytes. */
async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      const parts: Buffer[] = [];
      for await (const c of e as unknown as AsyncIterable<Buffer>) parts.push(c);
      out.set(e.header.name, Buffer.concat(parts));
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

const rejectsKind = async (p: Promise<unknown>, kind: string, re?: RegExp) =>
  assert.rejects(p, (err) => {
    assert.equal(kindOf(err), kind, String(err));
    if (re) assert.match((err as Error).message, re);
    return true;
  });

test("load a docker-archive: records, list and inspect shapes, events", async () => {
  const env = await makeEnv();
  try {
    const { archive, id, l1, l2 } = await twoLayerArchive(["example:1", "localhost:5000/a/b:2"]);
    const lines: Array<Record<string, unknown>> = [];
    const loaded = await env.images.load(stream(archive), (l) => lines.push(l));
    assert.deepEqual(loaded, [id]);
    const streams = lines.filter((l) => "stream" in l);
    assert.deepEqual(streams, [{ stream: "Loaded image: example:1\n" }, { stream: "Loaded image: localhost:5000/a/b:2\n" }]);
    const progress = lines.filter((l) => l.status === "Loading layer");
    assert.ok(progress.length >= 2);
    assert.deepEqual(Object.keys(progress[0]!).sort(), ["id", "progress", "progressDetail", "status"]);

    const list = env.images.list();
    assert.equal(list.length, 1);
    const s = list[0]!;
    assert.deepEqual(Object.keys(s).sort(), ["Containers", "Created", "Id", "Labels", "ParentId", "RepoDigests", "RepoTags", "SharedSize", "Size"]);
    assert.equal(s.Id, id);
    assert.deepEqual(s.RepoTags, ["example:1", "localhost:5000/a/b:2"]);
    assert.deepEqual(s.RepoDigests, []);
    assert.equal(s.Created, Math.floor(Date.parse("2024-02-03T04:05:06Z") / 1000));
    assert.equal(s.Containers, -1);
    assert.equal(s.SharedSize, -1);
    assert.equal(s.ParentId, "");
    assert.deepEqual(s.Labels, { "com.example.a": "1" });
    const expectedSize = "hello\n".length + "#!/bin/sh\necho tool\n".length + "second layer\n".length;
    assert.equal(s.Size, expectedSize);
    assert.equal(env.images.list({ apiVersion: "1.43" })[0]!.VirtualSize, expectedSize);

    const ins = env.images.inspect("example:1");
    assert.equal(ins.Id, id);
    assert.equal(ins.Created, "2024-02-03T04:05:06.123456789Z");
    assert.deepEqual(ins.RootFS, { Type: "layers", Layers: [sha(l1), sha(l2)] });
    assert.equal(ins.Os, "linux");
    assert.equal(ins.Architecture, "amd64");
    assert.equal(ins.Size, expectedSize);
    assert.equal(ins.Metadata.LastTagTime, "0001-01-01T00:00:00Z");
    assert.equal(ins.GraphDriver.Name, "overlay2");
    assert.ok(ins.GraphDriver.Data.UpperDir!.endsWith("/diff"));
    assert.ok(existsSync(path.join(ins.GraphDriver.Data.UpperDir!, "etc/second")));
    assert.ok(existsSync(path.join(ins.GraphDriver.Data.LowerDir!, "etc/hello")));
    assert.deepEqual(ins.Config.Cmd, ["sh"]);
    assert.equal(ins.Config.Hostname, "");
    assert.equal(ins.Config.AttachStdin, false);
    assert.equal(ins.Config.Volumes, null);
    assert.equal(ins.Config.Entrypoint, null);
    assert.equal("Container" in ins, false);
    assert.equal("ContainerConfig" in ins, false);
    assert.equal("VirtualSize" in ins, false);
    const old = env.images.inspect("example:1", { apiVersion: "1.43" });
    assert.equal(old.VirtualSize, expectedSize);
    assert.equal(old.ContainerConfig!.Hostname, "");

    const hist = env.images.history("example:1");
    assert.equal(hist.length, 2);
    assert.deepEqual(Object.keys(hist[0]!).sort(), ["Comment", "Created", "CreatedBy", "Id", "Size", "Tags"]);
    assert.equal(hist[0]!.CreatedBy, "step 1");
    assert.equal(hist[0]!.Id, id);
    assert.deepEqual(hist[0]!.Tags, ["example:1", "localhost:5000/a/b:2"]);
    assert.equal(hist[0]!.Size, "second layer\n".length);
    assert.equal(hist[1]!.Id, "<missing>");
    assert.equal(hist[1]!.Size, "hello\n".length + "#!/bin/sh\necho tool\n".length);

    assert.equal(env.seen.filter((e) => e.Action === "load").length, 1);
    assert.equal(env.seen.find((e) => e.Action === "load")!.Actor.Attributes["com.example.a"], "1");

    // Everything survives a restart.
    const again = await env.reopen();
    assert.deepEqual(again.list(), env.images.list());
    assert.deepEqual(again.inspect(id), ins);
    assert.equal(again.chainIDOf(id), env.images.chainIDOf(id));
    assert.deepEqual(again.imageConfig(id).rootfs.diff_ids, [sha(l1), sha(l2)]);
  } finally {
    await env.cleanup();
  }
});

test("resolve: names, IDs, short IDs, digests; Docker's not-found messages", async () => {
  const env = await makeEnv();
  try {
    const { archive, id } = await twoLayerArchive(["example:1", "busybox:latest"]);
    await load(env, archive);
    const hex = id.slice(7);
    for (const r of [id, hex, hex.slice(0, 12), hex.slice(0, 1), `sha256:${hex.slice(0, 5)}`, "busybox", "busybox:latest", "docker.io/library/busybox:latest", "example:1"]) {
      assert.equal(env.images.resolve(r).id, id, r);
    }
    const nf = (r: string, msg: string) =>
      assert.throws(() => env.images.resolve(r), (e) => kindOf(e) === "NotFound" && (e as Error).message === msg);
    nf("example", "No such image: example:latest");
    nf("nope:2", "No such image: nope:2");
    nf("localhost:5000/x", "No such image: localhost:5000/x:latest");
    nf("a".repeat(64), `No such image: sha256:${"a".repeat(64)}`);
    nf(`busybox@sha256:${"b".repeat(64)}`, `No such image: busybox@sha256:${"b".repeat(64)}`);
    assert.throws(() => env.images.resolve("UPPER"), (e) => kindOf(e) === "InvalidParameter");
    assert.equal(env.images.get(id)!.id, id);
    assert.equal(env.images.get(hex)!.id, id);
  } finally {
    await env.cleanup();
  }
});

test("tag moves tags between images; list filters", async () => {
  const env = await makeEnv();
  try {
    const a = await twoLayerArchive(["example:1"]);
    const b = await twoLayerArchive(["other:1"], { created: "2024-03-01T00:00:00Z", config: { Labels: { team: "x" } } });
    await load(env, a.archive);
    await load(env, b.archive);
    await env.images.tag("example:1", "shared", "v1");
    assert.deepEqual(env.images.resolve(a.id).repoTags, ["example:1", "shared:v1"]);
    assert.match(env.images.inspect(a.id).Metadata.LastTagTime, /^\d{4}-\d\d-\d\dT.*Z$/);
    const tagEvent = env.seen.find((e) => e.Action === "tag")!;
    assert.equal(tagEvent.Actor.ID, a.id);
    assert.equal(tagEvent.Actor.Attributes.name, "shared:v1");
    // Move it: the first image loses it.
    await env.images.tag(b.id.slice(7, 19), "shared:v1");
    assert.deepEqual(env.images.resolve(a.id).repoTags, ["example:1"]);
    assert.deepEqual(env.images.resolve("shared:v1").id, b.id);
    await env.images.tag("other:1", "localhost:5000/x/y"); // default tag latest
    assert.equal(env.images.resolve("localhost:5000/x/y:latest").id, b.id);
    await rejectsKind(env.images.tag("other:1", "sha256", "x"), "InvalidParameter", /ambiguous/);
    await rejectsKind(env.images.tag("other:1", "Bad"), "InvalidParameter");
    await rejectsKind(env.images.tag("other:1", "x@sha256:" + "a".repeat(64)), "InvalidParameter");
    await assert.rejects(env.images.tag("missing", "x"), (e) => kindOf(e) === "NotFound");

    // Filters.
    const ids = (f: Record<string, string[]>) => env.images.list({ filters: f }).map((s) => s.Id);
    assert.deepEqual(ids({}), [b.id, a.id]); // newest first
    assert.deepEqual(ids({ label: ["team"] }), [b.id]);
    assert.deepEqual(ids({ label: ["team=x"] }), [b.id]);
    assert.deepEqual(ids({ label: ["team=y"] }), []);
    assert.deepEqual(ids({ before: ["other:1"] }), [a.id]);
    assert.deepEqual(ids({ since: ["example:1"] }), [b.id]);
    assert.deepEqual(ids({ reference: ["exam*"] }), [a.id]);
    assert.deepEqual(env.images.list({ filters: { reference: ["localhost:5000/*/*"] } })[0]!.RepoTags, ["localhost:5000/x/y:latest"]);
    assert.deepEqual(ids({ reference: ["shared:v1"] }), [b.id]);
    assert.deepEqual(ids({ dangling: ["true"] }), []);
    assert.deepEqual(ids({ dangling: ["false"] }), [b.id, a.id]);
    assert.deepEqual(ids({ until: ["2024-02-10T00:00:00Z"] }), [a.id]);
    assert.throws(() => env.images.list({ filters: { bogus: ["1"] } }), (e) => kindOf(e) === "InvalidParameter" && /invalid filter 'bogus'/.test((e as Error).message));
    assert.throws(() => env.images.list({ filters: { dangling: ["maybe"] } }), (e) => kindOf(e) === "InvalidParameter");
    assert.equal(env.images.list({ sharedSize: true })[0]!.SharedSize, env.images.inspect(a.id).Size);
  } finally {
    await env.cleanup();
  }
});

test("remove: untag, conflicts with Docker's messages, delete with layers and blobs", async () => {
  const env = await makeEnv();
  try {
    const { archive, id, l1, l2 } = await twoLayerArchive(["example:1", "example:2", "other:1"]);
    await load(env, archive);
    const short = id.slice(7, 19);
    const chain = env.images.chainIDOf(id)!;

    // Several tags: removing one only untags.
    assert.deepEqual(await env.images.remove("example:2", {}), [{ Untagged: "example:2" }]);
    assert.equal(env.seen.filter((e) => e.Action === "untag").length, 1);

    // By ID with tags in several repositories: must be forced.
    await rejectsKind(
      env.images.remove(short, {}),
      "Conflict",
      new RegExp(`^conflict: unable to delete ${short} \\(must be forced\\) - image is referenced in multiple repositories$`),
    );
    // A stopped container uses it.
    const stopped = () => ["c0ffee0000000000000000000000000000000000000000000000000000000000"];
    await env.images.remove("other:1", {}, stopped); // one of two tags: fine
    await rejectsKind(
      env.images.remove("example:1", {}, stopped),
      "Conflict",
      new RegExp(`^conflict: unable to remove repository reference "example:1" \\(must force\\) - container c0ffee000000 is using its referenced image ${short}$`),
    );
    await rejectsKind(
      env.images.remove(id, {}, stopped),
      "Conflict",
      new RegExp(`^conflict: unable to delete ${short} \\(must be forced\\) - image is being used by stopped container c0ffee000000$`),
    );
    const running = () => [{ id: "beef".padEnd(64, "0"), running: true }];
    await rejectsKind(
      env.images.remove(id, { force: true }, running),
      "Conflict",
      new RegExp(`^conflict: unable to delete ${short} \\(cannot be forced\\) - image is being used by running container beef00000000$`),
    );
    // Forced by name with a running container: only the tag goes.
    assert.deepEqual(await env.images.remove("example:1", { force: true }, running), [{ Untagged: "example:1" }]);
    assert.ok(env.images.get(id));
    assert.deepEqual(env.images.list()[0]!.RepoTags, ["<none>:<none>"]);
    assert.deepEqual(env.images.list({ filters: { dangling: ["true"] } }).map((s) => s.Id), [id]);

    // Now by ID, unused: deleted, with both layers (top first) and the blobs.
    const res = await env.images.remove(id, {});
    assert.deepEqual(res, [{ Deleted: id }, { Deleted: chain }, { Deleted: sha(l1) }]);
    assert.equal(env.images.get(id), undefined);
    assert.equal(env.snapshots.hasLayer(chain), false);
    assert.equal(env.snapshots.hasLayer(sha(l1)), false);
    for (const d of [id, sha(l1), sha(l2)]) assert.equal(env.content.has(d), false, d);
    assert.equal(env.seen.filter((e) => e.Action === "delete").length, 1);
    assert.deepEqual(env.images.list(), []);
    await rejectsKind(env.images.remove(id, {}), "NotFound", /^No such image: /);
  } finally {
    await env.cleanup();
  }
});

test("remove keeps layers shared with another image; force by ID untags everything", async () => {
  const env = await makeEnv();
  try {
    const base = await layerTar({ "base/": "", "base/file": "base\n" });
    const top1 = await layerTar({ "one": "1\n" });
    const top2 = await layerTar({ "two": "2\n" });
    const mk = (top: Buffer, tags: string[]) => {
      const config = imageConfig([sha(base), sha(top)], { comment: tags[0] });
      return {
        config,
        repoTags: tags,
        layers: [base, top].map((l) => ({ diffID: sha(l), size: l.length, open: async function* () { yield l; } })),
      };
    };
    const archive = await collect(imageArchive([mk(top1, ["one:1", "uno:1"]), mk(top2, ["two:1"])]));
    const lines = await load(env, archive);
    assert.equal(lines.length, 3);
    const [one, two] = [env.images.resolve("one:1"), env.images.resolve("two:1")];
    const res = await env.images.remove(one.id, { force: true });
    assert.deepEqual(res, [{ Untagged: "one:1" }, { Untagged: "uno:1" }, { Deleted: one.id }, { Deleted: one.chainID }]);
    assert.ok(env.snapshots.hasLayer(sha(base)));
    assert.ok(env.content.has(sha(base)));
    assert.ok(env.images.get(two.id));
    assert.equal(env.images.inspect("two:1").Comment, "two:1");
  } finally {
    await env.cleanup();
  }
});

test("save → rm → load gives the same ID and the same files", async () => {
  const env = await makeEnv();
  try {
    const { archive, id } = await twoLayerArchive(["example:1", "example:2"]);
    await load(env, archive);
    const before = await listTree(env.snapshots.lowerDirs(env.images.chainIDOf(id)!)[0]!);
    const beforeLower = await listTree(env.snapshots.lowerDirs(env.images.chainIDOf(id)!)[1]!);

    const saved = await collect(env.images.save(["example"]));
    assert.equal(env.seen.filter((e) => e.Action === "save").length, 1);
    const files = await untar(saved);
    const manifest = JSON.parse(files.get("manifest.json")!.toString());
    assert.equal(manifest.length, 1);
    assert.deepEqual(manifest[0].RepoTags.sort(), ["example:1", "example:2"]);
    assert.equal(manifest[0].Config, `blobs/sha256/${id.slice(7)}`);
    assert.equal(sha(files.get(manifest[0].Config)!), id);
    const cfg = JSON.parse(files.get(manifest[0].Config)!.toString());
    manifest[0].Layers.forEach((l: string, i: number) => assert.equal(sha(files.get(l)!), cfg.rootfs.diff_ids[i]));
    assert.ok(files.has("oci-layout") && files.has("index.json") && files.has("repositories"));

    // Saving one tag only names that tag.
    const one = JSON.parse((await untar(await collect(env.images.save(["example:2"])))).get("manifest.json")!.toString());
    assert.deepEqual(one[0].RepoTags, ["example:2"]);
    const byID = JSON.parse((await untar(await collect(env.images.save([id.slice(7, 19)])))).get("manifest.json")!.toString());
    assert.equal(byID[0].RepoTags, null);
    assert.throws(() => env.images.save(["missing:1"]), (e) => kindOf(e) === "NotFound");

    await env.images.remove(id, { force: true });
    assert.equal(env.images.get(id), undefined);
    await load(env, saved);
    const again = env.images.resolve("example:1");
    assert.equal(again.id, id);
    assert.deepEqual(again.repoTags.sort(), ["example:1", "example:2"]);
    assert.deepEqual(await listTree(env.snapshots.lowerDirs(again.chainID!)[0]!), before);
    assert.deepEqual(await listTree(env.snapshots.lowerDirs(again.chainID!)[1]!), beforeLower);
    // And the OCI side of the same archive loads too (index.json only).
    files.delete("manifest.json");
    const oci = await rawTar([...files].filter(([n]) => !n.endsWith("/")).map(([n, b]) => file(n, b)));
    await env.images.remove(id, { force: true });
    const lines = await load(env, oci);
    assert.deepEqual(lines.map((l) => l.stream).sort(), ["Loaded image: example:1\n", "Loaded image: example:2\n"]);
  } finally {
    await env.cleanup();
  }
});

test("load replaces a tag held by another image, with Docker's message", async () => {
  const env = await makeEnv();
  try {
    const a = await twoLayerArchive(["example:1"]);
    const b = await twoLayerArchive(["example:1"], { created: "2024-05-05T00:00:00Z" });
    await load(env, a.archive);
    const lines = await load(env, b.archive);
    assert.deepEqual(lines, [
      { stream: `The image example:1 already exists, renaming the old one with ID ${a.id} to empty string\n` },
      { stream: "Loaded image: example:1\n" },
    ]);
    assert.equal(env.images.resolve("example:1").id, b.id);
    assert.deepEqual(env.images.get(a.id)!.repoTags, []);
    // Loading an untagged image reports its ID.
    const c = await twoLayerArchive([], { created: "2024-06-06T00:00:00Z" });
    assert.deepEqual(await load(env, c.archive), [{ stream: `Loaded image ID: ${c.id}\n` }]);
  } finally {
    await env.cleanup();
  }
});

test("load the old docker-archive layout (<id>/layer.tar, symlinked duplicates), gzip-compressed", async () => {
  const env = await makeEnv();
  try {
    const l1 = await layerTar({ "a": "a\n" });
    const config = imageConfig([sha(l1), sha(l1)]); // the same layer twice, as old saves had
    const id = sha(config);
    const v1a = "1".repeat(64);
    const v1b = "2".repeat(64);
    const archive = await rawTar([
      { entry: { name: `${v1a}/`, type: "directory" } },
      file(`${v1a}/VERSION`, "1.0"),
      file(`${v1a}/json`, "{}"),
      file(`${v1a}/layer.tar`, l1),
      { entry: { name: `${v1b}/`, type: "directory" } },
      { entry: { name: `${v1b}/layer.tar`, type: "symlink", linkname: `../${v1a}/layer.tar` } },
      file(`${id.slice(7)}.json`, config),
      file("repositories", JSON.stringify({ old: { v1: v1b } })),
      file("manifest.json", JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: ["old:v1"], Layers: [`${v1a}/layer.tar`, `${v1b}/layer.tar`] }])),
    ]);
    const lines = await load(env, gzipSync(archive));
    assert.deepEqual(lines, [{ stream: "Loaded image: old:v1\n" }]);
    const rec = env.images.resolve("old:v1");
    assert.equal(rec.id, id);
    assert.equal(rec.layers.length, 2);
    assert.ok(env.content.has(id));
  } finally {
    await env.cleanup();
  }
});

test("load an OCI image layout with a gzip layer and an index of platforms", async () => {
  const env = await makeEnv();
  try {
    const layer = await layerTar({ "usr/": "", "usr/hello": "oci\n" });
    const gz = gzipSync(layer);
    const config = imageConfig([sha(layer)]);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha(gz), size: gz.length }],
      }),
    );
    const armManifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: sha("nope"), size: 4 }, layers: [] }));
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(armManifest), size: armManifest.length, platform: { os: "linux", architecture: "s390x" } },
          { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(manifest), size: manifest.length, platform: { os: "linux", architecture: process.arch === "x64" ? "amd64" : process.arch } },
        ],
      }),
    );
    const index = {
      schemaVersion: 2,
      manifests: [
        { mediaType: "application/vnd.oci.image.index.v1+json", digest: sha(list), size: list.length, annotations: { "io.containerd.image.name": "registry.example.com/team/app:3", "org.opencontainers.image.ref.name": "3" } },
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "latest" } },
      ],
    };
    const blob = (b: Buffer) => file(`blobs/sha256/${sha(b).slice(7)}`, b);
    const archive = await rawTar([
      file("oci-layout", '{"imageLayoutVersion":"1.0.0"}'),
      file("index.json", JSON.stringify(index)),
      blob(config),
      blob(gz),
      blob(manifest),
      blob(armManifest),
      blob(list),
    ]);
    const lines = await load(env, archive);
    assert.deepEqual(lines, [{ stream: "Loaded image: registry.example.com/team/app:3\n" }]);
    const rec = env.images.resolve("registry.example.com/team/app:3");
    assert.equal(rec.id, sha(config));
    assert.equal(rec.layers[0]!.digest, sha(gz));
    assert.equal(rec.layers[0]!.uncompressedSize, layer.length);
    assert.equal(await fsp.readFile(path.join(env.snapshots.lowerDirs(rec.chainID!)[0]!, "usr/hello"), "utf8"), "oci\n");
    // Saving decompresses the gzip blob: the saved layer's sha256 is the diff ID again.
    const files = await untar(await collect(env.images.save(["registry.example.com/team/app:3"])));
    assert.deepEqual(files.get(`blobs/sha256/${sha(layer).slice(7)}`), layer);
    // The unused blobs of the archive (the s390x manifest) were not kept.
    assert.equal(env.content.has(sha(armManifest)), false);
  } finally {
    await env.cleanup();
  }
});

test("malicious archives are refused and nothing is written outside the root", async () => {
  // The root's parent is the test's own: the host's /tmp changes under other programs meanwhile.
  const outside = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-outside-"));
  const env = await makeEnv(outside);
  try {
    const { l1, config } = await twoLayerArchive();
    const before = new Set(await fsp.readdir(outside));
    const blobsBefore = async () => {
      const out: string[] = [];
      for await (const d of env.content.list()) out.push(d);
      return out;
    };
    const cases: Array<[string, Buffer, RegExp]> = [
      ["entry climbing out", await rawTar([file("../x", "evil"), file("manifest.json", "[]")]), /leaves the archive/],
      ["absolute entry", await rawTar([file("/tmp/pier-evil", "evil")]), /absolute/],
      [
        "config path climbing out",
        await rawTar([file("manifest.json", JSON.stringify([{ Config: "../../etc/passwd", RepoTags: ["x:1"], Layers: [] }]))]),
        /leaves the archive/,
      ],
      [
        "layer path climbing out",
        await rawTar([
          file("c.json", config),
          file("manifest.json", JSON.stringify([{ Config: "c.json", RepoTags: ["x:1"], Layers: ["a/../../../etc/passwd", "b"] }])),
        ]),
        /leaves the archive/,
      ],
      [
        "symlink to a host file",
        await rawTar([
          file("c.json", imageConfig([sha(l1)])),
          { entry: { name: "layer.tar", type: "symlink", linkname: "/etc/passwd" } },
          file("manifest.json", JSON.stringify([{ Config: "c.json", RepoTags: ["x:1"], Layers: ["layer.tar"] }])),
        ]),
        /not found/,
      ],
      [
        "symlink climbing out",
        await rawTar([{ entry: { name: "layer.tar", type: "symlink", linkname: "../../etc/passwd" } }]),
        /leaves the archive/,
      ],
      ["blob with a wrong digest", await rawTar([file(`blobs/sha256/${"0".repeat(64)}`, "not that")]), /digest mismatch/],
      [
        "layer that is not its diff ID",
        await rawTar([
          file("c.json", imageConfig([sha("something else")])),
          file("layer.tar", l1),
          file("manifest.json", JSON.stringify([{ Config: "c.json", RepoTags: ["x:1"], Layers: ["layer.tar"] }])),
        ]),
        /invalid diffID for layer 0/,
      ],
      ["no manifest", await rawTar([file("hello", "x")]), /neither manifest.json/],
      ["not a tar", Buffer.from("just some text that is not a tar archive at all".repeat(20)), /./],
    ];
    for (const [what, archive, re] of cases) {
      await assert.rejects(env.images.load(stream(archive), () => {}), (err) => {
        assert.match((err as Error).message, re, what);
        return true;
      }, what);
    }
    assert.deepEqual(env.images.list(), []);
    assert.deepEqual(await blobsBefore(), []);
    assert.deepEqual(new Set(await fsp.readdir(outside)), before);
    assert.equal(existsSync("/tmp/pier-evil"), false);
    assert.deepEqual(await fsp.readdir(path.join(env.dir, "snapshots", "layers")), []);
  } finally {
    await env.cleanup();
    await fsp.rm(outside, { recursive: true, force: true });
  }
});

test("import a rootfs tar (gzip) with changes", async () => {
  const env = await makeEnv();
  try {
    const rootfs = await layerTar({ "bin/": "", "bin/sh": "fake shell", "etc/": "", "etc/os-release": "ID=test\n" });
    const id = await env.images.import(stream(gzipSync(rootfs)), {
      repo: "imported",
      tag: "v1",
      message: "from a tarball",
      changes: [
        'CMD ["/bin/sh", "-c", "echo hi"]',
        "ENV A=1 B=\"two words\"",
        "ENV LEGACY value with spaces",
        "EXPOSE 80 53/udp",
        'LABEL com.example.k="v 1" other=2',
        "USER nobody",
        "WORKDIR /srv",
        "WORKDIR app",
        'VOLUME ["/data"]',
        "STOPSIGNAL SIGTERM",
        "ONBUILD RUN echo later",
      ],
      platform: "linux/amd64",
    });
    const ins = env.images.inspect("imported:v1");
    assert.equal(ins.Id, id);
    assert.equal(ins.Comment, "from a tarball");
    assert.deepEqual(ins.Config.Cmd, ["/bin/sh", "-c", "echo hi"]);
    assert.deepEqual(ins.Config.Env, ["A=1", "B=two words", "LEGACY=value with spaces"]);
    assert.deepEqual(ins.Config.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
    assert.deepEqual(ins.Config.Labels, { "com.example.k": "v 1", other: "2" });
    assert.equal(ins.Config.User, "nobody");
    assert.equal(ins.Config.WorkingDir, "/srv/app");
    assert.deepEqual(ins.Config.Volumes, { "/data": {} });
    assert.equal(ins.Config.StopSignal, "SIGTERM");
    assert.deepEqual(ins.Config.OnBuild, ["RUN echo later"]);
    assert.equal(ins.Architecture, "amd64");
    assert.deepEqual(ins.RootFS.Layers, [sha(rootfs)]);
    assert.notEqual(ins.Metadata.LastTagTime, "0001-01-01T00:00:00Z");
    assert.deepEqual(env.images.history(id).map((h) => h.Comment), ["from a tarball"]);
    assert.deepEqual(
      env.seen.filter((e) => e.Type === "image").map((e) => e.Action),
      ["tag", "import"],
    );
    assert.equal(await fsp.readFile(path.join(env.snapshots.lowerDirs(env.images.chainIDOf(id)!)[0]!, "etc/os-release"), "utf8"), "ID=test\n");
    // The saved layer is the uncompressed tar, byte for byte.
    const files = await untar(await collect(env.images.save(["imported:v1"])));
    assert.deepEqual(files.get(`blobs/sha256/${sha(rootfs).slice(7)}`), rootfs);

    await rejectsKind(env.images.import(stream(rootfs), { changes: ["RUN echo no"] }), "InvalidParameter", /run is not a valid change command/);
    await rejectsKind(env.images.import(stream(rootfs), { repo: "x@sha256:" + "a".repeat(64) }), "InvalidParameter");
    // A failed import leaves no blob behind.
    const count = async () => {
      let n = 0;
      for await (const _ of env.content.list()) n++;
      return n;
    };
    const n = await count();
    await assert.rejects(env.images.import(stream(Buffer.from("not a tar".repeat(100)))));
    assert.equal(await count(), n);
    // Untagged import.
    const id2 = await env.images.import(stream(await layerTar({ "x": "y" })));
    assert.deepEqual(env.images.get(id2)!.repoTags, []);
  } finally {
    await env.cleanup();
  }
});

test("prune: dangling by default, all unused with dangling=false, used images kept", async () => {
  const env = await makeEnv();
  try {
    const a = await twoLayerArchive(["keep:1"]);
    const b = await twoLayerArchive([], { created: "2024-07-07T00:00:00Z" });
    const c = await twoLayerArchive(["used:1"], { created: "2024-08-08T00:00:00Z" });
    for (const x of [a, b, c]) await load(env, x.archive);
    const usedBy = (id: string) => (id === c.id ? ["dead".padEnd(64, "0")] : []);
    const r1 = await env.images.prune({}, usedBy);
    assert.deepEqual(r1.ImagesDeleted.filter((d) => d.Deleted === b.id).length, 1);
    assert.ok(env.images.get(a.id) && env.images.get(c.id));
    assert.equal(env.images.get(b.id), undefined);
    // b shared its lower layer with a and c: only its own top layer went.
    const r2 = await env.images.prune({ filters: { dangling: ["false"], label: ["com.example.a=1"] } }, usedBy);
    assert.deepEqual(r2.ImagesDeleted.find((d) => d.Untagged), { Untagged: "keep:1" });
    assert.equal(r2.SpaceReclaimed, 0); // its layers are c's too
    assert.equal(env.images.get(a.id), undefined);
    assert.ok(env.images.get(c.id));
    await rejectsKind(env.images.prune({ filters: { reference: ["x"] } }), "InvalidParameter");
    const r3 = await env.images.prune({ filters: { dangling: ["false"], "label!": ["com.example.a"] } }, () => []);
    assert.deepEqual(r3, { ImagesDeleted: [], SpaceReclaimed: 0 });
    const size = env.images.get(c.id)!.size;
    const r4 = await env.images.prune({ filters: { dangling: ["0"], until: ["2030-01-01T00:00:00Z"] } }, () => []);
    assert.deepEqual(r4.ImagesDeleted.slice(0, 2), [{ Untagged: "used:1" }, { Deleted: c.id }]);
    assert.equal(r4.ImagesDeleted.length, 4);
    assert.equal(r4.SpaceReclaimed, size);
    assert.deepEqual(env.images.list({ all: true }), []);
  } finally {
    await env.cleanup();
  }
});

test("createImage and addLayer: parent images, dependent children", async () => {
  const env = await makeEnv();
  try {
    const { archive, id } = await twoLayerArchive(["base:1"]);
    await load(env, archive);
    const base = env.images.get(id)!;
    const diff = await layerTar({ "added": "by commit\n" });
    const layer = await env.images.addLayer(base.chainID, stream(diff));
    assert.equal(layer.diffID, sha(diff));
    const baseCfg = env.images.imageConfig(id);
    const cfg = Buffer.from(
      JSON.stringify({
        ...baseCfg,
        created: "2025-01-01T00:00:00Z",
        rootfs: { type: "layers", diff_ids: [...baseCfg.rootfs.diff_ids, layer.diffID] },
        history: [...(baseCfg.history ?? []), { created: "2025-01-01T00:00:00Z", created_by: "commit" }],
      }),
    );
    const child = await env.images.createImage(cfg, { layers: [...base.layers, layer], parent: id, tags: ["child:1"] });
    assert.equal(child.parent, id);
    assert.equal(env.images.inspect("child:1").Parent, id);
    assert.equal(env.images.list()[0]!.ParentId, id);
    const hist = env.images.history("child:1");
    assert.deepEqual(hist.map((h) => h.Id), [child.id, id, "<missing>"]);
    assert.deepEqual(hist[1]!.Tags, ["base:1"]);
    // The parent cannot go while the child exists.
    await env.images.remove("base:1", {}); // untag
    await rejectsKind(env.images.remove(id, { force: true }), "Conflict", /\(cannot be forced\) - image has dependent child images$/);
    // Intermediate (untagged parent of a child) images are hidden unless all=true.
    assert.deepEqual(env.images.list().map((s) => s.Id), [child.id]);
    assert.deepEqual(env.images.list({ all: true }).map((s) => s.Id).sort(), [child.id, id].sort());
    // Removing the child prunes the untagged parent too.
    const res = await env.images.remove("child:1", {});
    assert.deepEqual(res.filter((r) => r.Deleted && r.Deleted.length === 71 && (r.Deleted === child.id || r.Deleted === id)).map((r) => r.Deleted), [child.id, id]);
    assert.deepEqual(env.images.list({ all: true }), []);
    assert.deepEqual(await fsp.readdir(path.join(env.dir, "snapshots", "layers")), []);
  } finally {
    await env.cleanup();
  }
});
