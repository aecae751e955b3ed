// Health checks through the real docker CLI: healthy, unhealthy after retries, the start period,
// timeouts, --no-healthcheck over an image's HEALTHCHECK, events, ps status and filter, pause,
// restart and a pierd restart. Checks run every second; states are polled with a deadline.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { apiRequest, startEngine, type Engine } from "../harness.js";
import { assertMatchesSpec, specAvailable } from "../apispec.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

describe("health checks", { concurrency: true }, () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  const ok = async (args: string[]) => {
    const r = await e.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const health = async (name: string): Promise<Health | null> => JSON.parse((await ok(["inspect", "-f", "{{json .State.Health}}", name])).stdout);
  /** Poll the container's State.Health until `cond` holds (30 s at most: checks run every second). */
  const waitHealth = async (name: string, what: string, cond: (h: Health) => boolean): Promise<Health> => {
    const deadline = Date.now() + 30_000;
    let h: Health | null = null;
    while (Date.now() < deadline) {
      h = await health(name);
      if (h && cond(h)) return h;
      await sleep(250);
    }
    assert.fail(`${name}: ${what} not reached; State.Health is ${JSON.stringify(h)}`);
  };
  const psStatus = async (name: string) => (await ok(["ps", "-a", "--filter", `name=^${name}$`, "--format", "{{.Status}}"])).stdout.trim();
  const psNames = async (filter: string) => (await ok(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean);
  const run = (name: string, flags: string[], image = "busybox") => ok(["run", "-d", "--name", name, ...flags, image, "sleep", "1000"]);

  it("a passing check makes the container healthy: inspect, ps, filter, events", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await run("hc-ok", ["--health-cmd", "echo ok", "--health-interval", "1s"]);
    const h = await waitHealth("hc-ok", "healthy", (x) => x.Status === "healthy");
    assert.equal(h.FailingStreak, 0);
    const first = h.Log[0]!;
    assert.equal(first.ExitCode, 0);
    assert.equal(first.Output, "ok\n");
    assert.match(first.Start, RFC3339_NANO);
    assert.match(first.End, RFC3339_NANO);
    assert.ok(Date.parse(first.End) >= Date.parse(first.Start));
    assert.equal((await ok(["inspect", "--format", "{{.State.Health.Status}}", "hc-ok"])).stdout, "healthy\n");
    if (specAvailable()) assertMatchesSpec("GET /containers/{id}/json", (await apiRequest(e, "GET", "/containers/hc-ok/json")).json());
    assert.match(await psStatus("hc-ok"), /^Up .* \(healthy\)$/);
    assert.ok((await psNames("health=healthy")).includes("hc-ok"));
    assert.ok(!(await psNames("health=none")).includes("hc-ok"));
    assert.ok(!(await psNames("health=unhealthy")).includes("hc-ok"));
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await ok(["events", "--since", String(since), "--until", String(until), "--filter", "container=hc-ok", "--format", "{{.Action}}"]);
    const actions = ev.stdout.trim().split("\n");
    assert.ok(actions.includes("health_status: healthy"), actions.join(","));
    // Each check is an exec, announced as Docker announces them.
    assert.ok(actions.includes("exec_create: /bin/sh -c echo ok"), actions.join(","));
    assert.ok(actions.includes("exec_start: /bin/sh -c echo ok"), actions.join(","));
    assert.ok(actions.includes("exec_die"), actions.join(","));
    const filtered = await ok(["events", "--since", String(since), "--until", String(until), "--filter", "container=hc-ok", "--filter", "event=health_status", "--format", "{{.Action}}"]);
    assert.equal(filtered.stdout, "health_status: healthy\n");
  });

  it("failures past --health-retries make it unhealthy; the log keeps the last five", async () => {
    await run("hc-bad", ["--health-cmd", "echo bad >&2; exit 3", "--health-interval", "1s", "--health-retries", "2"]);
    const h = await waitHealth("hc-bad", "unhealthy", (x) => x.Status === "unhealthy");
    assert.ok(h.FailingStreak >= 2, `streak ${h.FailingStreak}`);
    assert.deepEqual({ ExitCode: h.Log[0]!.ExitCode, Output: h.Log[0]!.Output }, { ExitCode: 3, Output: "bad\n" });
    assert.match(await psStatus("hc-bad"), /^Up .* \(unhealthy\)$/);
    assert.ok((await psNames("health=unhealthy")).includes("hc-bad"));
    const long = await waitHealth("hc-bad", "six failures", (x) => x.FailingStreak >= 6);
    assert.equal(long.Log.length, 5);
    assert.equal(long.Status, "unhealthy");
  });

  it("while failing short of the retries it is starting: (health: starting)", async () => {
    await run("hc-starting", ["--health-cmd", "exit 1", "--health-interval", "1s", "--health-retries", "1000"]);
    const h = await waitHealth("hc-starting", "a failure", (x) => x.FailingStreak >= 1);
    assert.equal(h.Status, "starting");
    assert.match(await psStatus("hc-starting"), /^Up .* \(health: starting\)$/);
    assert.ok((await psNames("health=starting")).includes("hc-starting"));
  });

  it("failures in the start period do not count; a success ends the start period", async () => {
    await run("hc-period", ["--health-cmd", "test -f /tmp/ready", "--health-interval", "1s", "--health-start-period", "1h", "--health-retries", "1"]);
    const h = await waitHealth("hc-period", "two failed checks", (x) => x.Log.length >= 2);
    assert.deepEqual([h.Status, h.FailingStreak], ["starting", 0]);
    assert.equal(h.Log[0]!.ExitCode, 1);
    await ok(["exec", "hc-period", "touch", "/tmp/ready"]);
    await waitHealth("hc-period", "healthy", (x) => x.Status === "healthy");
    // Out of the start period now: the next failure counts (Retries 1).
    await ok(["exec", "hc-period", "rm", "/tmp/ready"]);
    const bad = await waitHealth("hc-period", "unhealthy", (x) => x.Status === "unhealthy");
    assert.equal(bad.FailingStreak, 1);
  });

  it("a check that overruns --health-timeout is killed and fails with Docker's message", async () => {
    await run("hc-slow", ["--health-cmd", "sleep 30", "--health-interval", "1s", "--health-timeout", "1500ms", "--health-retries", "1"]);
    const h = await waitHealth("hc-slow", "unhealthy", (x) => x.Status === "unhealthy");
    assert.deepEqual({ ExitCode: h.Log[0]!.ExitCode, Output: h.Log[0]!.Output }, { ExitCode: -1, Output: "Health check exceeded timeout (1.5s)" });
    const took = Date.parse(h.Log[0]!.End) - Date.parse(h.Log[0]!.Start);
    assert.ok(took < 30_000, `the check was ended by its timeout, not by sleep (${took} ms)`);
  });

  it("a CMD check whose program is missing fails with the runtime's error", async () => {
    // The CLI only makes CMD-SHELL checks; the API takes the exec form.
    const created = await apiRequest(e, "POST", "/containers/create?name=hc-missing", {
      Image: "busybox",
      Cmd: ["sleep", "1000"],
      Healthcheck: { Test: ["CMD", "no-such-probe", "x"], Interval: 1_000_000_000, Retries: 1 },
    });
    assert.equal(created.status, 201, created.text);
    await ok(["start", "hc-missing"]);
    const h = await waitHealth("hc-missing", "unhealthy", (x) => x.Status === "unhealthy");
    assert.equal(h.Log[0]!.ExitCode, -1);
    assert.match(h.Log[0]!.Output, /exec: "no-such-probe": executable file not found in \$PATH/);
  });

  it("an image's HEALTHCHECK runs; --no-healthcheck and NONE turn it off", async () => {
    const dir = mkdtempSync("/tmp/pier-health-build-");
    try {
      writeFileSync(path.join(dir, "Dockerfile"), "FROM busybox\nHEALTHCHECK --interval=1s --retries=2 CMD echo from-image\n");
      const b = await e.docker(["build", "-q", "-t", "hc-image", dir], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 90_000 });
      assert.equal(b.code, 0, b.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await run("hc-img", [], "hc-image");
    await run("hc-img-off", ["--no-healthcheck"], "hc-image");
    await run("hc-img-timeout", ["--health-timeout", "3s"], "hc-image");
    const h = await waitHealth("hc-img", "healthy", (x) => x.Status === "healthy");
    assert.equal(h.Log[0]!.Output, "from-image\n");
    // A flag sets its field; the rest comes from the image.
    const merged = JSON.parse((await ok(["inspect", "-f", "{{json .Config.Healthcheck}}", "hc-img-timeout"])).stdout);
    assert.deepEqual(merged, { Test: ["CMD-SHELL", "echo from-image"], Interval: 1e9, Timeout: 3e9, Retries: 2 });
    const off = JSON.parse((await ok(["inspect", "-f", "{{json .Config.Healthcheck}}", "hc-img-off"])).stdout);
    assert.deepEqual(off.Test, ["NONE"]);
    await waitHealth("hc-img-timeout", "healthy", (x) => x.Status === "healthy");
    assert.equal(await health("hc-img-off"), null, "no State.Health without a check");
    assert.match(await psStatus("hc-img-off"), /^Up [^(]*$/);
    assert.ok((await psNames("health=none")).includes("hc-img-off"));
    const tpl = await e.docker(["inspect", "--format", "{{.State.Health.Status}}", "hc-img-off"]);
    assert.notEqual(tpl.code, 0, "no Health to read");
  });

  it("refuses bad health settings and filter values with Docker's messages", async () => {
    const bad = await e.docker(["ps", "--filter", "health=sick"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unrecognised filter value for health: sick/);
    const short = await apiRequest(e, "POST", "/containers/create", { Image: "busybox", Healthcheck: { Test: ["CMD", "true"], Interval: 5 } });
    assert.equal(short.status, 400);
    assert.equal(short.json().message, "Interval in Healthcheck cannot be less than 1ms");
    const neg = await apiRequest(e, "POST", "/containers/create", { Image: "busybox", Healthcheck: { Test: ["CMD", "true"], Retries: -1 } });
    assert.equal(neg.status, 400);
    assert.equal(neg.json().message, "Retries in Healthcheck cannot be negative");
  });

  it("StartInterval is checked from API 1.44 on and dropped for older clients", async (t) => {
    const api = (await apiRequest(e, "GET", "/version")).json().ApiVersion as string;
    if (Number(api.split(".")[1]) < 44) return t.skip(`the engine speaks API ${api}`);
    const tooShort = await apiRequest(e, "POST", "/v1.44/containers/create", { Image: "busybox", Healthcheck: { Test: ["CMD", "true"], StartInterval: 5 } });
    assert.equal(tooShort.status, 400);
    assert.equal(tooShort.json().message, "StartInterval in Healthcheck cannot be less than 1ms");
    const old = await apiRequest(e, "POST", "/v1.43/containers/create?name=hc-old-client", { Image: "busybox", Healthcheck: { Test: ["CMD", "true"], StartInterval: 5 } });
    assert.equal(old.status, 201, old.text);
    assert.deepEqual(JSON.parse((await ok(["inspect", "-f", "{{json .Config.Healthcheck}}", "hc-old-client"])).stdout), { Test: ["CMD", "true"] });
  });

  it("stop ends the checks (unhealthy, as Docker reads it); start begins again from starting", async () => {
    await run("hc-stop", ["--health-cmd", "true", "--health-interval", "1s"]);
    await waitHealth("hc-stop", "healthy", (x) => x.Status === "healthy");
    await ok(["stop", "-t", "1", "hc-stop"]);
    const stopped = await health("hc-stop");
    assert.equal(stopped?.Status, "unhealthy");
    assert.match(await psStatus("hc-stop"), /^Exited \(\d+\) [^(]*ago$/, "no health in an exited container's status");
    await ok(["start", "hc-stop"]);
    const restarted = await health("hc-stop");
    assert.ok(restarted?.Status === "starting" || restarted?.Status === "healthy", JSON.stringify(restarted));
    assert.ok(restarted!.Log.length >= 1, "the log survives a restart");
    // A check after the restart: the log keeps the last 5 only, so compare its newest entry.
    const lastBefore = stopped!.Log.at(-1)?.Start;
    await waitHealth("hc-stop", "healthy again", (x) => x.Status === "healthy" && x.Log.at(-1)?.Start !== lastBefore);
  });

  it("pause stops the checks; unpause resumes them", async () => {
    await run("hc-pause", ["--health-cmd", "true", "--health-interval", "1s"]);
    await waitHealth("hc-pause", "healthy", (x) => x.Status === "healthy");
    await ok(["pause", "hc-pause"]);
    assert.match(await psStatus("hc-pause"), /^Up .* \(Paused\)$/);
    assert.equal((await health("hc-pause"))?.Status, "unhealthy");
    await ok(["unpause", "hc-pause"]);
    await waitHealth("hc-pause", "healthy after unpause", (x) => x.Status === "healthy");
  });

  it("pier run and pier ps take the same flags and filters", async () => {
    const r = await e.pier(["run", "-d", "--name", "hc-pier", "--health-cmd", "echo pier", "--health-interval", "1s", "busybox", "sleep", "1000"]);
    assert.equal(r.code, 0, r.stderr);
    await waitHealth("hc-pier", "healthy", (x) => x.Status === "healthy");
    const ps = await e.pier(["ps", "--filter", "health=healthy", "--filter", "name=hc-pier", "--format", "{{.Names}} {{.Status}}"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^hc-pier Up .* \(healthy\)\n$/);
    const insp = await e.pier(["inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", "hc-pier"]);
    assert.equal(insp.stdout, "healthy 0\n");
  });
});

describe("health checks across a pierd restart", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("monitors resume for running containers; the log is kept", async (t) => {
    if (!e.restart) return t.skip("only for a pierd the harness started");
    const r = await e.docker(["run", "-d", "--name", "hc-live", "--health-cmd", "echo alive", "--health-interval", "1s", "busybox", "sleep", "1000"]);
    assert.equal(r.code, 0, r.stderr);
    const inspectHealth = async (): Promise<Health> => JSON.parse((await e.docker(["inspect", "-f", "{{json .State.Health}}", "hc-live"])).stdout);
    let h = await inspectHealth();
    for (const deadline = Date.now() + 30_000; h.Status !== "healthy" && Date.now() < deadline; h = await inspectHealth()) await sleep(250);
    assert.equal(h.Status, "healthy");
    const restartedAt = Date.now();
    await e.restart();
    h = await inspectHealth();
    assert.ok(h.Log.length >= 1, "the results before the restart are kept");
    for (const deadline = Date.now() + 30_000; !(h.Status === "healthy" && h.Log.some((l) => Date.parse(l.Start) > restartedAt)) && Date.now() < deadline; h = await inspectHealth()) await sleep(250);
    assert.equal(h.Status, "healthy");
    assert.ok(Date.parse(h.Log[0]!.Start) < restartedAt, "oldest entry from before the restart");
    assert.ok(h.Log.some((l) => Date.parse(l.Start) > restartedAt), "checks run again after the restart");
  });
});
