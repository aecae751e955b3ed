// Bad input gets Docker's status codes and messages, and a request that fails leaves nothing
// behind: no container record (for create), no mount under the engine's roots, no runc state,
// and a daemon that still answers. Raw HTTP over the socket where the CLI would not send the
// request; the real docker CLI where it would.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtempSync, promises as fsp, readFileSync } from "node:fs";
import * as path from "node:path";
import { startEngine, type Engine } from "../harness.js";

interface Reply {
  status: number;
  body: string;
  message: string;
}

describe("bad input", () => {
  let e: Engine;
  let net: string[] = [];
  let tmp: string;
  before(async () => {
    e = await startEngine();
    tmp = mkdtempSync("/var/tmp/pier-badinput-");
    if ((await e.docker(["network", "inspect", "bridge"])).code !== 0) net = ["--network", "none"];
  });
  after(async () => {
    await e?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  /** A raw request; body is sent as given (string) or as JSON. */
  const raw = (method: string, urlPath: string, body?: string | object, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const hdrs: Record<string, string | number> = { ...headers };
      if (data !== undefined) {
        hdrs["Content-Length"] = Buffer.byteLength(data);
        if (!Object.keys(hdrs).some((h) => h.toLowerCase() === "content-type")) hdrs["Content-Type"] = "application/json";
      }
      const req = http.request({ socketPath: e.host.replace(/^unix:\/\//, ""), method, path: urlPath, headers: hdrs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let message = text;
          try {
            message = JSON.parse(text).message ?? text;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: text, message });
        });
      });
      req.on("error", reject);
      // A request the engine wrongly accepts (a wait that waits) must not hang the test.
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        resolve({ status: 0, body: "", message: `no answer within ${timeoutMs} ms` });
      });
      req.end(data);
    });
  const create = (body: object, name?: string) => raw("POST", `/containers/create${name !== undefined ? `?name=${encodeURIComponent(name)}` : ""}`, body);
  const withNet = (hc: Record<string, unknown> = {}) => (net.length ? { NetworkMode: "none", ...hc } : hc);

  // ---- what a failed request may not leave behind

  interface Leftovers {
    containers: string[];
    mounts: string[];
    runc: string[];
  }
  const leftovers = async (): Promise<Leftovers> => {
    const list = await raw("GET", "/containers/json?all=1");
    assert.equal(list.status, 200);
    const containers = (JSON.parse(list.body) as { Id: string }[]).map((c) => c.Id).sort();
    let mounts: string[] = [];
    let runc: string[] = [];
    if (e.dataRoot && e.execRoot) {
      const base = path.dirname(e.dataRoot);
      mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(base + "/")).sort();
      runc = execFileSync("runc", ["--root", path.join(e.execRoot, "runc"), "list", "-q"], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
    }
    return { containers, mounts, runc };
  };
  /** After a failure: what existed before, nothing more (a failed start keeps its record, as Docker does). */
  const assertClean = async (before: Leftovers, opts: { keep?: string } = {}) => {
    const now = await leftovers();
    const expected = opts.keep ? [...before.containers, opts.keep].sort() : before.containers;
    assert.deepEqual(now.containers, expected, "container records");
    assert.deepEqual(now.mounts, before.mounts, "mounts under the engine's roots");
    assert.deepEqual(now.runc, before.runc, "runc state");
    const ping = await raw("GET", "/_ping");
    assert.equal(ping.status, 200);
    assert.equal(ping.body, "OK");
  };

  it("refuses invalid container names with 400 and taken ones with 409", async () => {
    const before = await leftovers();
    for (const name of ["bad name", "-dash", "a/b", "ünïcode", "."]) {
      const r = await create({ Image: "busybox", HostConfig: withNet() }, name);
      assert.equal(r.status, 400, `${name}: ${r.body}`);
      assert.equal(r.message, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const cli = await e.docker(["run", "--rm", ...net, "--name", "no good", "busybox"]);
    assert.equal(cli.code, 125);
    assert.match(cli.stderr, /Invalid container name \(no good\)/);
    await assertClean(before);

    const first = await create({ Image: "busybox", HostConfig: withNet() }, "taken");
    assert.equal(first.status, 201, first.body);
    const id = JSON.parse(first.body).Id;
    const afterFirst = await leftovers();
    for (const name of ["taken", "/taken"]) {
      const dup = await create({ Image: "busybox", HostConfig: withNet() }, name);
      assert.equal(dup.status, 409);
      assert.equal(dup.message, `Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const ren = await raw("POST", `/containers/${id}/rename?name=bad%20name`);
    assert.equal(ren.status, 400);
    assert.equal(ren.message, "Error when allocating new name: Invalid container name (/bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    const other = await create({ Image: "busybox", HostConfig: withNet() }, "other");
    const otherId = JSON.parse(other.body).Id;
    const taken = await raw("POST", `/containers/${otherId}/rename?name=taken`);
    assert.equal(taken.status, 409);
    assert.equal(taken.message, `Error when allocating new name: Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
    assert.equal((await raw("DELETE", `/containers/${otherId}`)).status, 204);
    await assertClean(afterFirst);
    assert.equal((await raw("DELETE", `/containers/${id}`)).status, 204);
  });

  it("answers 404 with Docker's messages for unknown containers, images and volumes", async () => {
    const c = await raw("GET", "/containers/nosuchthing/json");
    assert.equal(c.status, 404);
    assert.equal(c.message, "No such container: nosuchthing");
    for (const [method, p] of [["POST", "/containers/nosuchthing/start"], ["POST", "/containers/nosuchthing/stop"], ["DELETE", "/containers/nosuchthing"], ["GET", "/containers/nosuchthing/logs?stdout=1"], ["POST", "/containers/nosuchthing/wait"]] as const) {
      const r = await raw(method, p);
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.match(r.message, /No such container: nosuchthing/);
    }
    const before = await leftovers();
    const img = await create({ Image: "nosuchimage", HostConfig: withNet() });
    assert.equal(img.status, 404);
    assert.equal(img.message, "No such image: nosuchimage:latest");
    const imgJSON = await raw("GET", "/images/nosuchimage/json");
    assert.equal(imgJSON.status, 404);
    assert.match(imgJSON.message, /No such image: nosuchimage:latest/);
    const vol = await raw("GET", "/volumes/nosuchvolume");
    assert.equal(vol.status, 404);
    assert.equal(vol.message, "get nosuchvolume: no such volume");
    const cli = await e.docker(["run", "--rm", ...net, "--pull", "never", "nosuchimage"]);
    assert.equal(cli.code, 125);
    assert.match(cli.stderr, /No such image: nosuchimage:latest/);
    await assertClean(before);
  });

  it("refuses an ambiguous ID prefix with 400", async () => {
    const ids = new Map<string, string>();
    let shared: string | undefined;
    const made: string[] = [];
    // 17 IDs always share a first hex digit; usually a handful do.
    for (let i = 0; i < 17 && !shared; i++) {
      const r = await create({ Image: "busybox", Cmd: ["true"], HostConfig: withNet() });
      assert.equal(r.status, 201, r.body);
      const id = JSON.parse(r.body).Id as string;
      made.push(id);
      if (ids.has(id[0]!)) shared = id[0];
      else ids.set(id[0]!, id);
    }
    assert.ok(shared);
    // Other containers (from earlier tests) may share the digit too: still ambiguous.
    const r = await raw("GET", `/containers/${shared}/json`);
    assert.equal(r.status, 400, r.body);
    assert.match(r.message, new RegExp(`multiple IDs found with provided prefix: ${shared}`, "i"));
    const cli = await e.docker(["rm", shared!]);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /multiple IDs found with provided prefix/i);
    // A full ID and a unique longer prefix still work.
    assert.equal((await raw("GET", `/containers/${made[0]}/json`)).status, 200);
    assert.equal((await raw("GET", `/containers/${made[0]!.slice(0, 20)}/json`)).status, 200);
    for (const id of made) assert.equal((await raw("DELETE", `/containers/${id}`)).status, 204);
  });

  it("refuses malformed JSON, wrongly typed fields and other content types with 400", async () => {
    const before = await leftovers();
    const cases: [string | object, Record<string, string>, RegExp][] = [
      ['{"Image": "busybox",', {}, /invalid JSON|unexpected EOF/i],
      ["", {}, /invalid JSON: got EOF while reading request body|EOF/],
      ["[1]", {}, /cannot unmarshal array/],
      [{ Image: 5 }, {}, /cannot unmarshal number into Go struct field .*Image of type string/],
      [{ Image: "busybox", Env: "A=1" }, {}, /cannot unmarshal string into Go struct field .*Env of type \[\]string/],
      [{ Image: "busybox", Labels: [1] }, {}, /cannot unmarshal array into Go struct field .*Labels of type map\[string\]string/],
      [{ Image: "busybox", HostConfig: { Memory: "lots" } }, {}, /cannot unmarshal string into Go struct field .*Memory of type int64/],
      [{ Image: "busybox", HostConfig: { Binds: "/a:/b" } }, {}, /cannot unmarshal string into Go struct field .*Binds of type \[\]string/],
      [{ Image: "busybox", StopSignal: "BOGUS" }, {}, /^Invalid signal: BOGUS$/],
      [{ Image: "busybox", WorkingDir: "rel" }, {}, /^the working directory 'rel' is invalid, it needs to be an absolute path$/],
      [{ Image: "busybox", Env: ["=foo"] }, {}, /^invalid environment variable: =foo$/],
      ['{"Image": "busybox"}', { "Content-Type": "text/xml" }, /(Content-Type specified|unsupported Content-Type header) \(text\/xml\):? must be 'application\/json'/],
    ];
    for (const [body, headers, message] of cases) {
      const r = await raw("POST", "/containers/create", body, headers);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(r.message, message);
    }
    // A string Cmd is a one-element list, as Docker's strslice decodes it.
    const ok = await create({ Image: "busybox", Cmd: "true", HostConfig: withNet() });
    assert.equal(ok.status, 201, ok.body);
    const id = JSON.parse(ok.body).Id;
    const c = JSON.parse((await raw("GET", `/containers/${id}/json`)).body);
    assert.equal(c.Path, "true");
    assert.deepEqual(c.Args, []);
    assert.equal((await raw("DELETE", `/containers/${id}`)).status, 204);
    await assertClean(before);
  });

  it("refuses impossible resources, capabilities, mounts and restart policies at create", async () => {
    const before = await leftovers();
    const ncpu = Number((await e.docker(["info", "--format", "{{.NCPU}}"])).stdout.trim());
    const range = `Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`;
    const missing = path.join(tmp, "missing");
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ Memory: 1024 }, 400, /^Minimum memory limit allowed is 6MB$/],
      [{ NanoCpus: (ncpu + 1) * 1e9 }, 400, new RegExp(`^${range.replace(/[.()]/g, "\\$&")}$`)],
      [{ NanoCpus: -1 }, 400, new RegExp(`^${range.replace(/[.()]/g, "\\$&")}$`)],
      [{ CpusetCpus: "99" }, 400, /^Requested CPUs are not available - requested 99, available: /],
      [{ CapAdd: ["BOGUS"] }, 400, /^invalid CapAdd: unknown capability: "CAP_BOGUS"$/],
      [{ CapDrop: ["BOGUS"] }, 400, /^invalid CapDrop: unknown capability: "CAP_BOGUS"$/],
      [{ SecurityOpt: ["bogus=1"] }, 400, /^invalid --security-opt 2: "bogus=1"$/],
      [{ Mounts: [{ Type: "bind", Source: missing, Target: "/x" }] }, 400, new RegExp(`^invalid mount config for type "bind": bind source path does not exist: ${missing}$`)],
      [{ Mounts: [{ Type: "bogus", Target: "/x" }] }, 400, /^invalid mount config for type "bogus": mount type unknown$/],
      [{ Binds: ["/a:b"] }, 400, /^invalid volume specification: '\/a:b'/],
      [{ RestartPolicy: { Name: "sometimes" } }, 400, /^invalid restart policy/],
      [{ RestartPolicy: { Name: "always", MaximumRetryCount: 3 } }, 400, /maximum retry count/],
    ];
    for (const [hc, status, message] of cases) {
      const r = await create({ Image: "busybox", Cmd: ["true"], HostConfig: withNet(hc) });
      assert.equal(r.status, status, `${JSON.stringify(hc)}: ${r.body}`);
      assert.match(r.message, message, JSON.stringify(hc));
    }
    const cli: [string[], RegExp][] = [
      [["--memory", "1k"], /Minimum memory limit allowed is 6MB/],
      [["--cpus", String(ncpu + 1)], /Range of CPUs is from 0\.01/],
      [["--cpus", "abc"], /invalid argument "abc" for "--cpus" flag/],
      [["--mount", `type=bind,source=${missing},target=/x`], /bind source path does not exist/],
      [["--restart", "sometimes"], /invalid restart policy/],
      [["--cap-add", "BOGUS"], /unknown capability: "CAP_BOGUS"/],
    ];
    for (const [args, message] of cli) {
      const r = await e.docker(["run", ...net, ...args, "busybox", "true"]);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    // A named volume is not made by a create that fails.
    const v = await create({ Image: "busybox", HostConfig: withNet({ Binds: ["failvol:/x"], Memory: 1024 }) });
    assert.equal(v.status, 400);
    assert.equal((await raw("GET", "/volumes/failvol")).status, 404);
    await assertClean(before);
  });

  it("refuses unknown API versions with 400 and Docker's message", async () => {
    const tooNew = await raw("GET", "/v9.99/containers/json");
    assert.equal(tooNew.status, 400);
    assert.match(tooNew.message, /^client version 9\.99 is too new\. Maximum supported API version is \d+\.\d+$/);
    const tooOld = await raw("GET", "/v1.0/containers/json");
    assert.equal(tooOld.status, 400);
    assert.match(tooOld.message, /client version 1\.0 is too old\. Minimum supported API version is \d+\.\d+, please upgrade your client to a newer version/);
    const fine = await raw("GET", "/v1.41/containers/json");
    assert.equal(fine.status, 200);
    const unknown = await raw("GET", "/containers/json/whatever");
    assert.equal(unknown.status, 404);
  });

  it("answers 304, 409 and 400 for start, rm, wait and kill requests that make no sense", async () => {
    const id = (await e.docker(["run", "-d", ...net, "--name", "busy", "busybox", "sleep", "300"])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const before = await leftovers();
    const start = await raw("POST", `/containers/${id}/start`);
    assert.equal(start.status, 304);
    assert.equal(start.body, "");
    assert.equal((await e.docker(["start", "busy"])).code, 0, "the CLI takes 304 as success");
    const rm = await raw("DELETE", `/containers/${id}`);
    assert.equal(rm.status, 409);
    assert.match(rm.message, /container is running: stop the container before removing or force remove|You cannot remove a running container/);
    for (const [signal, message] of [["SIGFOO", /Invalid signal: SIGFOO/], ["0", /Invalid signal: 0/], ["99", /does not support signal 99/i]] as const) {
      const k = await raw("POST", `/containers/${id}/kill?signal=${signal}`);
      assert.equal(k.status, 400, `${signal}: ${k.body}`);
      assert.match(k.message, message);
    }
    const kcli = await e.docker(["kill", "-s", "SIGFOO", "busy"]);
    assert.notEqual(kcli.code, 0);
    assert.match(kcli.stderr, /Invalid signal: SIGFOO/);
    assert.equal(JSON.parse((await raw("GET", `/containers/${id}/json`)).body).State.Running, true, "still running after all that");
    await assertClean(before);
    assert.equal((await raw("POST", `/containers/${id}/stop?t=0`)).status, 204);
    const stopAgain = await raw("POST", `/containers/${id}/stop`);
    assert.equal(stopAgain.status, 304);
    const killStopped = await raw("POST", `/containers/${id}/kill`);
    assert.equal(killStopped.status, 409);
    assert.match(killStopped.message, new RegExp(`container ${id} is not running`, "i"));
    const wait = await raw("POST", `/containers/${id}/wait?condition=whenever`, undefined, {}, 3000);
    assert.equal(wait.status, 400, wait.message);
    assert.equal(wait.message, 'invalid condition: "whenever"');
    assert.equal((await raw("DELETE", `/containers/${id}`)).status, 204);
  });

  it("leaves no mount and no runc state when a start fails, and can start or remove the container afterwards", async () => {
    const hostFile = path.join(tmp, "file");
    await fsp.writeFile(hostFile, "x");
    const cases: [string, string[], string[], RegExp][] = [
      ["nocmd", [], ["no-such-command"], /executable file not found/],
      ["fileondir", ["-v", `${hostFile}:/bin`], ["true"], /not a directory/],
      ["nouser", ["-u", "nosuchuser"], ["true"], /unable to find user nosuchuser/],
      ["nodevice", ["--device", "/dev/no-such-device"], ["true"], /no-such-device/],
      ["badtmpfs", ["--tmpfs", "/x:bogus=1"], ["true"], /bogus/],
    ];
    for (const [name, opts, cmd, message] of cases) {
      const before = await leftovers();
      const r = await e.docker(["run", ...net, "--name", name, ...opts, "busybox", ...cmd]);
      assert.notEqual(r.code, 0, name);
      assert.match(r.stderr, message, name);
      const id = JSON.parse((await raw("GET", `/containers/${name}/json`)).body).Id;
      await assertClean(before, { keep: id });
      const c = JSON.parse((await raw("GET", `/containers/${name}/json`)).body);
      assert.equal(c.State.Running, false, name);
      assert.equal(c.State.Pid, 0, name);
      assert.notEqual(c.State.ExitCode, 0, name);
      assert.match(c.State.Error, message, name);
      // Starting it again fails the same way and still leaves nothing behind.
      const again = await raw("POST", `/containers/${name}/start`);
      assert.ok(again.status >= 400, `${name}: ${again.status}`);
      await assertClean(before, { keep: id });
      assert.equal((await raw("DELETE", `/containers/${name}`)).status, 204, name);
      await assertClean(before);
    }
    // A container whose start failed on a missing command exits 127 in the CLI, 126 for a directory.
    assert.equal((await e.docker(["run", "--rm", ...net, "busybox", "no-such-command"])).code, 127);
    assert.equal((await e.docker(["run", "--rm", ...net, "busybox", "/etc"])).code, 126);
  });
});
