// `docker events` and GET /events: Docker's JSON shape (Type, Action, Actor.ID and Attributes
// with labels, name and image, scope, time, timeNano, and the old status/id/from fields of
// container and image events), checked against the API spec; since/until windows (unix
// seconds with nanoseconds, RFC 3339 through the CLI, a past or a future until, both ending
// the stream by themselves); and the filters (container, image, event, label, type, volume,
// network, scope) with moby's matching rules. Every check holds against Docker as well.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { apiRequest, DOCKER, startEngine, type Engine, type RunResult } from "../harness.js";
import { assertMatchesSpec, specAvailable } from "../apispec.js";

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

/** Unix seconds with nine fraction digits, from an exact nanosecond count. */
const unixNs = (ns: bigint) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
const nowUnix = () => (Date.now() / 1000).toFixed(3);

describe("events", () => {
  let e: Engine;
  let t0: string;
  let net: string[] = [];
  let cid = "";
  before(async () => {
    e = await startEngine();
    if ((await e.docker(["network", "inspect", "bridge"])).code !== 0) net = ["--network", "none"];
    t0 = nowUnix();
    // One container's whole life, with a label, a named volume (made by the run: Docker
    // reports "create" again when a container takes an existing one) and an exec, to look at.
    cid = (await ok(["run", "-d", ...net, "--name", "evc", "-l", "tier=web", "-l", "team=blue", "-v", "evvol:/data", "busybox", "sh", "-c", "while [ ! -f /data/stop ]; do sleep 0.05; done; exit 3"])).stdout.trim();
    await ok(["exec", "evc", "touch", "/data/stop"]);
    await ok(["wait", "evc"]);
    await ok(["rm", "evc"]);
    await ok(["volume", "rm", "evvol"]);
    await ok(["tag", "busybox", "evtag:1"]);
    await ok(["rmi", "evtag:1"]);
  });
  after(async () => {
    await e?.stop();
  });

  async function ok(args: string[]): Promise<RunResult> {
    const r = await e.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r;
  }
  /** The events in a window through the API, as raw JSON lines and parsed. */
  const apiEvents = async (query: string): Promise<{ raw: string[]; events: Ev[]; status: number; text: string }> => {
    const r = await apiRequest(e, "GET", `/events?${query}`);
    const raw = r.status === 200 ? r.text.split("\n").filter(Boolean) : [];
    return { raw, events: raw.map((l) => JSON.parse(l) as Ev), status: r.status, text: r.text };
  };
  const filters = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));
  /** `docker events` over the window from t0 until now, with `--filter` arguments. */
  const cli = async (...filterArgs: string[]): Promise<string[]> => {
    const r = await ok(["events", "--since", t0, "--until", nowUnix(), ...filterArgs.flatMap((f) => ["--filter", f]), "--format", "{{.Type}} {{.Action}}"]);
    return r.stdout.split("\n").filter(Boolean);
  };

  it("sends Docker's JSON for each event, valid against the API spec", async () => {
    const { raw, events } = await apiEvents(`since=${t0}&until=${nowUnix()}`);
    assert.ok(events.length >= 10, raw.join("\n"));
    if (specAvailable()) for (const ev of events) assertMatchesSpec("EventMessage", ev);
    for (const [i, ev] of events.entries()) {
      // timeNano is an exact int64 on the wire; time is its whole seconds.
      const nano = BigInt(/"timeNano":(\d+)/.exec(raw[i]!)![1]!);
      assert.equal(BigInt(ev.time), nano / 1_000_000_000n, raw[i]);
      assert.equal(ev.scope, "local");
      if (ev.Type === "container" || ev.Type === "image") {
        assert.equal(ev.status, ev.Action, "the old status field");
        assert.equal(ev.id, ev.Actor.ID, "the old id field");
      } else {
        assert.equal(ev.status, undefined, raw[i]);
        assert.equal(ev.id, undefined, raw[i]);
      }
    }
    const mine = events.filter((ev) => ev.Type === "container" && ev.Actor.ID === cid);
    const actions = mine.map((ev) => ev.Action);
    for (const a of ["create", "start", "die", "destroy"]) assert.ok(actions.includes(a), `${a} in ${actions.join(",")}`);
    assert.ok(actions.some((a) => a.startsWith("exec_create: touch /data/stop")), actions.join(","));
    assert.ok(actions.some((a) => a.startsWith("exec_start: touch /data/stop")), actions.join(","));
    assert.ok(actions.includes("exec_die"));
    assert.ok(actions.indexOf("create") < actions.indexOf("start") && actions.indexOf("start") < actions.indexOf("die") && actions.indexOf("die") < actions.indexOf("destroy"));
    for (const ev of mine) {
      assert.equal(ev.from, "busybox", "the old from field is the image");
      assert.equal(ev.Actor.Attributes.name, "evc");
      assert.equal(ev.Actor.Attributes.image, "busybox");
      assert.equal(ev.Actor.Attributes.tier, "web", "labels are attributes");
      assert.equal(ev.Actor.Attributes.team, "blue");
    }
    assert.equal(mine.find((ev) => ev.Action === "die")!.Actor.Attributes.exitCode, "3");
    assert.equal(mine.find((ev) => ev.Action === "exec_die")!.Actor.Attributes.exitCode, "0");

    const vol = events.filter((ev) => ev.Type === "volume" && ev.Actor.ID === "evvol").map((ev) => ev.Action);
    assert.deepEqual(vol, ["create", "mount", "unmount", "destroy"]);
    const mount = events.find((ev) => ev.Type === "volume" && ev.Action === "mount")!;
    assert.deepEqual(mount.Actor.Attributes, { container: cid, destination: "/data", driver: "local", propagation: mount.Actor.Attributes.propagation, "read/write": "true" });
    assert.deepEqual(events.find((ev) => ev.Type === "volume" && ev.Action === "unmount")!.Actor.Attributes, { container: cid, driver: "local" });

    const tag = events.find((ev) => ev.Type === "image" && ev.Action === "tag")!;
    assert.match(tag.Actor.ID, /^sha256:[0-9a-f]{64}$/);
    assert.equal(tag.Actor.Attributes.name, "evtag:1");
    assert.ok(events.some((ev) => ev.Type === "image" && ev.Action === "untag" && ev.Actor.ID === tag.Actor.ID));
  });

  it("docker stop -t 0 sends the stop signal, then SIGKILL, as dockerd does", async () => {
    const t1 = nowUnix();
    const id = (await ok(["run", "-d", ...net, "busybox", "sleep", "300"])).stdout.trim();
    await ok(["stop", "-t", "0", id]);
    const { events } = await apiEvents(`since=${t1}&until=${nowUnix()}&filters=${filters({ container: [id] })}`);
    const actions = events.map((ev) => (ev.Action === "kill" ? `kill ${ev.Actor.Attributes.signal}` : ev.Action));
    assert.deepEqual(actions.filter((a) => a.startsWith("kill") || a === "die" || a === "stop"), ["kill 15", "kill 9", "die", "stop"], actions.join(","));
    await ok(["rm", id]);
  });

  it("since and until select an exact window, to the nanosecond", async () => {
    const { raw } = await apiEvents(`since=${t0}&until=${nowUnix()}&filters=${filters({ container: [cid], event: ["die"] })}`);
    assert.equal(raw.length, 1);
    const nano = BigInt(/"timeNano":(\d+)/.exec(raw[0]!)![1]!);
    const only = (since: bigint, until: bigint) => apiEvents(`since=${unixNs(since)}&until=${unixNs(until)}&filters=${filters({ container: [cid] })}`);
    assert.deepEqual((await only(nano, nano)).events.map((ev) => ev.Action), ["die"], "both bounds include the event's own time");
    assert.deepEqual((await only(nano + 1n, nano + 1_000_000n)).events.map((ev) => ev.Action).includes("die"), false, "a nanosecond later excludes it");
    assert.deepEqual((await only(nano - 1_000_000n, nano - 1n)).events.map((ev) => ev.Action).includes("die"), false, "a nanosecond earlier excludes it");
    // Only an until: every kept event up to it.
    const untilOnly = await apiEvents(`until=${unixNs(nano)}&filters=${filters({ container: [cid] })}`);
    assert.equal(untilOnly.events.at(-1)?.Action, "die");
    assert.ok(untilOnly.events.some((ev) => ev.Action === "create"));
  });

  it("docker events --since/--until ends by itself, in RFC 3339 too, and streams until a future until", async () => {
    // RFC 3339 through the CLI (which sends unix seconds to the engine).
    const since = new Date(Number(t0) * 1000 - 1000).toISOString();
    const r = await ok(["events", "--since", since, "--until", new Date().toISOString(), "--filter", "container=evc", "--format", "{{.Action}}"]);
    assert.ok(r.stdout.split("\n").includes("destroy"), r.stdout);
    // An until in the future: live events until then, and then the stream ends. (An event
    // made before the CLI connects is replayed from the history: only `until` must be later.)
    const until = ((Date.now() + 4000) / 1000).toFixed(3);
    const live = e.docker(["events", "--since", nowUnix(), "--until", until, "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}"], { timeoutMs: 30_000 });
    await new Promise((res) => setTimeout(res, 300));
    await ok(["volume", "create", "evlive"]);
    const out = await live;
    assert.equal(out.code, 0, out.stderr);
    assert.ok(out.stdout.split("\n").includes("create evlive"), out.stdout);
    await ok(["volume", "rm", "evlive"]);
  });

  it("streams live events to a follower without since or until", async () => {
    const child = spawn(DOCKER, ["events", "--filter", "volume=evfollow", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}"], { env: { ...process.env, DOCKER_HOST: e.host }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    try {
      // The subscription is in place once the CLI has its 200; a volume made then is seen.
      const deadline = Date.now() + 20_000;
      let n = 0;
      while (!out.includes("volume create evfollow") && Date.now() < deadline) {
        await ok(["volume", "create", "evfollow"]);
        await ok(["volume", "rm", "evfollow"]);
        n++;
        await new Promise((res) => setTimeout(res, 100 * n));
      }
      assert.match(out, /volume create evfollow\nvolume destroy evfollow\n/);
    } finally {
      child.kill();
    }
  });

  it("filters by container, event, type, label, image, volume, network and scope as moby does", async () => {
    const short = cid.slice(0, 12);
    const containerActions = ["create", "start", "die", "destroy"];
    const only = (lines: string[], type: string) => lines.filter((l) => l.startsWith(`${type} `)).map((l) => l.slice(type.length + 1));
    // container: by name, by ID prefix; alternatives of one key are ORed.
    for (const ref of ["evc", short]) {
      const lines = await cli(`container=${ref}`);
      for (const a of containerActions) assert.ok(only(lines, "container").includes(a), `${ref}: ${lines.join(",")}`);
      assert.deepEqual(lines.filter((l) => !l.startsWith("container ")), [], "only the container's own events");
    }
    assert.deepEqual(await cli("container=nosuch"), []);
    // event: exact, several ORed; exec_start matches its "exec_start: cmd" by prefix.
    assert.deepEqual(await cli("container=evc", "event=die", "event=destroy"), ["container die", "container destroy"]);
    assert.deepEqual((await cli("container=evc", "event=exec_start")).map((l) => l.split(":")[0]), ["container exec_start"]);
    // type
    const vols = await cli("type=volume");
    assert.ok(vols.length >= 4 && vols.every((l) => l.startsWith("volume ")), vols.join(","));
    // label: present, equal, and all of several at once
    assert.ok((await cli("label=tier")).includes("container die"));
    assert.ok((await cli("label=tier=web", "label=team=blue")).includes("container die"));
    assert.deepEqual(await cli("label=tier=web", "label=team=red"), []);
    // image: the container's image and the image's own events, with or without the tag
    const byImage = await cli("image=busybox");
    assert.ok(byImage.includes("container create"), byImage.join(","));
    const tagged = await cli("image=evtag", "type=image");
    assert.deepEqual(tagged, ["image tag"], "evtag:1 without its tag matches the tag event");
    // volume and scope
    assert.deepEqual(await cli("volume=evvol"), ["volume create", "volume mount", "volume unmount", "volume destroy"]);
    assert.deepEqual(await cli("volume=evvol", "scope=swarm"), []);
    assert.equal((await cli("volume=evvol", "scope=local")).length, 4);
  });

  it("reports network connects and disconnects, and prunes", async () => {
    const since = nowUnix();
    await ok(["network", "create", "evnet"]);
    await ok(["run", "--rm", "--network", "evnet", "--name", "evn", "busybox", "true"]);
    await ok(["network", "rm", "evnet"]);
    await ok(["container", "prune", "-f"]);
    const r = await ok(["events", "--since", since, "--until", nowUnix(), "--filter", "type=network", "--filter", "network=evnet", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}} {{if .Actor.Attributes.container}}c{{end}}"]);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["create evnet bridge ", "connect evnet bridge c", "disconnect evnet bridge c", "destroy evnet bridge "]);
    const prune = (await apiEvents(`since=${since}&until=${nowUnix()}&filters=${filters({ event: ["prune"] })}`)).events;
    assert.equal(prune.length, 1);
    assert.equal(prune[0]!.Type, "container");
    assert.equal(prune[0]!.Actor.ID, "");
    assert.match(prune[0]!.Actor.Attributes.reclaimed ?? "", /^\d+$/);
  });

  it("refuses an until before since and unreadable times", async () => {
    const r = await apiEvents(`since=${Math.floor(Date.now() / 1000)}&until=${Math.floor(Date.now() / 1000) - 10}`);
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.text).message, /^`since` time \(\d+\) cannot be after `until` time \(\d+\)$/);
    const cliBad = await e.docker(["events", "--since", String(Math.floor(Date.now() / 1000)), "--until", String(Math.floor(Date.now() / 1000) - 10)]);
    assert.notEqual(cliBad.code, 0);
    assert.match(cliBad.stderr, /cannot be after `until` time/);
    // Docker answers these with its parser's error (500); Pier with 400. Both refuse.
    for (const q of ["since=yesterday-ish", "until=abc", `filters=${encodeURIComponent("{bad")}`]) {
      const bad = await apiEvents(q);
      assert.ok(bad.status >= 400, `${q}: ${bad.status}`);
      assert.ok(JSON.parse(bad.text).message, q);
    }
  });
});
