// Containers through their whole life with the real docker CLI: create, start, stop, restart,
// kill, wait, rename, rm, prune; ps and its filters; inspect; logs; the run options that shape a
// container (labels, env files, init, read-only, tmpfs, volumes, binds, networks, resources,
// users); and live restore across a pierd crash. Each check is what a user would look at.
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, promises as fsp, readdirSync, readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { apiRequest, startEngine, type Engine, type RunResult } from "../harness.js";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("container lifecycle", () => {
  let e: Engine;
  let net: string[] = [];
  let tmp: string;
  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-lifecycle-");
    // A dockerd started with --bridge=none has no default network: use "none" there.
    if ((await e.docker(["network", "inspect", "bridge"])).code !== 0) net = ["--network", "none"];
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  const docker = (args: string[], opts?: Parameters<Engine["docker"]>[1]) => e.docker(args, opts);
  const ok = async (args: string[], opts?: Parameters<Engine["docker"]>[1]): Promise<RunResult> => {
    const r = await docker(args, opts);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  /** `docker run --rm busybox sh -c script` with extra run options. */
  const sh = (opts: string[], script: string) => docker(["run", "--rm", ...net, ...opts, "busybox", "sh", "-c", script]);
  const inspect = async (ref: string): Promise<any> => JSON.parse((await ok(["inspect", "--type", "container", ref])).stdout)[0];
  const fmt = async (ref: string, f: string) => (await ok(["inspect", "-f", f, ref])).stdout.trim();
  /** Poll until fn returns true (container output shows up asynchronously). */
  const until = async (what: string, fn: () => Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  it("creates, starts, signals, stops, restarts, kills, renames and removes a container", async () => {
    const script = 'trap "echo got-usr1" USR1; trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.1; done';
    const id = (await ok(["create", ...net, "--name", "life", "busybox", "sh", "-c", script])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    let c = await inspect("life");
    assert.equal(c.State.Status, "created");
    assert.equal(c.State.Running, false);
    assert.equal(c.State.Pid, 0);
    assert.equal(c.State.StartedAt, "0001-01-01T00:00:00Z");
    assert.match((await ok(["ps", "-a", "--filter", "name=^life$", "--format", "{{.Status}}"])).stdout, /^Created\n$/);
    assert.equal((await ok(["ps", "--filter", "name=^life$", "-q"])).stdout, "", "a created container is not running");

    assert.equal((await ok(["start", "life"])).stdout, "life\n");
    c = await inspect("life");
    assert.equal(c.State.Status, "running");
    assert.ok(c.State.Pid > 0);
    assert.match(c.State.StartedAt, RFC3339_NANO);
    assert.match((await ok(["ps", "--filter", "name=^life$", "--format", "{{.Status}}"])).stdout, /^Up /);
    await until("ready", async () => (await docker(["logs", "life"])).stdout.includes("ready"));

    assert.equal((await ok(["kill", "-s", "USR1", "life"])).stdout, "life\n");
    await until("the USR1 trap", async () => (await docker(["logs", "life"])).stdout.includes("got-usr1"));
    assert.equal(await fmt("life", "{{.State.Running}}"), "true", "USR1 does not stop it");

    assert.equal((await ok(["stop", "-t", "5", "life"])).stdout, "life\n");
    assert.equal((await ok(["wait", "life"])).stdout, "5\n");
    c = await inspect("life");
    assert.equal(c.State.Status, "exited");
    assert.equal(c.State.ExitCode, 5);
    assert.match(c.State.FinishedAt, RFC3339_NANO);
    assert.ok(Date.parse(c.State.FinishedAt) >= Date.parse(c.State.StartedAt));
    assert.match((await ok(["logs", "life"])).stdout, /got-term/);
    assert.match((await ok(["ps", "-a", "--filter", "name=^life$", "--format", "{{.Status}}"])).stdout, /^Exited \(5\) /);

    assert.equal((await ok(["restart", "-t", "1", "life"])).stdout, "life\n");
    c = await inspect("life");
    assert.equal(c.State.Status, "running");
    assert.equal(c.RestartCount, 0, "a user restart is not counted");
    await ok(["kill", "life"]);
    assert.equal((await ok(["wait", "life"])).stdout, "137\n");
    assert.equal(await fmt("life", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}"), "exited 137 0");

    await ok(["rename", "life", "life2"]);
    assert.equal(await fmt("life2", "{{.Name}}"), "/life2");
    const old = await docker(["inspect", "--type", "container", "life"]);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /No such (container|object): life/);
    const again = await docker(["rename", "life2", "life2"]);
    assert.notEqual(again.code, 0);

    assert.equal((await ok(["rm", "life2"])).stdout, "life2\n");
    assert.equal((await docker(["inspect", "--type", "container", id])).code, 1);
  });

  it("waits for each of not-running, next-exit and removed, and refuses other conditions", async () => {
    const id = (await ok(["create", ...net, "--name", "waiter", "busybox", "sh", "-c", "sleep 0.3; exit 4"])).stdout.trim();
    // not-running on a created container returns at once.
    const nr = await apiRequest(e, "POST", `/containers/${id}/wait?condition=not-running`);
    assert.equal(nr.status, 200);
    assert.equal(nr.json().StatusCode, 0);
    // next-exit waits for the next run to end.
    const next = apiRequest(e, "POST", `/containers/${id}/wait?condition=next-exit`);
    await sleep(200);
    await ok(["start", "waiter"]);
    const nextRes = await next;
    assert.equal(nextRes.status, 200);
    assert.equal(nextRes.json().StatusCode, 4);
    // After it exited, not-running answers with its exit code; `docker wait` prints it.
    assert.equal((await apiRequest(e, "POST", `/containers/${id}/wait`)).json().StatusCode, 4);
    assert.equal((await ok(["wait", "waiter"])).stdout, "4\n");
    // removed waits for rm.
    let removedDone = false;
    const removed = apiRequest(e, "POST", `/containers/${id}/wait?condition=removed`).then((r) => {
      removedDone = true;
      return r;
    });
    await sleep(300);
    assert.equal(removedDone, false, "removed does not answer before the container is removed");
    await ok(["rm", "waiter"]);
    const removedRes = await removed;
    assert.equal(removedRes.status, 200);
    assert.equal(removedRes.json().StatusCode, 4);
  });

  it("force-removes a running container, removes anonymous volumes with -v, and prunes only stopped containers", async () => {
    await ok(["run", "-d", ...net, "--name", "rmf", "busybox", "sleep", "300"]);
    const rm = await docker(["rm", "rmf"]);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /stop the container before (removing|attempting removal)/i);
    assert.equal((await ok(["rm", "-f", "rmf"])).stdout, "rmf\n");
    assert.equal((await docker(["inspect", "--type", "container", "rmf"])).code, 1);

    await ok(["run", ...net, "--name", "vols", "-v", "/anon", "-v", "keepvol:/named", "busybox", "true"]);
    const mounts = (await inspect("vols")).Mounts as { Type: string; Name: string; Destination: string }[];
    const anon = mounts.find((m) => m.Destination === "/anon")!;
    assert.equal(anon.Type, "volume");
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    assert.equal(mounts.find((m) => m.Destination === "/named")!.Name, "keepvol");
    await ok(["rm", "-v", "vols"]);
    const vols = (await ok(["volume", "ls", "-q"])).stdout.split("\n");
    assert.ok(!vols.includes(anon.Name), "the anonymous volume went with rm -v");
    assert.ok(vols.includes("keepvol"), "a named volume stays");
    await ok(["volume", "rm", "keepvol"]);

    await ok(["run", ...net, "--name", "prune-stopped", "-l", "suite=prune", "busybox", "true"]);
    await ok(["create", ...net, "--name", "prune-created", "-l", "suite=prune", "busybox", "true"]);
    const running = (await ok(["run", "-d", ...net, "--name", "prune-running", "-l", "suite=prune", "busybox", "sleep", "300"])).stdout.trim();
    const stoppedID = await fmt("prune-stopped", "{{.Id}}");
    const createdID = await fmt("prune-created", "{{.Id}}");
    const out = (await ok(["container", "prune", "-f", "--filter", "label=suite=prune"])).stdout;
    assert.match(out, /Deleted Containers:/);
    assert.ok(out.includes(stoppedID) && out.includes(createdID), out);
    assert.ok(!out.includes(running));
    assert.equal((await ok(["ps", "-a", "--filter", "label=suite=prune", "--format", "{{.Names}}"])).stdout, "prune-running\n");
    const badUntil = await docker(["container", "prune", "-f", "--filter", "until=bogus"]);
    assert.equal(badUntil.code, 1);
    assert.match(badUntil.stderr, /failed to parse value as time or duration: "bogus"/);
    await ok(["rm", "-f", "prune-running"]);
  });

  it("lists containers with ps -a, -q, --no-trunc, -n, --last, -l and the filters", async () => {
    const L = ["--filter", "label=suite=ps"];
    const names = async (args: string[]) => (await ok(["ps", ...args, "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean);
    assert.equal((await docker(["run", ...net, "--name", "ps1", "-l", "suite=ps", "-l", "team=a", "busybox", "sh", "-c", "exit 2"])).code, 2);
    await ok(["run", "-d", ...net, "--name", "ps2", "-l", "suite=ps", "-l", "team=b", "-v", "psvol:/data", "busybox", "sleep", "300"]);
    await ok(["create", ...net, "--name", "ps3", "-l", "suite=ps", "busybox", "echo", "a b"]);
    const id2 = await fmt("ps2", "{{.Id}}");

    assert.deepEqual(await names(L), ["ps2"], "only running ones without -a");
    assert.deepEqual(await names(["-a", ...L]), ["ps3", "ps2", "ps1"], "newest first");
    assert.deepEqual(await names(["-l"]), ["ps3"]);
    assert.deepEqual(await names(["--last", "2"]), ["ps3", "ps2"]);
    assert.deepEqual(await names(["-n", "1"]), ["ps3"]);
    const q = (await ok(["ps", "-q", ...L])).stdout;
    assert.equal(q, `${id2.slice(0, 12)}\n`);
    const noTrunc = (await ok(["ps", "--no-trunc", ...L, "--format", "{{.ID}} {{.Command}}"])).stdout;
    assert.equal(noTrunc, `${id2} "sleep 300"\n`);

    assert.deepEqual(await names(["-a", ...L, "--filter", "name=ps1"]), ["ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "name=^/ps[12]$"]), ["ps2", "ps1"], "names match as regexps, with the slash");
    assert.deepEqual(await names(["-a", ...L, "--filter", `id=${id2.slice(0, 10)}`]), ["ps2"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "label=team"]), ["ps2", "ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "label=team=b"]), ["ps2"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "status=exited"]), ["ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "status=created"]), ["ps3"]);
    assert.deepEqual(await names([...L, "--filter", "status=running"]), ["ps2"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "exited=2"]), ["ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "exited=0"]), []);
    assert.deepEqual(await names(["-a", ...L, "--filter", "ancestor=busybox"]), ["ps3", "ps2", "ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "ancestor=busybox:latest"]), ["ps3", "ps2", "ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "before=ps3"]), ["ps2", "ps1"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "since=ps1"]), ["ps3", "ps2"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "since=ps1", "--filter", "before=ps3"]), ["ps2"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "volume=psvol"]), ["ps2"]);
    assert.deepEqual(await names(["-a", ...L, "--filter", "volume=/data"]), ["ps2"]);
    const bad = await docker(["ps", "-a", "--filter", "status=sleeping"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid filter 'status=sleeping'/i);
    const badKey = await docker(["ps", "-a", "--filter", "colour=red"]);
    assert.notEqual(badKey.code, 0);
    assert.match(badKey.stderr, /invalid filter 'colour'/i);
    // Status texts as Docker words them.
    const status = (await ok(["ps", "-a", ...L, "--format", "{{.Names}}={{.Status}}"])).stdout;
    assert.match(status, /^ps3=Created$/m);
    assert.match(status, /^ps2=Up (Less than a second|\d+ seconds?)$/m);
    assert.match(status, /^ps1=Exited \(2\) (Less than a second|\d+ seconds?) ago$/m);
    await ok(["rm", "-f", "ps1", "ps2", "ps3"]);
    await ok(["volume", "rm", "psvol"]);
  });

  it("shows what was asked for in inspect: Config, HostConfig, State, Mounts, Created", async () => {
    const bind = path.join(tmp, "inspect-bind");
    await fsp.mkdir(bind);
    const before = Date.now();
    await ok([
      "create", ...net, "--name", "insp",
      "-e", "A=1", "-e", "PATH=/bin",
      "-l", "k=v", "-w", "/work", "-u", "1000:1000", "--hostname", "box",
      "--entrypoint", "sh",
      "-v", `${bind}:/b:ro`, "-v", "inspvol:/v", "--tmpfs", "/t:size=1m",
      "--memory", "64m", "--cpus", "0.5", "--pids-limit", "10",
      "--restart", "on-failure:3", "--stop-signal", "SIGUSR1", "--stop-timeout", "7",
      "--cap-add", "NET_ADMIN", "--add-host", "h:1.2.3.4", "--dns", "9.9.9.9", "--init",
      "busybox", "-c", "true",
    ]);
    const c = await inspect("insp");
    assert.match(c.Id, /^[0-9a-f]{64}$/);
    assert.equal(c.Name, "/insp");
    assert.match(c.Created, RFC3339_NANO);
    assert.ok(Math.abs(Date.parse(c.Created) - before) < 60_000);
    assert.match(c.Image, /^sha256:[0-9a-f]{64}$/);
    assert.equal(c.Path, "sh");
    assert.deepEqual(c.Args, ["-c", "true"]);
    assert.equal(c.RestartCount, 0);
    assert.deepEqual(
      { Status: c.State.Status, Running: c.State.Running, Paused: c.State.Paused, Restarting: c.State.Restarting, OOMKilled: c.State.OOMKilled, Dead: c.State.Dead, Pid: c.State.Pid, ExitCode: c.State.ExitCode, Error: c.State.Error, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt },
      { Status: "created", Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: "", StartedAt: "0001-01-01T00:00:00Z", FinishedAt: "0001-01-01T00:00:00Z" },
    );
    // The request's variables win over the image's (PATH); Docker's order is not stable here.
    assert.deepEqual([...c.Config.Env].sort(), ["A=1", "PATH=/bin"]);
    assert.deepEqual(c.Config.Entrypoint, ["sh"]);
    assert.deepEqual(c.Config.Cmd, ["-c", "true"]);
    assert.deepEqual(c.Config.Labels, { k: "v" });
    assert.equal(c.Config.WorkingDir, "/work");
    assert.equal(c.Config.User, "1000:1000");
    assert.equal(c.Config.Hostname, "box");
    assert.equal(c.Config.Image, "busybox");
    assert.equal(c.Config.StopSignal, "SIGUSR1");
    assert.equal(c.Config.StopTimeout, 7);
    const hc = c.HostConfig;
    assert.equal(hc.Memory, 64 * 1024 * 1024);
    assert.equal(hc.MemorySwap, 128 * 1024 * 1024, "swap defaults to twice the memory");
    assert.equal(hc.NanoCpus, 500_000_000);
    assert.equal(hc.PidsLimit, 10);
    assert.deepEqual(hc.RestartPolicy, { Name: "on-failure", MaximumRetryCount: 3 });
    assert.equal(hc.CapAdd.length, 1);
    assert.match(hc.CapAdd[0], /^(CAP_)?NET_ADMIN$/);
    assert.deepEqual(hc.ExtraHosts, ["h:1.2.3.4"]);
    assert.deepEqual(hc.Dns, ["9.9.9.9"]);
    assert.deepEqual(hc.Tmpfs, { "/t": "size=1m" });
    assert.equal(hc.Init, true);
    assert.equal(hc.AutoRemove, false);
    assert.equal(hc.Privileged, false);
    assert.equal(hc.ShmSize, 64 * 1024 * 1024);
    assert.equal(hc.LogConfig.Type, "json-file");
    assert.equal(hc.IpcMode, "private");
    assert.ok(hc.MaskedPaths.includes("/proc/keys"));
    assert.ok(hc.ReadonlyPaths.includes("/proc/sys"));
    assert.deepEqual([...hc.Binds].sort(), [`${bind}:/b:ro`, "inspvol:/v"].sort());
    const byDest = Object.fromEntries((c.Mounts as any[]).map((m) => [m.Destination, m]));
    assert.deepEqual(
      { Type: byDest["/b"].Type, Source: byDest["/b"].Source, RW: byDest["/b"].RW, Mode: byDest["/b"].Mode, Propagation: byDest["/b"].Propagation },
      { Type: "bind", Source: bind, RW: false, Mode: "ro", Propagation: "rprivate" },
    );
    assert.equal(byDest["/v"].Type, "volume");
    assert.equal(byDest["/v"].Name, "inspvol");
    assert.equal(byDest["/v"].Driver, "local");
    assert.equal(byDest["/v"].RW, true);
    assert.match(byDest["/v"].Source, /\/inspvol\/_data$/);
    await ok(["rm", "-v", "insp"]);
    await ok(["volume", "rm", "inspvol"]);
  });

  it("reads logs with --tail, --since, --until and -t, keeps stdout and stderr apart, and joins long and partial lines", async () => {
    const long = "x".repeat(20_000);
    await ok(["run", ...net, "--name", "logs", "busybox", "sh", "-c", "echo out1; head -c 20000 /dev/zero | tr '\\0' x; echo; echo err1 >&2; sleep 1.1; echo out2; printf partial"]);
    const all = await ok(["logs", "logs"]);
    assert.equal(all.stdout, `out1\n${long}\nout2\npartial`, "a line longer than 8 KiB comes back whole");
    assert.equal(all.stderr, "err1\n");
    const tail1 = await ok(["logs", "--tail", "1", "logs"]);
    assert.equal(tail1.stdout, "partial", "a last line without newline counts as a line");
    assert.equal(tail1.stderr, "");
    const tail2 = await ok(["logs", "--tail", "2", "logs"]);
    assert.equal(tail2.stdout, "out2\npartial");
    assert.equal((await ok(["logs", "--tail", "0", "logs"])).stdout, "");
    const tailAll = await ok(["logs", "--tail", "all", "logs"]);
    assert.equal(tailAll.stdout, all.stdout);

    const ts = await ok(["logs", "-t", "logs"]);
    const lines = ts.stdout.split("\n");
    const m1 = /^(\S+) out1$/.exec(lines[0]!);
    const m2 = /^(\S+) out2$/.exec(lines.find((l) => l.endsWith(" out2"))!);
    assert.ok(m1 && m2, ts.stdout.slice(0, 200));
    assert.match(m1[1]!, RFC3339_NANO);
    assert.match(ts.stderr, /^\S+Z err1\n$/);
    // Between err1 and out2 there is a pause of over a second: split the log there.
    const t1 = Date.parse(/^(\S+) /.exec(ts.stderr)![1]!);
    const t2 = Date.parse(m2[1]!);
    assert.ok(t2 - t1 >= 1000, `${t1} .. ${m2[1]}`);
    const mid = ((t1 + t2) / 2 / 1000).toFixed(3);
    const since = await ok(["logs", "--since", mid, "logs"]);
    assert.equal(since.stdout, "out2\npartial");
    assert.equal(since.stderr, "");
    const untilRes = await ok(["logs", "--until", mid, "logs"]);
    assert.equal(untilRes.stdout, `out1\n${long}\n`);
    assert.equal(untilRes.stderr, "err1\n");
    const rfc = await ok(["logs", "--since", new Date(Number(mid) * 1000).toISOString(), "logs"]);
    assert.equal(rfc.stdout, since.stdout, "--since takes RFC 3339 too");
    await ok(["rm", "logs"]);
  });

  it("follows the logs of a running container until it exits", async () => {
    await ok(["run", "-d", ...net, "--name", "follow", "busybox", "sh", "-c", "for i in 1 2 3 4; do echo tick$i; sleep 0.3; done; echo bye >&2"]);
    const f = await ok(["logs", "-f", "follow"], { timeoutMs: 20_000 });
    assert.equal(f.stdout, "tick1\ntick2\ntick3\ntick4\n");
    assert.equal(f.stderr, "bye\n");
    assert.equal(await fmt("follow", "{{.State.Status}}"), "exited");
    // Following a stopped container ends at once with what it wrote.
    const again = await ok(["logs", "-f", "--tail", "1", "follow"], { timeoutMs: 10_000 });
    assert.equal(again.stdout + again.stderr, "bye\n");
    await ok(["rm", "follow"]);
  });

  it("writes --cidfile and takes -l, --label-file and --env-file", async () => {
    const cidfile = path.join(tmp, "cid");
    const labels = path.join(tmp, "labels");
    const envs = path.join(tmp, "envs");
    await fsp.writeFile(labels, "# a comment\nfrom=file\nshared=file\n\n");
    await fsp.writeFile(envs, "# a comment\nA=1\nSPACED=a b c\nFROM_HOST\n\nEMPTY=\n");
    const run = await ok(["run", ...net, "--name", "files", "--cidfile", cidfile, "--label-file", labels, "-l", "shared=flag", "-l", "only=flag", "--env-file", envs, "busybox", "sh", "-c", 'echo "$A|$SPACED|$FROM_HOST|${EMPTY-unset}"'], { env: { FROM_HOST: "passed" } });
    assert.equal(run.stdout, "1|a b c|passed|\n");
    const id = readFileSync(cidfile, "utf8");
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(await fmt("files", "{{.Id}}"), id);
    assert.deepEqual((await inspect(id)).Config.Labels, { from: "file", shared: "flag", only: "flag" });
    await ok(["rm", "files"]);
  });

  it("runs an init as pid 1 with --init and keeps the command's exit code", async () => {
    const r = await sh(["--init"], "ps -o pid,args | sed 1d; exit 3");
    assert.equal(r.code, 3);
    const procs = r.stdout.trim().split("\n").map((l) => l.trim());
    assert.match(procs[0]!, /^1 \/sbin\/docker-init -- sh -c/);
    assert.ok(procs.slice(1).some((p) => /^\d+ sh -c ps/.test(p) && Number(p.split(" ")[0]) > 1), r.stdout);
    const plain = await sh([], "echo $$");
    assert.equal(plain.stdout, "1\n");
  });

  it("makes the root filesystem read-only with --read-only, with tmpfs mounts still writable", async () => {
    const r = await sh(["--read-only", "--tmpfs", "/tmp"], "touch /x 2>&1; echo rc=$?; touch /tmp/x && echo tmp-ok; echo data > /dev/shm/x && echo shm-ok");
    assert.match(r.stdout, /Read-only file system/);
    assert.match(r.stdout, /rc=1/);
    assert.match(r.stdout, /tmp-ok/);
    assert.match(r.stdout, /shm-ok/);
    const sized = await sh(["--tmpfs", "/x:size=1m"], "df -k /x | tail -1");
    assert.match(sized.stdout, /^tmpfs\s+1024\s+0\s+1024\s+0% \/x$/m);
  });

  it("has Docker's init layer: /.dockerenv and /etc/mtab in the container, in export, not in diff", async () => {
    const r = await sh([], "stat -c '%n %s %a' /.dockerenv; readlink /etc/mtab");
    assert.equal(r.stdout, "/.dockerenv 0 755\n/proc/mounts\n");
    await ok(["run", ...net, "--name", "initlayer", "busybox", "touch", "/made"]);
    assert.equal((await ok(["diff", "initlayer"])).stdout, "A /made\n");
    const tarFile = path.join(tmp, "initlayer.tar");
    await ok(["export", "-o", tarFile, "initlayer"]);
    const names = execFileSync("tar", ["-tf", tarFile], { encoding: "utf8" }).split("\n");
    for (const n of [".dockerenv", "etc/mtab", "dev/console", "dev/pts/", "dev/shm/", "made"]) assert.ok(names.includes(n), `${n} in the export`);
    await ok(["rm", "initlayer"]);
  });

  it("gives a cgroup namespace of its own with --cgroupns private, to the process and its execs", async () => {
    const own = await sh(["--cgroupns", "private"], "cat /proc/self/cgroup");
    assert.equal(own.code, 0, own.stderr);
    const lines = own.stdout.trim().split("\n");
    assert.ok(lines.length > 0 && lines.every((l) => l.endsWith(":/")), own.stdout);
    const host = await sh(["--cgroupns", "host"], "cat /proc/self/cgroup");
    assert.ok(host.stdout.trim().split("\n").some((l) => !l.endsWith(":/")), host.stdout);
    await ok(["run", "-d", ...net, "--name", "cgns", "--cgroupns", "private", "busybox", "sleep", "60"]);
    const exec = await ok(["exec", "cgns", "cat", "/proc/self/cgroup"]);
    assert.ok(exec.stdout.trim().split("\n").every((l) => l.endsWith(":/")), exec.stdout);
    assert.equal((await ok(["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", "cgns"])).stdout.trim(), "private");
    await ok(["rm", "-f", "cgns"]);
    // The default is dockerd's: private on a cgroup v2 host, the host's on v1.
    await ok(["create", ...net, "--name", "cgdefault", "busybox"]);
    const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
    assert.equal((await ok(["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", "cgdefault"])).stdout.trim(), v2 ? "private" : "host");
    await ok(["rm", "cgdefault"]);
    // (the docker CLI checks the flag itself; the API answers 400)
    const bad = await apiRequest(e, "POST", "/containers/create", { Image: "busybox", HostConfig: { CgroupnsMode: "bogus" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, "invalid cgroup namespace mode: bogus");
  });

  it("mounts --mount type=tmpfs with Docker's defaults, its size, mode and read-only", async () => {
    const opts = async (mount: string) => {
      const r = await sh(["--mount", mount], "grep ' /t ' /proc/mounts | cut -d' ' -f4; stat -c %a /t");
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split("\n");
    };
    assert.deepEqual(await opts("type=tmpfs,target=/t"), ["rw,nosuid,nodev,noexec,relatime", "1777"]);
    assert.deepEqual(await opts("type=tmpfs,target=/t/,tmpfs-size=1m,tmpfs-mode=1770"), ["rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770", "1770"]);
    assert.deepEqual(await opts("type=tmpfs,target=/t,tmpfs-size=100000,readonly"), ["ro,nosuid,nodev,noexec,relatime,size=100k", "1777"]);
  });

  it("creates named volumes on demand, fills them from the image once, and binds host paths", async () => {
    const first = await sh(["-v", "etcvol:/etc"], "grep ^root: /etc/passwd && echo marker > /etc/pier-marker");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^root:x:0:0:/);
    const vol = JSON.parse((await ok(["volume", "inspect", "etcvol"])).stdout)[0];
    assert.equal(vol.Name, "etcvol");
    assert.equal(vol.Driver, "local");
    const second = await sh(["-v", "etcvol:/etc"], "cat /etc/pier-marker; ls /etc/passwd");
    assert.equal(second.stdout, "marker\n/etc/passwd\n", "the volume keeps its content");
    // A bind source that does not exist is created as a directory (-v), and writes show on the host.
    const src = path.join(tmp, "made", "by", "bind");
    const bind = await sh(["-v", `${src}:/x`], "echo hi > /x/f && ls -ld /x | cut -c1");
    assert.equal(bind.stdout, "d\n", bind.stderr);
    assert.ok(statSync(src).isDirectory());
    assert.equal(readFileSync(path.join(src, "f"), "utf8"), "hi\n");
    const ro = await sh(["-v", `${src}:/x:ro`], "cat /x/f; echo no > /x/f");
    assert.notEqual(ro.code, 0);
    assert.equal(ro.stdout, "hi\n");
    assert.match(ro.stderr, /Read-only file system/);
    // An existing host file can be bound over a file.
    const file = path.join(tmp, "hostfile");
    await fsp.writeFile(file, "from host\n");
    assert.equal((await sh(["-v", `${file}:/etc/motd:ro`], "cat /etc/motd")).stdout, "from host\n");
    // --mount does not create a missing source.
    const missing = path.join(tmp, "missing");
    const m = await docker(["run", "--rm", ...net, "--mount", `type=bind,source=${missing},target=/x`, "busybox", "true"]);
    assert.equal(m.code, 125);
    assert.match(m.stderr, new RegExp(`invalid mount config for type "bind": bind source path does not exist: ${missing}`));
    assert.ok(!existsSync(missing));
    await ok(["volume", "rm", "etcvol"]);
  });

  it("sets the hostname, extra hosts and DNS servers", async () => {
    const r = await sh(["--hostname", "myhost", "--add-host", "foo:1.2.3.4", "--dns", "9.9.9.9", "--dns-search", "example.com"], "hostname; cat /etc/hostname; grep foo /etc/hosts; cat /etc/resolv.conf");
    assert.equal(r.code, 0, r.stderr);
    const [h, file, hosts] = r.stdout.split("\n");
    assert.equal(h, "myhost");
    assert.equal(file, "myhost");
    assert.equal(hosts, "1.2.3.4\tfoo");
    assert.match(r.stdout, /^nameserver 9\.9\.9\.9$/m);
    assert.match(r.stdout, /^search example\.com$/m);
    assert.match((await sh([], "cat /etc/hosts")).stdout, /^127\.0\.0\.1\s+localhost$/m);
  });

  it("isolates the network with none and the default, and shares the host's with host", async () => {
    const links = (out: string) => out.trim().split("\n").map((l) => l.split(": ")[1]!.split("@")[0]!);
    const none = await docker(["run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"]);
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(links(none.stdout), ["lo"]);
    assert.match(none.stdout, /lo: <LOOPBACK,UP,LOWER_UP>/);
    if (net.length === 0) {
      // The default network: loopback up, and at most the network's own interface.
      const dflt = await ok(["run", "--rm", "busybox", "ip", "-o", "link"]);
      assert.match(dflt.stdout, /lo: <LOOPBACK,UP,LOWER_UP>/);
      for (const l of links(dflt.stdout)) assert.ok(l === "lo" || l === "eth0", l);
    }
    // Other tests add and remove veths meanwhile: the container sees the host's links as they
    // were at some moment between these two looks.
    const before = readdirSync("/sys/class/net");
    const host = await ok(["run", "--rm", "--network", "host", "busybox", "sh", "-c", "ip -o link; hostname"]);
    const afterwards = readdirSync("/sys/class/net");
    const lines = host.stdout.trim().split("\n");
    assert.equal(lines.pop(), hostname());
    const seen = links(lines.join("\n"));
    for (const l of seen) assert.ok(before.includes(l) || afterwards.includes(l) || /^(pierv|veth)/.test(l), `${l} is a host link`);
    for (const l of before.filter((x) => afterwards.includes(x))) assert.ok(seen.includes(l), `the container sees ${l}`);
  });

  it("puts resource limits into the container's cgroups", async () => {
    const r = await sh(["--memory", "64m", "--cpus", "0.5", "--pids-limit", "10", "--cpuset-cpus", "0"], [
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpuset/cpuset.cpus",
      "grep :memory: /proc/self/cgroup | cut -d: -f3",
    ].join("; "));
    assert.equal(r.code, 0, r.stderr);
    const [mem, quota, period, pids, cpuset, cgroup] = r.stdout.trim().split("\n");
    assert.equal(mem, String(64 * 1024 * 1024));
    assert.equal(quota, "50000");
    assert.equal(period, "100000");
    assert.equal(pids, "10");
    assert.equal(cpuset, "0");
    // The container has a cgroup of its own, named after it.
    assert.match(cgroup!, /^\/.+[0-9a-f]{64}$/);
    // The pids limit is enforced: the 10th process cannot be forked.
    const fork = await sh(["--pids-limit", "10"], "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done 2>&1; wait");
    assert.match(fork.stdout + fork.stderr, /can't fork|Resource temporarily unavailable/);
    const ul = await sh(["--ulimit", "nofile=1024:2048"], "ulimit -n; ulimit -Hn");
    assert.equal(ul.stdout, "1024\n2048\n");
  });

  it("sees the memory limit from the host side of the cgroup", async () => {
    const id = (await ok(["run", "-d", ...net, "--memory", "32m", "busybox", "sleep", "300"])).stdout.trim();
    // The container's cgroup, found from the host by its pid.
    const pid = Number(await fmt(id, "{{.State.Pid}}"));
    const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /:memory:/.test(l))!;
    const cg = line.split(":")[2]!;
    assert.ok(cg.endsWith(id), cg);
    assert.equal(readFileSync(`/sys/fs/cgroup/memory${cg}/memory.limit_in_bytes`, "utf8").trim(), String(32 * 1024 * 1024));
    await ok(["rm", "-f", id]);
  });

  it("reports OOMKilled and 137 when a container outgrows its memory limit, and accepts --oom-kill-disable", async () => {
    const r = await docker(["run", ...net, "--name", "oom", "--memory", "8m", "busybox", "sh", "-c", 'x=$(head -c 64m /dev/zero | tr "\\0" a); echo ${#x}'], { timeoutMs: 60_000 });
    assert.equal(r.code, 137, r.stderr);
    assert.equal(await fmt("oom", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}"), "true 137 exited");
    await ok(["rm", "oom"]);
    const d = await docker(["run", ...net, "--name", "nooom", "--memory", "64m", "--oom-kill-disable", "busybox", "true"]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await fmt("nooom", "{{.HostConfig.OomKillDisable}} {{.State.OOMKilled}}"), "true false");
    await ok(["rm", "nooom"]);
  });

  it("stops with --stop-signal and gives up after --stop-timeout", async () => {
    await ok(["run", "-d", ...net, "--name", "sig", "--stop-signal", "USR1", "busybox", "sh", "-c", 'trap "echo usr1; exit 9" USR1; while :; do sleep 0.1; done']);
    await sleep(300);
    await ok(["stop", "sig"]);
    assert.equal(await fmt("sig", "{{.State.ExitCode}} {{.Config.StopSignal}}"), "9 USR1");
    assert.equal((await ok(["logs", "sig"])).stdout, "usr1\n");
    // sleep as pid 1 ignores SIGTERM: stop waits --stop-timeout seconds, then kills.
    await ok(["run", "-d", ...net, "--name", "slow", "--stop-timeout", "1", "busybox", "sleep", "300"]);
    const t0 = Date.now();
    await ok(["stop", "slow"]);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 9000, `stop took ${took} ms; the default timeout would be 10 s`);
    assert.equal(await fmt("slow", "{{.State.ExitCode}} {{.Config.StopTimeout}}"), "137 1");
    await ok(["rm", "sig", "slow"]);
  });

  it("runs as --user uid:gid or names, adds --group-add groups, and creates a missing --workdir", async () => {
    assert.equal((await sh(["-u", "1000:1000"], "id")).stdout, "uid=1000 gid=1000 groups=1000\n");
    assert.equal((await sh(["-u", "nobody:daemon"], "id")).stdout, "uid=65534(nobody) gid=1(daemon) groups=1(daemon)\n");
    assert.equal((await sh(["-u", "1000", "--group-add", "50", "--group-add", "daemon"], "id")).stdout, "uid=1000 gid=0(root) groups=0(root),1(daemon),50(staff)\n");
    const w = await sh(["-w", "/does/not/exist"], "pwd; ls -ld . | cut -c1");
    assert.equal(w.stdout, "/does/not/exist\nd\n");
  });

  it("keeps containers running across a pierd crash and records the exit of those that ended meanwhile", async (t) => {
    if (!e.restart || e.pid === undefined) return t.skip("only for a pierd the harness started");
    const runningID = (await ok(["run", "-d", ...net, "--name", "survivor", "busybox", "sh", "-c", "echo before; trap 'echo after; exit 0' TERM; while :; do sleep 0.1; done"])).stdout.trim();
    const endingID = (await ok(["run", "-d", ...net, "--name", "ender", "busybox", "sh", "-c", "sleep 2; echo done; exit 7"])).stdout.trim();
    const pidBefore = Number(await fmt("survivor", "{{.State.Pid}}"));
    // Freeze pierd so "ender" ends while it cannot watch, then crash it.
    process.kill(e.pid, "SIGSTOP");
    try {
      await until("ender to exit", async () => {
        try {
          process.kill(Number(readFileSync(path.join(e.execRoot!, "containers", endingID, "monitor.pid"), "utf8")), 0);
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      await e.restart();
    }
    const survivor = await inspect("survivor");
    assert.equal(survivor.State.Status, "running");
    assert.equal(survivor.State.Pid, pidBefore);
    process.kill(pidBefore, 0); // still alive
    const ender = await inspect("ender");
    assert.equal(ender.State.Status, "exited");
    assert.equal(ender.State.ExitCode, 7);
    assert.match(ender.State.FinishedAt, RFC3339_NANO);
    assert.equal((await ok(["logs", "ender"])).stdout, "done\n");
    assert.equal((await ok(["wait", "ender"])).stdout, "7\n");
    // The survivor is still managed: logs, stop and wait work after the restart.
    await ok(["stop", "-t", "5", "survivor"]);
    assert.equal((await ok(["wait", runningID])).stdout, "0\n");
    assert.equal((await ok(["logs", "survivor"])).stdout, "before\nafter\n");
    await ok(["rm", "survivor", "ender"]);
    assert.equal((await sh([], "echo fresh")).stdout, "fresh\n", "new containers run after the restart");
  });
});
