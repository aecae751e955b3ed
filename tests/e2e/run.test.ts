// `docker run` end to end through the real docker CLI: output, exit codes, --rm, -d, names.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEngine, type Engine } from "../harness.js";

describe("docker run", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("prints the output of a foreground container and removes it with --rm", async () => {
    const r = await e.docker(["run", "--rm", "busybox", "echo", "hello"]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "hello\n");
    assert.equal(r.code, 0);
    const ps = await e.docker(["ps", "-aq"]);
    assert.equal(ps.stdout.trim(), "", "the --rm container is gone");
  });

  it("returns the container's exit code and keeps stdout and stderr apart", async () => {
    const r = await e.docker(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
  });

  it("exits 127 when the command does not exist and 126 when it cannot be run", async () => {
    const missing = await e.docker(["run", "--rm", "busybox", "no-such-command"]);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /executable file not found/);
    const notExec = await e.docker(["run", "--rm", "busybox", "/etc"]);
    assert.equal(notExec.code, 126, notExec.stderr);
  });

  it("reports 137 for a container killed by SIGKILL, and 128+N for other signals", async () => {
    // The container's pid 1 is not killable from inside its own namespace, so kill from outside.
    const run = await e.docker(["run", "-d", "busybox", "sleep", "300"]);
    const id = run.stdout.trim();
    assert.equal((await e.docker(["kill", id])).code, 0);
    assert.equal((await e.docker(["wait", id])).stdout.trim(), "137");
    // sh as pid 1 with a TERM trap; a child shell killed by SIGTERM exits 143.
    const child = await e.docker(["run", "--rm", "busybox", "sh", "-c", "sh -c 'kill -TERM $$'; echo $?"]);
    assert.equal(child.stdout, "143\n");
    await e.docker(["rm", id]);
  });

  it("runs detached, lists, logs, stops and removes a named container", async () => {
    const run = await e.docker(["run", "-d", "--name", "sleeper", "busybox", "sh", "-c", "echo started; exec sleep 300"]);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await e.docker(["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} sleeper Up `, "m"));
    let logs = await e.docker(["logs", "sleeper"]);
    for (let i = 0; i < 50 && logs.stdout === ""; i++) {
      await new Promise((r) => setTimeout(r, 100));
      logs = await e.docker(["logs", "sleeper"]);
    }
    assert.equal(logs.stdout, "started\n");
    const dup = await e.docker(["run", "-d", "--name", "sleeper", "busybox", "true"]);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /Conflict\. The container name "\/sleeper" is already in use/);
    const rmRunning = await e.docker(["rm", "sleeper"]);
    assert.notEqual(rmRunning.code, 0);
    assert.match(rmRunning.stderr, /container is running|stop the container before removing/);
    const stop = await e.docker(["stop", "-t", "1", "sleeper"]);
    assert.equal(stop.code, 0, stop.stderr);
    const state = await e.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "sleeper"]);
    // sh execs sleep as pid 1, which the kernel shields from SIGTERM: stop's SIGKILL ends it.
    assert.equal(state.stdout.trim(), "exited 137");
    const rm = await e.docker(["rm", "sleeper"]);
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await e.docker(["inspect", "sleeper"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: sleeper|No such container: sleeper/);
  });

  it("passes env, workdir, user and entrypoint like Docker", async () => {
    const r = await e.docker(["run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "busybox", "sh", "-c", 'echo "$FOO $(pwd) $(id -u):$(id -g)"']);
    assert.equal(r.stdout, "bar /tmp 65534:65534\n");
    const ep = await e.docker(["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]);
    assert.equal(ep.stdout, "a b\n");
    // `--entrypoint ""` drops the image's entrypoint and its Cmd: the arguments are the command.
    const reset = await e.docker(["run", "--rm", "--entrypoint", "", "busybox", "echo", "hi"]);
    assert.equal(reset.stdout, "hi\n");
    const nothing = await e.docker(["run", "--rm", "--entrypoint", "", "busybox"]);
    assert.equal(nothing.code, 125);
    assert.match(nothing.stderr, /No command specified/);
    const badUser = await e.docker(["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert.notEqual(badUser.code, 0);
    assert.match(badUser.stderr, /unable to find user nosuchuser/);
  });

  it("gives the process Docker's environment: PATH, HOSTNAME, HOME, and TERM with a tty", async () => {
    const r = await e.docker(["run", "--name", "envcheck", "-e", "FOO=1", "busybox", "env"]);
    const id = (await e.docker(["inspect", "-f", "{{.Id}}", "envcheck"])).stdout.trim();
    const env = r.stdout.trim().split("\n").sort();
    assert.deepEqual(env, ["FOO=1", "HOME=/root", `HOSTNAME=${id.slice(0, 12)}`, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    // Config.Env in inspect holds only what the image and the user gave.
    const cfg = await e.docker(["inspect", "-f", "{{json .Config.Env}}", "envcheck"]);
    assert.deepEqual(JSON.parse(cfg.stdout).sort(), ["FOO=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    await e.docker(["rm", "envcheck"]);
    const tty = await e.docker(["run", "--rm", "-t", "busybox", "sh", "-c", "echo $TERM"]);
    assert.equal(tty.stdout.trim(), "xterm");
  });

  it("answers 404 with Docker's message for a missing image when pulling is impossible", async () => {
    const r = await e.docker(["run", "--rm", "--pull", "never", "no-such-image:1"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /No such image: no-such-image:1/);
  });

  it("runs a local image only for its own platform (--platform)", async () => {
    const arch = (await e.docker(["image", "inspect", "-f", "{{.Architecture}}", "busybox"])).stdout.trim();
    const same = await e.docker(["run", "--rm", "--pull", "never", "--platform", `linux/${arch}`, "busybox", "echo", "ok"]);
    assert.equal(same.stdout, "ok\n", same.stderr);
    const other = arch === "arm64" ? "amd64" : "arm64";
    const r = await e.docker(["run", "--rm", "--pull", "never", "--platform", `linux/${other}`, "busybox", "true"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`image with reference busybox was found but does not match the specified platform: wanted linux/${other}, actual: linux/${arch}`));
  });
});
