import { test } from "node:test";
import * as assert from "node:assert/strict";
import tar from "tar-stream";
import { kindOf } from "../errdefs/index.js";
import { applyChanges, exposedPorts, shellWords } from "./changes.js";
import { tarStream } from "./tarwriter.js";
import { goPathMatch, humanSize, progressString, unixSeconds, versionLess } from "./util.js";
import { archivePath } from "./archive-reader.js";
import { collect } from "./testutil.js";

test("shellWords: quotes, escapes, variables", () => {
  const env = ["A=1", "EMPTY="];
  assert.deepEqual(shellWords(`a "b c" 'd $A' \\e $A \${A} \${B:-def} \${A:+alt} \${EMPTY:-x} "$A"`, env), [
    "a", "b c", "d $A", "e", "1", "1", "def", "alt", "x", "1",
  ]);
  assert.throws(() => shellWords(`"open`, env), (e) => kindOf(e) === "InvalidParameter");
});

test("applyChanges: Docker's commit/import instructions", () => {
  const cfg = applyChanges({ Env: ["PATH=/bin"] }, [
    "ENV PATH=/usr/bin:$PATH",
    "entrypoint /bin/app --flag",
    "CMD [\"x\"]",
    "EXPOSE 8000-8002/tcp",
    "LABEL a=b\nLABEL c=\"d e\"",
    "VOLUME /a /b",
  ]);
  assert.deepEqual(cfg.Env, ["PATH=/usr/bin:/bin"]);
  assert.deepEqual(cfg.Entrypoint, ["/bin/sh", "-c", "/bin/app --flag"]);
  assert.deepEqual(cfg.Cmd, ["x"]);
  assert.deepEqual(Object.keys(cfg.ExposedPorts!), ["8000/tcp", "8001/tcp", "8002/tcp"]);
  assert.deepEqual(cfg.Labels, { a: "b", c: "d e" });
  assert.deepEqual(cfg.Volumes, { "/a": {}, "/b": {} });
  // ENTRYPOINT resets a CMD that came from the base config.
  assert.equal(applyChanges({ Cmd: ["sh"] }, ["ENTRYPOINT [\"/x\"]"]).Cmd, null);
  for (const bad of ["FROM x", "RUN x", "ONBUILD ONBUILD RUN x", "STOPSIGNAL NOPE", "EXPOSE abc", "USER a b"]) {
    assert.throws(() => applyChanges({}, [bad]), (e) => kindOf(e) === "InvalidParameter", bad);
  }
});

test("EXPOSE: Docker's port specs and messages, for --change and the builder alike", () => {
  const cfg = applyChanges({ ExposedPorts: { "22/tcp": {} } }, ["EXPOSE 80 8080/udp 7000-7002/tcp"]);
  assert.deepEqual(Object.keys(cfg.ExposedPorts!).sort(), ["22/tcp", "7000/tcp", "7001/tcp", "7002/tcp", "80/tcp", "8080/udp"]);
  assert.deepEqual(exposedPorts(["53/sctp", "127.0.0.1:8080:80"]), ["53/sctp", "80/tcp"]);
  const refused = (changes: string[], message: string) =>
    assert.throws(() => applyChanges({}, changes), (e) => kindOf(e) === "InvalidParameter" && (e as Error).message === message, message);
  refused(["EXPOSE 80 80a"], "Invalid containerPort: 80a");
  refused(["EXPOSE 80/foo"], "Invalid proto: foo");
  refused(["EXPOSE 90-80"], "Invalid containerPort: 90-80");
  refused(["EXPOSE"], "EXPOSE requires at least one argument");
  assert.throws(() => exposedPorts(["/udp"]), (e) => kindOf(e) === "InvalidParameter" && (e as Error).message === "No port specified: /udp<empty>");
});

test("tar writer: long names via PAX, exact sizes, readable by tar-stream", async () => {
  const long = "d/".repeat(120) + "file.txt";
  const bytes = await collect(
    tarStream([
      { entry: { name: long, type: "file", size: 3 }, body: Buffer.from("abc") },
      { entry: { name: "l", type: "symlink", linkname: "x".repeat(150) } },
      { entry: { name: "dir", type: "directory", mode: 0o1777 } },
    ]),
  );
  assert.equal(bytes.length % 512, 0);
  const ex = tar.extract();
  const seen: Array<[string, string, string]> = [];
  const done = (async () => {
    for await (const e of ex) {
      const parts: Buffer[] = [];
      for await (const c of e as unknown as AsyncIterable<Buffer>) parts.push(c);
      seen.push([e.header.name, e.header.linkname ?? "", Buffer.concat(parts).toString()]);
      if (e.header.name === "dir/") assert.equal(e.header.mode & 0o7777, 0o1777);
    }
  })();
  ex.end(bytes);
  await done;
  assert.deepEqual(seen, [[long, "", "abc"], ["l", "x".repeat(150), ""], ["dir/", "", ""]]);
  await assert.rejects(collect(tarStream([{ entry: { name: "f", type: "file", size: 5 }, body: Buffer.from("abc") }])), /header says 5/);
  await assert.rejects(
    collect(tarStream([{ entry: { name: "f", type: "file", size: 2 }, body: async function* () { yield Buffer.from("abc"); } }])),
    /longer/,
  );
});

test("helpers: Go path.Match, times, versions, sizes, archive paths", () => {
  assert.ok(goPathMatch("busy*", "busybox"));
  assert.ok(!goPathMatch("*", "a/b"));
  assert.ok(goPathMatch("*/*", "a/b"));
  assert.ok(goPathMatch("b?sybox:[a-z]*", "busybox:latest"));
  assert.ok(goPathMatch("b[^x]", "bb") && !goPathMatch("b[^x]", "bx"));
  assert.ok(goPathMatch("a.b", "a.b") && !goPathMatch("a.b", "axb"));
  assert.equal(unixSeconds("2024-02-03T04:05:06.123456789Z"), 1706933106);
  assert.equal(unixSeconds("2024-02-03T05:05:06+01:00"), 1706933106);
  assert.ok(versionLess("1.43", "1.44") && !versionLess("1.45", "1.45") && versionLess("1.9", "1.10"));
  assert.equal(humanSize(2154000), "2.154MB");
  assert.equal(humanSize(512), "512B");
  assert.equal(progressString(50, 100), `[${"=".repeat(25)}>${" ".repeat(25)}]      50B/100B`);
  assert.equal(archivePath("./a//b/../c"), "a/c");
  assert.throws(() => archivePath("a/../../b"), /leaves the archive/);
  assert.throws(() => archivePath("/etc/passwd"), /absolute/);
});
