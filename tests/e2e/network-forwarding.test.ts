// --ip-forward as dockerd does it at its start (libnetwork's setupIPForwarding, measured with
// dockerd 20.10 in a network namespace of its own): when net.ipv4.ip_forward was 0 it turns it
// on and sets the filter FORWARD chain's policy to DROP (not with --iptables=false), even with
// --bridge none; a host that already forwarded keeps its policy; --ip-forward=false touches
// neither. Every pierd here runs in a network namespace of its own whose forwarding is set
// before pierd starts, so the host's own setting is never switched, not even for a moment.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dockerOk, withEngine } from "../harness.js";

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The FORWARD chain's policy in the network namespace of `pid` (the host's without). */
function forwardPolicy(pid?: number): string {
  const iptables = ["iptables", "-w", "5", "-S", "FORWARD"];
  const out = pid === undefined ? run(iptables[0]!, iptables.slice(1)) : run("nsenter", ["--target", String(pid), "--net", "--", ...iptables]);
  return /^-P FORWARD (\S+)/m.exec(out)?.[1] ?? `(no policy in ${out})`;
}

function ipForward(pid: number): string {
  return run("nsenter", ["--target", String(pid), "--net", "--", "cat", IP_FORWARD]).trim();
}

describe("pierd --ip-forward and the FORWARD policy", { skip: !!process.env.PIER_TEST_DOCKER_HOST && "needs private pierds started on a namespace without forwarding" }, () => {
  // The host's own values: they must be the same afterwards. Saved and put back in any case, in
  // case a namespace did not hold.
  let hostForward = "";
  let hostPolicy = "";
  before(() => {
    hostForward = readFileSync(IP_FORWARD, "utf8").trim();
    hostPolicy = forwardPolicy();
  });
  after(() => {
    const forward = readFileSync(IP_FORWARD, "utf8").trim();
    const policy = forwardPolicy();
    if (forward !== hostForward) writeFileSync(IP_FORWARD, hostForward);
    if (policy !== hostPolicy) run("iptables", ["-w", "5", "-P", "FORWARD", hostPolicy]);
    assert.equal(forward, hostForward, "the host's ip_forward is untouched");
    assert.equal(policy, hostPolicy, "the host's FORWARD policy is untouched");
  });

  const cases: { name: string; forwardBefore: "0" | "1"; args: string[]; forward: string; policy: string }[] = [
    { name: "turns forwarding on at its start and drops what no rule accepts", forwardBefore: "0", args: [], forward: "1", policy: "DROP" },
    { name: "does so with --bridge none too", forwardBefore: "0", args: ["--bridge", "none"], forward: "1", policy: "DROP" },
    { name: "keeps the policy of a host that already forwarded", forwardBefore: "1", args: [], forward: "1", policy: "ACCEPT" },
    { name: "with --iptables=false turns forwarding on and leaves the policy", forwardBefore: "0", args: ["--iptables=false"], forward: "1", policy: "ACCEPT" },
    { name: "with --ip-forward=false touches neither", forwardBefore: "0", args: ["--ip-forward=false"], forward: "0", policy: "ACCEPT" },
  ];
  for (const c of cases) {
    it(c.name, () =>
      withEngine({ busybox: false, daemonArgs: c.args, privateNetwork: true, netnsSetup: `echo ${c.forwardBefore} > ${IP_FORWARD}` }, async (e) => {
        // Before any container: dockerd does it when it starts, not at a bridge's first use.
        assert.equal(ipForward(e.pid!), c.forward, "net.ipv4.ip_forward");
        assert.equal(forwardPolicy(e.pid), c.policy, "FORWARD policy");
      }));
  }

  it("still forwards containers' own traffic under the DROP policy: on a bridge and between two", () =>
    withEngine({ privateNetwork: true, netnsSetup: `echo 0 > ${IP_FORWARD}` }, async (e) => {
      assert.equal(forwardPolicy(e.pid), "DROP");
      const ok = (args: string[]) => dockerOk(e, args);
      await ok(["network", "create", "fwd-a"]);
      await ok(["network", "create", "fwd-b"]);
      await ok(["run", "-d", "--name", "web", "--network", "fwd-b", "-p", "18797:80", "busybox", "sh", "-c", "mkdir -p /w && echo routed > /w/index.html && exec httpd -f -p 80 -h /w"]);
      await ok(["run", "-d", "--name", "peer", "--network", "fwd-b", "busybox", "sleep", "300"]);
      const webIP = await ok(["inspect", "-f", "{{(index .NetworkSettings.Networks \"fwd-b\").IPAddress}}", "web"]);
      // Same bridge: bridged, and seen by the FORWARD chain when br_netfilter is loaded.
      assert.equal(await ok(["exec", "peer", "timeout", "10", "wget", "-qO-", `http://${webIP}/`]), "routed");
      // Another network, through the published port on the host: routed from one bridge to the other.
      const gatewayA = JSON.parse(await ok(["network", "inspect", "-f", "{{json .IPAM.Config}}", "fwd-a"]))[0].Gateway as string;
      let body = "";
      for (let i = 0; i < 20 && body !== "routed"; i++) {
        const r = await e.docker(["run", "--rm", "--network", "fwd-a", "busybox", "timeout", "10", "wget", "-qO-", `http://${gatewayA}:18797/`]);
        body = r.stdout.trim();
      }
      assert.equal(body, "routed");
    }));
});
