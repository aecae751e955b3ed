// `pier` and `docker` side by side against the same daemon: for each case the same arguments go
// to both CLIs, and stdout, stderr and the exit code must match once ids, times and the
// program's name are normalised. Each case is one difference found and fixed in pier's CLI.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { DOCKER, ROOT, startEngine, type Engine, type RunResult } from "../harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

interface Case {
  /** The command line, as both CLIs get it. */
  args: string[];
  /** docker commands run before each CLI's turn, and after it. */
  setup?: string[][];
  cleanup?: string[][];
  input?: string;
}

/** What may differ between two runs: ids, times, the program's name. */
function normalise(s: string): string {
  return s
    .replace(/sha256:[0-9a-f]{64}/g, "sha256:<ID>")
    .replace(/\b[0-9a-f]{64}\b/g, "<ID>")
    .replace(/\b[0-9a-f]{12}\b/g, "<SID>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, "<TIME>")
    .replace(/\bdocker\b/g, "pier")
    .replace(/\bDocker\b/g, "Pier");
}

const view = (r: RunResult) => ({ code: r.code, stdout: normalise(r.stdout), stderr: normalise(r.stderr) });

async function compare(e: Engine, c: Case): Promise<void> {
  const turn = async (cli: "docker" | "pier") => {
    for (const s of c.setup ?? []) await e.docker(s);
    const r = await e[cli](c.args, { input: c.input });
    for (const s of c.cleanup ?? []) await e.docker(s);
    return r;
  };
  const docker = view(await turn("docker"));
  const pier = view(await turn("pier"));
  assert.deepEqual(pier, docker, `pier ${c.args.join(" ")}`);
}

function cases(title: string, list: Case[], e: () => Engine, opts: { sameApiOnly?: boolean } = {}): void {
  it(title, async (t) => {
    // pier speaks API 1.45 at most: against a newer daemon docker shows and takes flags pier cannot.
    if (opts.sameApiOnly) {
      const api = (await e().docker(["version", "--format", "{{.Server.APIVersion}}"])).stdout.trim();
      if (api !== "1.45") return t.skip(`the daemon speaks API ${api}`);
    }
    for (const c of list) await compare(e(), c);
  });
}

describe("pier CLI parity with docker", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });
  const engine = () => e;

  cases(
    "words a wrong number of arguments as docker's checks do",
    [
      { args: ["rename"] },
      { args: ["rename", "a"] },
      { args: ["rename", "a", "b", "c"] },
      { args: ["ps", "x"] },
      { args: ["images", "a", "b"] },
      { args: ["logs", "a", "b"] },
      { args: ["tag", "a"] },
      { args: ["port"] },
      { args: ["exec", "a"] },
      { args: ["volume", "create", "a", "b"] },
      { args: ["system", "df", "x"] },
      { args: ["version", "x"] },
      { args: ["import"] },
      { args: ["rm"] },
    ],
    engine,
  );

  cases(
    "lays out help as docker's: usage, aliases, flags sorted with their types, subcommands",
    [
      { args: ["ps", "--help"] },
      { args: ["network", "ls", "--help"] },
      { args: ["events", "--help"] },
      { args: ["system", "--help"] },
      { args: ["system"] },
      { args: ["rm", "--help"] },
      { args: ["inspect", "--help"] },
      { args: ["volume", "rm", "--help"] },
      { args: ["logs", "--help"] },
      { args: ["exec", "--help"] },
    ],
    engine,
  );

  cases(
    "rejects a number flag that is not a number before asking the daemon",
    [
      { args: ["stop", "-t", "x", "a"] },
      { args: ["stop", "--time", "x", "a"] },
      { args: ["restart", "-t", "1.5", "a"] },
      { args: ["ps", "-n", "x"] },
      { args: ["ps", "-n", "99999999999999999999"] },
      { args: ["update", "--blkio-weight", "70000", "nosuch"] },
    ],
    engine,
  );

  cases(
    "reports --format templates that fail with docker's words and exit codes",
    [
      { args: ["ps", "--format", "{{"] },
      { args: ["images", "--format", "{{.Nope}}"] },
      { args: ["network", "ls", "--format", "{{.Nope}}"] },
      { args: ["history", "--format", "{{.Nope}}", "busybox"] },
      { args: ["system", "df", "--format", "{{.Nope}}"] },
      { args: ["stats", "--no-stream", "--format", "{{"] },
      { args: ["inspect", "--format", "{{", "busybox"] },
      { args: ["info", "--format", "{{.Nope}}"] },
      { args: ["info", "--format", "{{"] },
      { args: ["version", "--format", "{{.Nope}}"] },
      { args: ["version", "--format", "{{"] },
      {
        setup: [["run", "-d", "--name", "fmt1", "-l", "a=b", "-l", "x=y", "busybox", "sleep", "300"]],
        args: ["ps", "--format", '{{.Labels}}|{{.Label "a"}}|{{index .Labels "x"}}'],
        cleanup: [["rm", "-f", "fmt1"]],
      },
      {
        setup: [["run", "-d", "--name", "fmt1", "busybox", "sleep", "300"]],
        args: ["ps", "--format", "{{range .Names}}{{.}}{{end}}"],
        cleanup: [["rm", "-f", "fmt1"]],
      },
    ],
    engine,
  );

  cases(
    "ps -q wins over --format with docker's warning; df -v runs a custom format once over all lists",
    [
      {
        setup: [["run", "-d", "--name", "q1", "busybox", "sleep", "300"]],
        args: ["ps", "-q", "--format", "table {{.Names}}"],
        cleanup: [["rm", "-f", "q1"]],
      },
      { args: ["system", "df", "-v", "--format", "{{json .}}"] },
      { args: ["system", "df", "-v", "--format", "{{.Nope}}"] },
    ],
    engine,
  );

  cases(
    "forgives missing objects under -f, and words failures of rm, rmi and network rm as docker does",
    [
      { args: ["rmi", "-f", "nosuch", "busybox:nosuchtag"] },
      { args: ["rm", "-f", "nosuch", "nosuch2"] },
      { args: ["network", "rm", "nosuch", "nosuch2"] },
      { args: ["network", "rm", "-f", "nosuch"] },
      { setup: [["network", "create", "parity-n1"]], args: ["network", "rm", "nosuch", "parity-n1"] },
    ],
    engine,
  );

  cases(
    "checks filters, --dns, --log-opt, -a with -d and --type where docker does",
    [
      { args: ["ps", "--filter", "bad"] },
      { args: ["system", "prune", "-f", "--filter", "bad"] },
      { args: ["events", "--filter", "bad"] },
      { args: ["run", "--dns", "bad", "busybox"] },
      { args: ["run", "-d", "--rm", "-a", "stdout", "busybox"] },
      { args: ["run", "--log-opt", "bad", "busybox"] },
      { args: ["run", "--log-driver", "none", "--log-opt", "max-size=1m", "busybox"] },
      { args: ["inspect", "--type", "bogus", "x"] },
      { args: ["inspect", "--type", "node", "x"] },
    ],
    engine,
  );

  cases(
    "prints volume inspect as docker's volume.Volume struct, history's CreatedAt in RFC 3339, image ls --tree's version check",
    [
      {
        setup: [["volume", "create", "--label", "a=b", "-o", "type=tmpfs", "-o", "device=tmpfs", "parity-v1"]],
        args: ["volume", "inspect", "parity-v1"],
        cleanup: [["volume", "rm", "parity-v1"]],
      },
      {
        setup: [["volume", "create", "parity-v1"]],
        args: ["volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Options}} {{.Status}}|{{json .}}", "parity-v1"],
        cleanup: [["volume", "rm", "parity-v1"]],
      },
      { setup: [["volume", "create", "parity-v1"]], args: ["volume", "inspect", "-f", "{{.Nope}}", "parity-v1"], cleanup: [["volume", "rm", "parity-v1"]] },
      { args: ["history", "--format", "json", "busybox"] },
    ],
    engine,
  );

  cases(
    "words bad logs --since/--until as docker's client does",
    [
      {
        setup: [["run", "--name", "parity-lg", "busybox", "echo", "a"]],
        args: ["logs", "--since", "bogus", "parity-lg"],
        cleanup: [["rm", "-f", "parity-lg"]],
      },
      {
        setup: [["run", "--name", "parity-lg", "busybox", "echo", "a"]],
        args: ["logs", "--until", "bogus", "parity-lg"],
        cleanup: [["rm", "-f", "parity-lg"]],
      },
    ],
    engine,
  );

  it("prints events as docker's events.Message and checks --format on an empty one first", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    assert.equal((await e.docker(["run", "--rm", "--name", "parity-ev", "-l", "z=1", "busybox", "true"])).code, 0);
    // A closed window, so that both CLIs see the same events.
    await new Promise((r) => setTimeout(r, 1100));
    const until = String(Math.floor(Date.now() / 1000));
    const window = ["--since", String(since), "--until", until, "--filter", "container=parity-ev"];
    for (const args of [
      ["events", ...window, "--format", "json"],
      ["events", ...window, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.z}}"],
      ["events", ...window, "--filter", "event=die"],
      ["events", ...window, "--format", "{{.Nope}}"],
      ["events", ...window, "--format", "{{"],
    ]) {
      await compare(e, { args });
    }
  });

  cases(
    "says why a load, import or save file cannot be used, as Go's os package words it, before asking the daemon",
    [
      { args: ["load", "-i", "/nonexistent/pier-parity.tar"] },
      { args: ["import", "/nonexistent/pier-parity.tar"] },
      { args: ["save", "-o", "/nonexistent/dir/x.tar", "nosuch"] },
      { args: ["save", "-o", "/tmp", "busybox"] },
      { args: ["save", "-o", "/dev/null", "busybox"] },
    ],
    engine,
  );

  cases(
    "checks size flags at parse time everywhere and names the port as given",
    [
      { setup: [["run", "-d", "--name", "parity-up", "busybox", "sleep", "300"]], args: ["update", "--memory", "1x", "parity-up"], cleanup: [["rm", "-f", "parity-up"]] },
      { args: ["run", "--memory-swap", "1x", "busybox"] },
      { args: ["run", "--shm-size", "abc", "busybox"] },
      { setup: [["run", "-d", "--name", "parity-pt", "-p", "8080", "busybox", "sleep", "300"]], args: ["port", "parity-pt", "80"], cleanup: [["rm", "-f", "parity-pt"]] },
    ],
    engine,
  );

  /** Start a CLI, send it signals at the given times, and collect what it says and its exit. */
  async function underSignals(cli: "docker" | "pier", args: string[], signals: Array<[number, NodeJS.Signals]>): Promise<RunResult> {
    const [cmd, argv] = cli === "docker" ? [DOCKER, args] : [process.execPath, [path.join(ROOT, "bin/pier.js"), ...args]];
    const child = spawn(cmd, argv, { env: { ...process.env, DOCKER_HOST: e.host, PIER_HOST: e.host }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.on("close", (code, sig) => resolve(code ?? (sig ? -1 : 0))));
    for (const [at, sig] of signals) {
      await sleep(at);
      child.kill(sig);
    }
    return { code: await exited, stdout, stderr };
  }

  it("takes SIGINT as docker does: the first cancels a waiting command (exit 130), run keeps going, the third forces the exit", async () => {
    assert.equal((await e.docker(["run", "-d", "--name", "parity-sig", "busybox", "sleep", "300"])).code, 0);
    try {
      for (const cli of ["docker", "pier"] as const) {
        const waited = await underSignals(cli, ["wait", "parity-sig"], [[1500, "SIGINT"]]);
        assert.deepEqual(view(waited), { code: 130, stdout: "", stderr: "" }, `${cli} wait`);
        // busybox sleep as PID 1 ignores the forwarded SIGINTs: only the CLI's own rule ends it.
        const forced = await underSignals(cli, ["run", "--rm", "busybox", "sleep", "30"], [[2500, "SIGINT"], [300, "SIGINT"], [300, "SIGINT"]]);
        assert.deepEqual(view(forced), { code: 1, stdout: "", stderr: "\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n" }, `${cli} run`);
        const kept = await underSignals(cli, ["run", "--rm", "--sig-proxy=false", "busybox", "sh", "-c", "sleep 3; echo done"], [[1500, "SIGINT"]]);
        assert.deepEqual(view(kept), { code: 0, stdout: "done\n", stderr: "" }, `${cli} run --sig-proxy=false`);
      }
    } finally {
      await e.docker(["rm", "-f", "parity-sig"]);
    }
  });

  it("ends an attach left with the detach keys as docker does: 'read escape sequence', exit 1", { skip: !hasTmux && "no tmux" }, async () => {
    const server = `pier-parity-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync("tmux", ["-L", server, ...args], { encoding: "utf8" });
    try {
      for (const [cli, command] of [
        ["docker", `env DOCKER_HOST=${e.host} ${DOCKER} attach parity-at`],
        ["pier", `${process.execPath} ${path.join(ROOT, "bin/pier.js")} -H ${e.host} attach parity-at`],
      ] as const) {
        assert.equal((await e.docker(["run", "-dit", "--name", "parity-at", "busybox", "sh"])).code, 0);
        tmux("new-session", "-d", "-s", cli, "-x", "80", "-y", "24", `${command}; echo "[exit $?]"; sleep 600`);
        // Attached once an echo comes back (an Enter now and then brings a prompt).
        let screen = "";
        for (let i = 0; i < 200 && !/^typed$/m.test(screen); i++) {
          if (i % 20 === 0) {
            tmux("send-keys", "-t", cli, "-l", "echo typed");
            tmux("send-keys", "-t", cli, "Enter");
          }
          await sleep(100);
          screen = tmux("capture-pane", "-t", cli, "-p").stdout;
        }
        await sleep(300);
        for (const key of ["C-p", "C-q"]) {
          tmux("send-keys", "-t", cli, key);
          await sleep(150);
        }
        for (let i = 0; i < 200 && !/\[exit \d+\]/.test(screen); i++) {
          await sleep(50);
          screen = tmux("capture-pane", "-t", cli, "-p").stdout;
        }
        assert.match(screen, /read escape sequence\s*\n\[exit 1\]/, `${cli}: ${screen}`);
        await e.docker(["rm", "-f", "parity-at"]);
      }
    } finally {
      tmux("kill-server");
      await e.docker(["rm", "-f", "parity-at"]);
    }
  });

  cases(
    "takes docker's block-IO, GPU and Windows-only run flags, refusing bad values and the wrong daemon OS as docker does",
    [
      { args: ["create", "--blkio-weight-device", "bad", "busybox"] },
      { args: ["create", "--blkio-weight-device", "/dev/sda:5", "busybox"] },
      { args: ["create", "--device-read-bps", "/dev/sda:x", "busybox"] },
      { args: ["create", "--device-write-iops", "/dev/sda:x", "busybox"] },
      { args: ["create", "--storage-opt", "bad", "busybox"] },
      { args: ["create", "--gpus", "bogus", "busybox"] },
      { args: ["create", "--gpus", "foo=bar", "busybox"] },
      { args: ["create", "--cpu-count", "2", "--cpu-percent", "5", "busybox"] },
      { args: ["run", "--io-maxbandwidth", "1m", "--io-maxiops", "2", "busybox"] },
    ],
    engine,
  );

  cases(
    "lists the filters in system prune's question, as docker does",
    [{ args: ["system", "prune", "--filter", "until=1h", "--filter", "label=a"], input: "n\n" }],
    engine,
  );

  cases(
    "allows docker's namespaced sysctls only, in docker's words",
    [
      { args: ["run", "--rm", "--sysctl", "bogus", "busybox", "true"] },
      { args: ["run", "--rm", "--sysctl", "kernel.foo=1", "busybox", "true"] },
      { args: ["run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=1000000", "busybox", "true"] },
    ],
    engine,
  );

  it("reads --env-file and --label-file itself, also when started as a command (node takes no --env-file of pier's)", async () => {
    // bin/pier.js run as the executable it is (its #! line), as a user's shell runs it.
    const pierCommand = (args: string[]) =>
      new Promise<RunResult>((resolve) => {
        const child = spawn(path.join(ROOT, "bin/pier.js"), ["-H", e.host, ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    for (const args of [
      ["run", "--rm", "--env-file", "/nonexistent/pier-parity.env", "busybox", "true"],
      ["run", "--rm", "--label-file", "/nonexistent/pier-parity.env", "busybox", "true"],
      ["run", "--rm", "--env-file", "/tmp", "busybox", "true"],
    ]) {
      assert.deepEqual(view(await pierCommand(args)), view(await e.docker(args)), args.join(" "));
    }
  });

  cases(
    "hides and refuses flags newer than the daemon's API, as docker does",
    [
      { args: ["save", "--platform", "linux/amd64", "-o", "/tmp/pier-parity-x.tar", "busybox"] },
      { args: ["load", "--platform", "linux/amd64", "-i", "/nonexistent/x.tar"] },
      { args: ["history", "--platform", "linux/amd64", "busybox"] },
      { args: ["image", "inspect", "--platform", "linux/amd64", "busybox"] },
      { args: ["rmi", "--platform", "linux/amd64", "nosuch"] },
      { args: ["history", "--help"] },
      { args: ["rmi", "--help"] },
      { args: ["image", "ls", "--help"] },
      { args: ["save", "--help"] },
      { args: ["image", "ls", "--tree"] },
    ],
    engine,
    { sameApiOnly: true },
  );
});
