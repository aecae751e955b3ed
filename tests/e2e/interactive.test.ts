// Interactive containers end to end: `run -i` with piped stdin, and `run -it`, `attach`,
// `exec -it` typed into a real terminal (tmux) with the real docker CLI and with `pier`:
// output, resize, detach keys, reattach, exit codes; and the attach protocol (logs replay,
// half-close) on a raw socket.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { DOCKER, ROOT, startEngine, type Engine } from "../harness.js";

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

/** A terminal: a detached tmux session on a private tmux server. */
class Terminal {
  private static n = 0;
  readonly name: string;
  constructor(private readonly server: string, command: string, env: Record<string, string>, size = { w: 80, h: 24 }) {
    this.name = `t${Terminal.n++}`;
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    // The shell keeps the pane after the command so its last words and exit code can be read.
    const wrapped = `env ${envArgs} ${command}; echo "[exit $?]"; sleep 600`;
    const r = this.tmux(["new-session", "-d", "-s", this.name, "-x", String(size.w), "-y", String(size.h), wrapped]);
    assert.equal(r.status, 0, r.stderr);
  }
  private tmux(args: string[]) {
    return spawnSync("tmux", ["-L", this.server, ...args], { encoding: "utf8" });
  }
  screen(): string {
    return this.tmux(["capture-pane", "-t", this.name, "-p"]).stdout;
  }
  /** Type text (literally), then Enter. */
  line(text: string): void {
    this.tmux(["send-keys", "-t", this.name, "-l", text]);
    this.tmux(["send-keys", "-t", this.name, "Enter"]);
  }
  /** Keys one by one with a pause, as a person types them (Docker matches detach keys per read). */
  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) {
      this.tmux(["send-keys", "-t", this.name, k]);
      await sleep(150);
    }
  }
  resize(w: number, h: number): void {
    this.tmux(["resize-window", "-t", this.name, "-x", String(w), "-y", String(h)]);
  }
  /** Wait until the screen matches; returns the screen. */
  async waitFor(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let s = "";
    while (Date.now() < deadline) {
      s = this.screen();
      if (re.test(s)) return s;
      await sleep(50);
    }
    throw new Error(`terminal never showed ${re}; it shows:\n${s}`);
  }
  kill(): void {
    this.tmux(["kill-session", "-t", this.name]);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function rawExchange(host: string, text: string, opts: { writeAfter?: { ms: number; data: string; end: boolean } } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(host.replace(/^unix:\/\//, ""), () => {
      s.write(text);
      if (opts.writeAfter) {
        const w = opts.writeAfter;
        setTimeout(() => (w.end ? s.end(w.data) : s.write(w.data)), w.ms);
      }
    });
    const chunks: Buffer[] = [];
    s.on("data", (d) => chunks.push(d));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(chunks)));
    setTimeout(() => {
      s.destroy();
      reject(new Error(`the daemon never closed the attach: ${Buffer.concat(chunks).toString("latin1")}`));
    }, 15_000).unref();
  });
}

