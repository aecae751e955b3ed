// The per-container monitor end to end: what a user sees of it through the docker CLI (long and
// unfinished lines, a lot of output and input, a tty resized through the API), then Pier's own
// part: pier-monitor by default and small, conmon with --conmon, and a pierd that adopts the
// containers another monitor started.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { apiRequest, startEngine, type Engine } from "../harness.js";

const external = !!process.env.PIER_TEST_DOCKER_HOST;
const net = ["--network", "none"];

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("container monitor", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  const ok = async (args: string[], input?: string) => {
    const r = await e.docker(args, { input, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r;
  };

  it("keeps long lines and an unfinished last line whole, in the foreground and in logs", async () => {
    const script = "head -c 100000 /dev/zero | tr '\\0' a; echo; echo short >&2; printf 'no newline'";
    const r = await ok(["run", ...net, "--name", "longline", "busybox", "sh", "-c", script]);
    const want = "a".repeat(100000) + "\nno newline";
    assert.equal(r.stdout, want);
    assert.equal(r.stderr, "short\n");
    const logs = await ok(["logs", "longline"]);
    assert.equal(logs.stdout, want);
    assert.equal(logs.stderr, "short\n");
    await ok(["rm", "longline"]);
  });

  it("delivers all of a fast writer's output on both streams, in order", async () => {
    const r = await ok(["run", ...net, "--name", "seqs", "busybox", "sh", "-c", "seq 1 100000; seq 100001 150000 >&2"]);
    const seq = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `${a + i}\n`).join("");
    assert.equal(r.stdout, seq(1, 100000));
    assert.equal(r.stderr, seq(100001, 150000));
    const logs = await ok(["logs", "seqs"]);
    assert.equal(logs.stdout, seq(1, 100000));
    assert.equal(logs.stderr, seq(100001, 150000));
    await ok(["rm", "seqs"]);
  });

  it("passes a megabyte of stdin to `run -i` and ends it at EOF", async () => {
    const input = Array.from({ length: 40000 }, (_, i) => `line ${i} ${"x".repeat(20)}\n`).join("");
    const md5 = createHash("md5").update(input).digest("hex");
    const r = await ok(["run", "-i", "--rm", ...net, "busybox", "md5sum"], input);
    assert.equal(r.stdout, `${md5}  -\n`);
  });

  it("resizes a container's tty through the API", async () => {
    const script = 'while [ "$(stty size 2>/dev/null)" != "40 120" ]; do sleep 0.1; done; echo resized; stty size';
    await ok(["run", "-d", "-t", ...net, "--name", "sized", "busybox", "sh", "-c", script]);
    const res = await apiRequest(e, "POST", "/containers/sized/resize?h=40&w=120");
    assert.equal(res.status, 200, res.text);
    assert.equal((await ok(["wait", "sized"])).stdout.trim(), "0");
    assert.equal((await ok(["logs", "sized"])).stdout, "resized\r\n40 120\r\n");
    await ok(["rm", "sized"]);
  });

  it("runs each container under pier-monitor, a small process, named in /version", { skip: (external || !!process.env.PIER_TEST_MONITOR) && "Pier's own monitor" }, async () => {
    const version = await apiRequest(e, "GET", "/version");
    const names = (version.json().Components as { Name: string }[]).map((c) => c.Name);
    assert.ok(names.includes("pier-monitor"), names.join(","));
    const id = (await ok(["run", "-d", ...net, "--name", "watched", "busybox", "sleep", "60"])).stdout.trim();
    const pid = Number(readFileSync(path.join(e.execRoot!, "containers", id, "monitor.pid"), "utf8"));
    assert.equal(readFileSync(`/proc/${pid}/comm`, "utf8").trim(), "pier-monitor");
    // The container's init is the monitor's child (it is the subreaper that waits for it).
    const initPid = (await ok(["inspect", "-f", "{{.State.Pid}}", "watched"])).stdout.trim();
    const ppid = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${initPid}/status`, "utf8"))![1];
    assert.equal(Number(ppid), pid);
    const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
    assert.ok(rssKiB < 1024, `pier-monitor uses ${rssKiB} KiB`);
    await ok(["rm", "-f", "watched"]);
  });

  it("runs containers under conmon with --conmon, and each monitor's containers are adopted by a pierd using the other", { skip: external && "Pier's own monitor" }, async (t) => {
    if (!e.restart) return t.skip("only for a pierd the harness started");
    const conmon = await startEngine({ daemonArgs: ["--conmon", "conmon"] });
    try {
      const version = await apiRequest(conmon, "GET", "/version");
      assert.ok((version.json().Components as { Name: string }[]).some((c) => c.Name === "conmon"));
      const r = await conmon.docker(["run", "--rm", ...net, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
      assert.deepEqual([r.code, r.stdout, r.stderr], [3, "out\n", "err\n"]);
      const i = await conmon.docker(["run", "-i", "--rm", ...net, "busybox", "cat"], { input: "piped\n" });
      assert.deepEqual([i.code, i.stdout], [0, "piped\n"]);
      const script = "echo started; trap 'echo stopping; exit 9' TERM; while :; do sleep 0.1; done";
      const id = (await conmon.docker(["run", "-d", ...net, "--name", "adopted", "busybox", "sh", "-c", script])).stdout.trim();
      assert.equal(readFileSync(`/proc/${readFileSync(path.join(conmon.execRoot!, "containers", id, "monitor.pid"), "utf8").trim()}/comm`, "utf8").trim(), "conmon");
      const stopAndCheck = async (name: string) => {
        await until(`${name} to start`, async () => ((await conmon.docker(["logs", name])).stdout.includes("started") ? true : undefined));
        const stop = await conmon.docker(["stop", name]);
        assert.equal(stop.code, 0, stop.stderr);
        assert.equal((await conmon.docker(["inspect", "-f", "{{.State.ExitCode}}", name])).stdout.trim(), "9");
        assert.equal((await conmon.docker(["logs", name])).stdout, "started\nstopping\n");
      };
      // The same data root under pierd's default monitor: the conmon-started container is adopted.
      await conmon.restart!("SIGKILL", undefined, []);
      const own = await conmon.docker(["run", "-d", ...net, "--name", "own", "busybox", "sh", "-c", script]);
      assert.equal(own.code, 0, own.stderr);
      await stopAndCheck("adopted");
      // And back: a pierd using conmon adopts the container pier-monitor started.
      await conmon.restart!("SIGKILL", undefined, ["--conmon", "conmon"]);
      await stopAndCheck("own");
    } finally {
      await conmon.stop();
    }
  });
});
