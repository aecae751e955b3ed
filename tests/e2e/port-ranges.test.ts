// Port ranges with more than one dash ("8000-8001-9"), as go-connections' nat reads them: split
// on every "-", the first two parts taken, the rest ignored. The docker CLI (-p, --expose),
// dockerd's EXPOSE (--change) and a PortBinding's HostPort all accept them that way; an empty
// part is refused, by the daemon too when a client sends one. Measured against dockerd 20.10 with docker CLI 28.2.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { apiRequest, dockerOk, startEngine, type Engine } from "../harness.js";

describe("port ranges with more dashes", () => {
  let e: Engine;
  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });
  const ok = (args: string[]) => dockerOk(e, args);
  const json = async (args: string[]) => JSON.parse(await ok(args));

  it("publishes -p 8000-8001-9:80-81 as 8000-8001:80-81, from the docker CLI and pier's", async () => {
    const want = { "80/tcp": [{ HostIp: "", HostPort: "18931" }], "81/tcp": [{ HostIp: "", HostPort: "18932" }] };
    await ok(["run", "-d", "--name", "dashes", "-p", "18931-18932-9:80-81", "busybox", "sleep", "300"]);
    assert.deepEqual(await json(["inspect", "-f", "{{json .HostConfig.PortBindings}}", "dashes"]), want);
    const port = (await ok(["port", "dashes"])).split("\n").filter((l) => !l.includes("[::]")).sort();
    assert.deepEqual(port, ["80/tcp -> 0.0.0.0:18931", "81/tcp -> 0.0.0.0:18932"]);
    await ok(["rm", "-f", "dashes"]);

    const created = await e.pier(["create", "--name", "pier-dashes", "-p", "18933-18934-x:80-81", "busybox"]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(await json(["inspect", "-f", "{{json .HostConfig.PortBindings}}", "pier-dashes"]), {
      "80/tcp": [{ HostIp: "", HostPort: "18933" }],
      "81/tcp": [{ HostIp: "", HostPort: "18934" }],
    });
    await ok(["rm", "pier-dashes"]);
  });

  it("refuses an empty part with the CLI's words, in both CLIs", async () => {
    for (const [flag, value, message] of [
      ["-p", "1--2:80", "invalid hostPort: 1--2"],
      ["-p", "80--81", "invalid containerPort: 80--81"],
      ["-p", "8000:80-81-82", "invalid ranges specified for container and host Ports: 80-81-82 and 8000"],
      ["--expose", "80--81", 'invalid range format for --expose: 80--81, error: strconv.ParseUint: parsing "": invalid syntax'],
    ] as const) {
      for (const cli of ["docker", "pier"] as const) {
        const r = await e[cli](["create", flag, value, "busybox"]);
        assert.equal(r.code, 125, `${cli} ${flag} ${value}: ${r.stderr}`);
        assert.ok(r.stderr.includes(message), `${cli} ${flag} ${value}: ${r.stderr}`);
      }
    }
  });

  it("exposes --expose 80-81-82 and EXPOSE 80-81-82 (--change) as 80-81", async () => {
    await ok(["create", "--name", "exposed", "--expose", "7080-7081-7082", "busybox"]);
    assert.deepEqual(Object.keys(await json(["inspect", "-f", "{{json .Config.ExposedPorts}}", "exposed"])).sort(), ["7080/tcp", "7081/tcp"]);
    const image = await ok(["commit", "--change", "EXPOSE 9080-9081-9082/udp", "exposed"]);
    assert.deepEqual(Object.keys(await json(["image", "inspect", "-f", "{{json .Config.ExposedPorts}}", image])).sort(), ["7080/tcp", "7081/tcp", "9080/udp", "9081/udp"]);
    const bad = await e.docker(["commit", "--change", "EXPOSE 80--81", "exposed"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Invalid containerPort: 80--81/);
    await ok(["rm", "exposed"]);
    await ok(["rmi", image]);
  });

  it("refuses at create what the daemon cannot read as a port: 400 and the value", async () => {
    for (const [key, hostPort, shown] of [
      ["80/tcp", "1--2", "1--2"],
      ["80/tcp", "5-3", "5-3"],
      ["80/tcp", "70000", "70000"],
      ["80-81/tcp", "8000", "80-81"],
    ] as const) {
      const r = await apiRequest(e, "POST", "/v1.41/containers/create", { Image: "busybox", HostConfig: { PortBindings: { [key]: [{ HostPort: hostPort }] } } });
      assert.equal(r.status, 400, `${key} ${hostPort}: ${r.text}`);
      assert.equal(r.json().message, `invalid port specification: "${shown}"`);
    }
  });

  it("takes a HostPort of 18941-18942-9 from the API as the range 18941-18942", async () => {
    const r = await apiRequest(e, "POST", "/v1.41/containers/create?name=api-dashes", {
      Image: "busybox",
      Cmd: ["sleep", "300"],
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { PortBindings: { "80/tcp": [{ HostPort: "18941-18942-9" }] } },
    });
    assert.equal(r.status, 201, r.text);
    await ok(["start", "api-dashes"]);
    const bound = (await json(["inspect", "-f", "{{json .NetworkSettings.Ports}}", "api-dashes"]))["80/tcp"] as { HostIp: string; HostPort: string }[];
    const v4 = bound.filter((b) => b.HostIp === "0.0.0.0");
    assert.equal(v4.length, 1, JSON.stringify(bound));
    assert.ok(["18941", "18942"].includes(v4[0]!.HostPort), JSON.stringify(bound));
    await ok(["rm", "-f", "api-dashes"]);
  });
});