describe("interactive containers", () => {
  let e: Engine;
  let cfg = "";
  const server = `pier-test-${process.pid}`;
  let env: Record<string, string>;
  before(async () => {
    e = await startEngine();
    cfg = mkdtempSync("/tmp/pier-test-dockercfg-");
    env = { DOCKER_HOST: e.host, PIER_HOST: e.host, DOCKER_CONFIG: cfg, TERM: "xterm" };
    // An idle session keeps the private tmux server up between terminals: when the last
    // session goes the server exits, and a new-session racing that exit fails with "server
    // exited unexpectedly".
    if (hasTmux) spawnSync("tmux", ["-L", server, "new-session", "-d", "-s", "keeper", "sleep 3600"]);
  });
  after(async () => {
    spawnSync("tmux", ["-L", server, "kill-server"]);
    rmSync(cfg, { recursive: true, force: true });
    await e?.stop();
  });

  it("passes piped stdin to `run -i` and closes it at EOF", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const hi = await e.docker(["run", "--rm", "-i", "--name", "catter", "busybox", "cat"], { input: "hi\n" });
    assert.deepEqual([hi.code, hi.stdout, hi.stderr], [0, "hi\n", ""]);
    const ev = await e.docker(["events", "--since", String(since), "--until", String(Math.floor(Date.now() / 1000) + 1), "--filter", "container=catter", "--format", "{{.Action}}"]);
    assert.deepEqual(ev.stdout.trim().split("\n"), ["create", "attach", "start", "die", "destroy"]);
    const more = await e.docker(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done >&2; exit 4"], { input: "a\nb\n" });
    assert.deepEqual([more.code, more.stdout, more.stderr], [4, "a\nb\n", "done\n"]);
    const big = "y".repeat(500_000);
    const wc = await e.docker(["run", "--rm", "-i", "busybox", "wc", "-c"], { input: big });
    assert.equal(wc.stdout.trim(), String(big.length));
    const empty = await e.docker(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; exit 2"]);
    assert.equal(empty.code, 2);
    const pier = await e.pier(["run", "--rm", "-i", "busybox", "cat"], { input: "via pier\n" });
    assert.deepEqual([pier.code, pier.stdout], [0, "via pier\n"]);
  });

  it("replays the log with logs=1 and closes the attach when the process ends at stdin's EOF", async () => {
    // Created as `docker run -i` makes it (stdin open, once), attached before start.
    const body = JSON.stringify({ Image: "busybox", Cmd: ["sh", "-c", "echo before; cat; echo after"], OpenStdin: true, StdinOnce: true, AttachStdin: true });
    const made = await rawExchange(e.host, `POST /containers/create?name=echoer HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(made.toString(), /201 Created/);
    const attach = `POST /containers/echoer/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`;
    // Attach before start; type a line, then half-close: the container sees EOF and ends.
    const session = rawExchange(e.host, attach, { writeAfter: { ms: 700, data: "typed\n", end: true } });
    await sleep(200);
    assert.equal((await e.docker(["start", "echoer"])).code, 0);
    const out = (await session).toString("latin1");
    assert.match(out, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    // (Docker before API 1.42 labelled this multiplexed stream "raw-stream".)
    if (!process.env.PIER_TEST_DOCKER_HOST) assert.match(out, /\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream\r\n/);
    const frames = out.slice(out.indexOf("\r\n\r\n") + 4).replace(/\x01\x00\x00\x00[\s\S]{4}/g, "");
    assert.equal(frames, "before\ntyped\nafter\n");
    assert.equal((await e.docker(["wait", "echoer"])).stdout.trim(), "0");
    // logs=1 without stream replays what it wrote.
    const replay = await rawExchange(e.host, `POST /containers/echoer/attach?logs=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    const text = replay.toString("latin1");
    assert.equal(text.slice(text.indexOf("\r\n\r\n") + 4).replace(/\x01\x00\x00\x00[\s\S]{4}/g, ""), "before\ntyped\nafter\n");
    await e.docker(["rm", "echoer"]);
  });

  it("runs `docker run -it` in a terminal: typing, resize, detach keys, attach again, exit code", { skip: !hasTmux && "no tmux" }, async () => {
    const t = new Terminal(server, `${DOCKER} run -it --name tty1 busybox sh`, env);
    try {
      await t.waitFor(/^\/ #/m);
      t.line("echo hel''lo; stty size; tty");
      // Wait for the last line printed: the pane can be read between two lines.
      const s = await t.waitFor(/^\/dev\/pts\/0$/m);
      assert.match(s, /^hello$/m);
      assert.match(s, /^24 80$/m);
      // The CLI tells pierd the new size (POST /containers/{id}/resize); the shell sees it.
      t.resize(100, 30);
      await sleep(300);
      t.line("stty size");
      await t.waitFor(/^30 100$/m);
      // ctrl-p ctrl-q: the CLI leaves, the container keeps running.
      await t.keys("C-p", "C-q");
      await t.waitFor(/\[exit 0\]/);
    } finally {
      t.kill();
    }
    const ps = await e.docker(["inspect", "-f", "{{.State.Running}}", "tty1"]);
    assert.equal(ps.stdout.trim(), "true");
    const t2 = new Terminal(server, `${DOCKER} attach tty1`, env);
    try {
      await sleep(500);
      t2.line("echo again-$((40+2))");
      await t2.waitFor(/^again-42$/m);
      t2.line("exit 7");
      await t2.waitFor(/\[exit 7\]/);
    } finally {
      t2.kill();
    }
    const st = await e.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "tty1"]);
    assert.equal(st.stdout.trim(), "exited 7");
    await e.docker(["rm", "tty1"]);
  });

  it("resizes a container's tty through the API and refuses a stopped one", async () => {
    const run = await e.docker(["run", "-d", "-t", "--name", "ttyd", "busybox", "sh", "-c", "sleep 0.5; stty size; sleep 60"]);
    assert.equal(run.code, 0, run.stderr);
    const resize = (h: number, w: number) => rawExchange(e.host, `POST /containers/ttyd/resize?h=${h}&w=${w} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.match((await resize(11, 55)).toString(), /^HTTP\/1\.1 200/);
    let logs = "";
    for (let i = 0; i < 40 && !/\d+ \d+/.test(logs); i++) {
      await sleep(100);
      logs = (await e.docker(["logs", "ttyd"])).stdout;
    }
    assert.equal(logs.trim(), "11 55");
    await e.docker(["rm", "-f", "ttyd"]);
    await e.docker(["create", "--name", "ttyd", "-t", "busybox", "sh"]);
    assert.match((await resize(10, 10)).toString(), /^HTTP\/1\.1 409/);
    await e.docker(["rm", "ttyd"]);
  });

  it("runs `docker exec -it` in a terminal with its own size and exit code", { skip: !hasTmux && "no tmux" }, async () => {
    await e.docker(["run", "-d", "--name", "host1", "busybox", "sleep", "600"]);
    const t = new Terminal(server, `${DOCKER} exec -it host1 sh`, env, { w: 90, h: 20 });
    try {
      await t.waitFor(/^\/ #/m);
      t.line("stty size; echo $TERM");
      const s = await t.waitFor(/^xterm$/m);
      assert.match(s, /^20 90$/m);
      t.resize(70, 15);
      await sleep(300);
      t.line("stty size");
      await t.waitFor(/^15 70$/m);
      t.line("exit 9");
      await t.waitFor(/\[exit 9\]/);
    } finally {
      t.kill();
    }
    await e.docker(["rm", "-f", "host1"]);
  });

  it("does the same through pier's own CLI: run -it, detach, attach, exec -it", { skip: !hasTmux && "no tmux" }, async () => {
    const pier = `${process.execPath} ${path.join(ROOT, "bin/pier.js")}`;
    const t = new Terminal(server, `${pier} run -it --name ptty busybox sh`, env);
    try {
      await t.waitFor(/^\/ #/m);
      t.line("stty size");
      await t.waitFor(/^24 80$/m);
      t.resize(60, 20);
      await sleep(300);
      t.line("stty size");
      await t.waitFor(/^20 60$/m);
      await t.keys("C-p", "C-q");
      await t.waitFor(/\[exit 0\]/);
    } finally {
      t.kill();
    }
    assert.equal((await e.docker(["inspect", "-f", "{{.State.Running}}", "ptty"])).stdout.trim(), "true");
    const x = new Terminal(server, `${pier} exec -it ptty sh`, env);
    try {
      await x.waitFor(/^\/ #/m);
      x.line("tty; exit 3");
      await x.waitFor(/\[exit 3\]/);
    } finally {
      x.kill();
    }
    const a = new Terminal(server, `${pier} attach ptty`, env);
    try {
      await sleep(500);
      a.line("exit 6");
      await a.waitFor(/\[exit 6\]/);
    } finally {
      a.kill();
    }
    await e.docker(["rm", "ptty"]);
  });
});
