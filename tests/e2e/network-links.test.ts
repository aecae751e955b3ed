// Container links through the real docker CLI: `--link name:alias` on the default bridge
// (/etc/hosts lines, the <ALIAS>_… environment in the process and in exec, HostConfig.Links in
// inspect, the parent's hosts line following the child to a new address), Docker's errors for
// missing, stopped and host-networked children, and `--link` on a user network as an alias only
// the linking container resolves. Checked against dockerd 20.10 with PIER_TEST_DOCKER_HOST.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEngine, apiRequest, type Engine, dockerOk } from "../harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("container links", () => {
  let e: Engine;
  const ok = (args: string[]) => dockerOk(e, args);
  const envOf = (text: string) => new Map(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

  before(async () => {
    e = await startEngine();
  });
  after(async () => {
    await e?.stop();
  });

  it("gives the parent hosts lines and Docker's environment for a link on the default bridge", async () => {
    await ok(["run", "-d", "--name", "db", "-e", "FOO=bar", "-e", "X=a=b", "--expose", "5432", "--expose", "8000-8002/tcp", "--expose", "53/udp",
      "busybox", "sh", "-c", "mkdir -p /w && echo db-ok > /w/index.html && exec httpd -f -p 5432 -h /w"]);
    const dbIP = await ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "db"]);
    const dbHost = await ok(["inspect", "-f", "{{.Config.Hostname}}", "db"]);
    const out = await ok(["run", "--rm", "--name", "web", "--link", "db:my-db", "busybox", "sh", "-c", "cat /etc/hosts; echo ---; env; echo ---; wget -qO- http://my-db:5432/"]);
    const [hosts, envText, fetched] = out.split("---\n");
    assert.match(hosts!, new RegExp(`^${dbIP.replace(/\./g, "\\.")}\\tmy-db ${dbHost} db$`, "m"));
    assert.equal(fetched!.trim(), "db-ok");
    const env = envOf(envText!);
    // The lowest port is the default one; 53/udp sorts before 5432/tcp.
    assert.equal(env.get("MY_DB_PORT"), `udp://${dbIP}:53`);
    assert.equal(env.get("MY_DB_PORT_5432_TCP"), `tcp://${dbIP}:5432`);
    assert.equal(env.get("MY_DB_PORT_5432_TCP_ADDR"), dbIP);
    assert.equal(env.get("MY_DB_PORT_5432_TCP_PORT"), "5432");
    assert.equal(env.get("MY_DB_PORT_5432_TCP_PROTO"), "tcp");
    assert.equal(env.get("MY_DB_PORT_53_UDP"), `udp://${dbIP}:53`);
    // A run of three or more consecutive ports gets START/END variables too.
    assert.equal(env.get("MY_DB_PORT_8000_TCP_START"), `tcp://${dbIP}:8000`);
    assert.equal(env.get("MY_DB_PORT_8000_TCP_END"), `tcp://${dbIP}:8002`);
    assert.equal(env.get("MY_DB_PORT_8000_TCP_PORT_START"), "8000");
    assert.equal(env.get("MY_DB_PORT_8000_TCP_PORT_END"), "8002");
    assert.equal(env.get("MY_DB_PORT_8001_TCP"), `tcp://${dbIP}:8001`);
    assert.equal(env.get("MY_DB_NAME"), "/web/my-db");
    assert.equal(env.get("MY_DB_ENV_FOO"), "bar");
    assert.equal(env.get("MY_DB_ENV_X"), "a=b");
    assert.equal(env.has("MY_DB_ENV_PATH"), false, "PATH and HOME of the child are left out");

    // Without an alias the name is the alias; the name is then not repeated.
    const plain = await ok(["run", "--rm", "--link", "db", "busybox", "sh", "-c", "grep -w db /etc/hosts; env | grep ^DB_NAME="]);
    assert.match(plain, new RegExp(`^${dbIP.replace(/\./g, "\\.")}\\tdb ${dbHost}$`, "m"));
    assert.match(plain, /^DB_NAME=\/\w+\/db$/m);
  });

  it("shows links in inspect in Docker's form and gives them to exec", async () => {
    await ok(["run", "-d", "--name", "par", "--link", "db:d", "busybox", "sleep", "600"]);
    assert.equal(await ok(["inspect", "-f", "{{json .HostConfig.Links}}", "par"]), '["/db:/par/d"]');
    assert.equal(await ok(["inspect", "-f", "{{json .NetworkSettings.Networks.bridge.Links}}", "par"]), "null");
    assert.equal(await ok(["inspect", "-f", "{{json .HostConfig.Links}}", "db"]), "null");
    assert.equal(await ok(["exec", "par", "sh", "-c", "echo $D_NAME $D_ENV_FOO"]), "/par/d bar");
    // A rename of the child shows in the parent's links.
    await ok(["rename", "db", "db2"]);
    assert.equal(await ok(["inspect", "-f", "{{json .HostConfig.Links}}", "par"]), '["/db2:/par/d"]');
    await ok(["rename", "db2", "db"]);
  });

  it("moves the parent's hosts line when the child comes back on another address", async () => {
    await ok(["run", "-d", "--name", "kid", "busybox", "sleep", "600"]);
    await ok(["run", "-d", "--name", "parent", "--link", "kid:k", "busybox", "sleep", "600"]);
    await ok(["stop", "-t", "0", "kid"]);
    // Another container takes the child's old address.
    await ok(["run", "-d", "--name", "thief", "busybox", "sleep", "600"]);
    await ok(["start", "kid"]);
    const ip = await ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "kid"]);
    const kidHost = await ok(["inspect", "-f", "{{.Config.Hostname}}", "kid"]);
    let line = "";
    for (let i = 0; i < 50; i++) {
      line = await ok(["exec", "parent", "grep", "-w", "k", "/etc/hosts"]);
      if (line.startsWith(`${ip}\t`)) break;
      await sleep(100);
    }
    assert.equal(line, `${ip}\tk ${kidHost} kid`);
    await ok(["rm", "-f", "kid", "parent", "thief"]);
  });

  it("refuses links to missing, stopped and host-networked containers with Docker's messages", async () => {
    const missing = await e.docker(["run", "--rm", "--link", "missing:x", "busybox", "true"]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /could not get container for missing: No such container: missing/);
    const viaApi = await apiRequest(e, "POST", "/containers/create", { Image: "busybox", Cmd: ["true"], HostConfig: { Links: ["missing:x"] } });
    assert.equal(viaApi.status, 400, "a missing child is a bad parameter, not a missing image");

    await ok(["create", "--name", "stopped", "busybox", "true"]);
    const stopped = await e.docker(["run", "--name", "lnk", "--link", "stopped:s", "busybox", "true"]);
    assert.equal(stopped.code, 125);
    assert.match(stopped.stderr, /Cannot link to a non running container: \/stopped AS \/lnk\/s/);

    const hostNet = await e.docker(["run", "--rm", "--network", "host", "--link", "db:x", "busybox", "true"]);
    assert.equal(hostNet.code, 125);
    assert.match(hostNet.stderr, /conflicting options: host type networking can't be used with links/);
    const shared = await e.docker(["run", "--rm", "--network", "container:db", "--link", "db:x", "busybox", "true"]);
    assert.equal(shared.code, 125);
    assert.match(shared.stderr, /conflicting options: container type network can't be used with links/);
    await ok(["run", "-d", "--name", "hosty", "--network", "host", "busybox", "sleep", "600"]);
    const toHost = await e.docker(["run", "--rm", "--link", "hosty:h", "busybox", "true"]);
    assert.equal(toHost.code, 125);
    assert.match(toHost.stderr, /conflicting options: host type networking can't be used with links/);
    await ok(["rm", "-f", "stopped", "lnk", "hosty"]);
  });

  it("makes --link on a user network an alias that only the linking container resolves", async () => {
    await ok(["network", "create", "lnet"]);
    await ok(["run", "-d", "--name", "udb", "--network", "lnet", "busybox", "sleep", "600"]);
    const udbIP = await ok(["inspect", "-f", "{{.NetworkSettings.Networks.lnet.IPAddress}}", "udb"]);
    await ok(["run", "-d", "--name", "ulink", "--network", "lnet", "--link", "udb:alias1", "busybox", "sleep", "600"]);
    assert.equal(await ok(["inspect", "-f", "{{json .HostConfig.Links}}", "ulink"]), "null");
    assert.equal(await ok(["inspect", "-f", "{{json .NetworkSettings.Networks.lnet.Links}}", "ulink"]), '["udb:alias1"]');
    const found = await ok(["exec", "ulink", "nslookup", "alias1"]);
    assert.match(found, new RegExp(`Address:\\s+${udbIP.replace(/\./g, "\\.")}`));
    // No hosts line and no environment: only the name service knows the alias.
    assert.doesNotMatch(await ok(["exec", "ulink", "cat", "/etc/hosts"]), /alias1/);
    const other = await e.docker(["run", "--rm", "--network", "lnet", "busybox", "nslookup", "alias1"]);
    assert.notEqual(other.code, 0, "another container on the network does not know the alias");
    await ok(["rm", "-f", "udb", "ulink"]);
    await ok(["network", "rm", "lnet"]);
  });
});
