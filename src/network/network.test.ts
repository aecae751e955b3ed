import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { AddressPool } from "./ipam.js";
import { DEFAULT_ADDRESS_POOLS, formatIPv4, formatPrefix, macForIP, overlaps, parseIPv4, parsePrefix, poolSubnets } from "./ipnet.js";
import { portRequests, PortReservations } from "./ports.js";
import { chainNames, findChains, findJumps, jumps, renderChains } from "./firewall.js";
import { ownerAlive, ownerComment, parseOwner, selfOwner } from "./owner.js";
import { chainSets, ownerState, prefixOf, removalText } from "./stale-chains.js";
import { pickAndCreateBridgeScript } from "./sandbox.js";
import { DnsServer, parseResolvConf, ptrToIP } from "./dns.js";
import { silentLogger } from "../lib/index.js";
import { PierError } from "../errdefs/index.js";

describe("ipnet", () => {
  it("parses and formats addresses and prefixes", () => {
    assert.equal(formatIPv4(parseIPv4("172.17.0.1")!), "172.17.0.1");
    assert.equal(parseIPv4("256.1.1.1"), undefined);
    assert.equal(parseIPv4("01.1.1.1"), undefined);
    assert.equal(formatPrefix(parsePrefix("172.17.3.4/16")), "172.17.0.0/16");
    assert.throws(() => parsePrefix("172.17.3.4/16", "subnet", true), /it should be 172\.17\.0\.0\/16/);
    assert.throws(() => parsePrefix("fd00::/64"), /IPv6/);
    assert.ok(overlaps(parsePrefix("172.16.0.0/12"), parsePrefix("172.20.0.0/16")));
    assert.ok(!overlaps(parsePrefix("172.17.0.0/16"), parsePrefix("172.18.0.0/16")));
    assert.equal(macForIP(parseIPv4("172.17.0.2")!), "02:42:ac:11:00:02");
  });

  it("walks Docker's default address pools in order", () => {
    const all = [...poolSubnets(DEFAULT_ADDRESS_POOLS)].map(formatPrefix);
    assert.equal(all[0], "172.17.0.0/16");
    assert.equal(all[14], "172.31.0.0/16");
    assert.equal(all[15], "192.168.0.0/20");
    assert.equal(all[16], "192.168.16.0/20");
    assert.equal(all.length, 15 + 16);
  });
});

describe("ipam", () => {
  const pool = () => new AddressPool(parsePrefix("10.9.0.0/29"), parseIPv4("10.9.0.1")!);

  it("never hands out an address twice, skips the gateway, wraps around", () => {
    const p = pool();
    const got = [1, 2, 3, 4, 5].map((i) => formatIPv4(p.take(`c${i}`)));
    assert.deepEqual(got, ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]);
    assert.throws(() => p.take("c6"), (e: PierError) => e.kind === "Unavailable");
    p.release(parseIPv4("10.9.0.4")!, "c3");
    p.release(parseIPv4("10.9.0.5")!, "someone-else"); // not the owner: kept
    assert.equal(formatIPv4(p.take("c7")), "10.9.0.4");
    assert.equal(p.inUse, 5);
  });

  it("does not reuse a released address at once", () => {
    const p = new AddressPool(parsePrefix("10.9.0.0/24"), parseIPv4("10.9.0.1")!);
    const a = p.take("a");
    p.release(a, "a");
    assert.notEqual(p.take("b"), a);
  });

  it("gives a requested address only when it is free and in the subnet", () => {
    const p = new AddressPool(parsePrefix("10.9.0.0/24"), parseIPv4("10.9.0.1")!, parsePrefix("10.9.0.128/25"));
    assert.equal(formatIPv4(p.take("a")), "10.9.0.128");
    assert.equal(formatIPv4(p.take("b", parseIPv4("10.9.0.10"))), "10.9.0.10");
    assert.throws(() => p.take("c", parseIPv4("10.9.0.10")), /Address already in use/);
    assert.throws(() => p.take("c", parseIPv4("10.9.0.1")), /gateway/);
    assert.throws(() => p.take("c", parseIPv4("10.8.0.1")), /no configured subnet/);
  });

  it("hands 50 concurrent takers 50 different addresses", async () => {
    const p = new AddressPool(parsePrefix("172.30.0.0/16"), parseIPv4("172.30.0.1")!);
    const got = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return p.take(`c${i}`);
    }));
    assert.equal(new Set(got).size, 50);
  });
});

describe("ports", () => {
  it("turns PortBindings and -P into requests", () => {
    const r = portRequests(
      { "80/tcp": [{ HostIp: "", HostPort: "8080" }], "53/udp": [{ HostIp: "127.0.0.1", HostPort: "" }], "90": [{ HostPort: "9000-9010" }] },
      true,
      { "80/tcp": {}, "443/tcp": {} },
    );
    r.sort((a, b) => a.containerPort - b.containerPort);
    assert.deepEqual(r, [
      { proto: "udp", containerPort: 53, hostIP: "127.0.0.1", hostPortFrom: 0, hostPortTo: 0 },
      { proto: "tcp", containerPort: 80, hostIP: "", hostPortFrom: 8080, hostPortTo: 8080 },
      { proto: "tcp", containerPort: 90, hostIP: "", hostPortFrom: 9000, hostPortTo: 9010 },
      { proto: "tcp", containerPort: 443, hostIP: "", hostPortFrom: 0, hostPortTo: 0 },
    ]);
    assert.throws(() => portRequests({ "80/tcp": [{ HostPort: "x" }] }, false, {}), /invalid host port/);
    assert.throws(() => portRequests({ "0/tcp": [] }, false, {}), /invalid port/);
    assert.throws(() => portRequests({ "80/tcp": [{ HostIp: "::1", HostPort: "1" }] }, false, {}), /IPv6/);
  });

  it("holds host ports, refuses a taken one, moves on in a range", async () => {
    const res = new PortReservations();
    const [a] = await res.reserve([{ proto: "tcp", containerPort: 80, hostIP: "127.0.0.1", hostPortFrom: 0, hostPortTo: 0 }]);
    assert.ok(a!.hostPort > 0);
    await assert.rejects(
      res.reserve([{ proto: "tcp", containerPort: 80, hostIP: "127.0.0.1", hostPortFrom: a!.hostPort, hostPortTo: a!.hostPort }]),
      new RegExp(`Bind for 127\\.0\\.0\\.1:${a!.hostPort} failed: port is already allocated`),
    );
    // Another program's port is taken too.
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    const busy = (other.address() as net.AddressInfo).port;
    await assert.rejects(res.reserve([{ proto: "tcp", containerPort: 1, hostIP: "", hostPortFrom: busy, hostPortTo: busy }]), new RegExp(`Error starting userland proxy: listen tcp4 0\\.0\\.0\\.0:${busy}: bind: address already in use`));
    // Without a userland proxy dockerd's own placeholder listener fails, with the bare words.
    const noProxy = new PortReservations({ userlandProxy: false });
    await assert.rejects(noProxy.reserve([{ proto: "tcp", containerPort: 1, hostIP: "", hostPortFrom: busy, hostPortTo: busy }]), (err: Error) => {
      assert.equal(err.message, `listen tcp4 0.0.0.0:${busy}: bind: address already in use`);
      return true;
    });
    const [b] = await res.reserve([{ proto: "udp", containerPort: 53, hostIP: "127.0.0.1", hostPortFrom: a!.hostPort, hostPortTo: a!.hostPort }]);
    assert.equal(b!.hostPort, a!.hostPort, "udp and tcp ports are separate");
    // All or nothing: the first of two is released when the second fails.
    await assert.rejects(res.reserve([
      { proto: "udp", containerPort: 1, hostIP: "127.0.0.1", hostPortFrom: 0, hostPortTo: 0 },
      { proto: "udp", containerPort: 2, hostIP: "127.0.0.1", hostPortFrom: b!.hostPort, hostPortTo: b!.hostPort },
    ]));
    res.release([a!]);
    const [c] = await res.reserve([{ proto: "tcp", containerPort: 80, hostIP: "127.0.0.1", hostPortFrom: a!.hostPort, hostPortTo: a!.hostPort }]);
    assert.equal(c!.hostPort, a!.hostPort);
    res.closeAll();
    other.close();
  });

  it("relays TCP (with half-close) and UDP to the container when it proxies", async () => {
    // The "container" is a local echo server on another port.
    const echo = net.createServer({ allowHalfOpen: true }, (c) => {
      const got: Buffer[] = [];
      c.on("data", (d) => got.push(d));
      c.on("end", () => c.end(`tcp:${Buffer.concat(got)}`));
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const udpEcho = dgram.createSocket("udp4");
    udpEcho.on("message", (m, from) => udpEcho.send(`udp:${m}`, from.port, from.address));
    await new Promise<void>((r) => udpEcho.bind(0, "127.0.0.1", r));
    const res = new PortReservations({ relay: true });
    const [t, u] = await res.reserve([
      { proto: "tcp", containerPort: (echo.address() as net.AddressInfo).port, hostIP: "127.0.0.1", hostPortFrom: 0, hostPortTo: 0 },
      { proto: "udp", containerPort: udpEcho.address().port, hostIP: "127.0.0.1", hostPortFrom: 0, hostPortTo: 0 },
    ], "127.0.0.1");
    const tcpReply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ port: t!.hostPort, host: "127.0.0.1", allowHalfOpen: true }, () => c.end("hello"));
      const got: Buffer[] = [];
      c.on("data", (d) => got.push(d));
      c.on("end", () => resolve(Buffer.concat(got).toString()));
      c.on("error", reject);
    });
    assert.equal(tcpReply, "tcp:hello");
    const client = dgram.createSocket("udp4");
    const udpReply = await new Promise<string>((resolve) => {
      client.on("message", (m) => resolve(m.toString()));
      client.send("ping", u!.hostPort, "127.0.0.1");
    });
    assert.equal(udpReply, "udp:ping");
    client.close();
    res.closeAll();
    echo.close();
    udpEcho.close();
  });
});

describe("firewall rules", () => {
  const c = chainNames("PIER-ABC123");
  it("renders our chains only, with NAT, hairpin, isolation and ports", () => {
    const r = renderChains(c, {
      networks: [
        { bridge: "pier0", subnet: "172.17.0.0/16", internal: false, masquerade: true, icc: true },
        { bridge: "pier-x", subnet: "172.18.0.0/16", internal: true, masquerade: true, icc: true },
      ],
      ports: [{ proto: "tcp", hostIP: "", hostPort: 8080, containerIP: "172.17.0.2", containerPort: 80 }, { proto: "udp", hostIP: "127.0.0.1", hostPort: 53, containerIP: "172.17.0.3", containerPort: 53 }],
    });
    assert.ok(r.nat.includes("-A PIER-ABC123 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"));
    assert.ok(r.nat.includes("-A PIER-ABC123 -d 127.0.0.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 172.17.0.3:53"));
    assert.ok(r.nat.includes("-A PIER-ABC123-POSTROUTING -s 172.17.0.0/16 ! -o pier0 -j MASQUERADE"));
    assert.ok(!r.nat.some((l) => l.includes("172.18.0.0/16 ! -o")), "no NAT out of an internal network");
    assert.ok(r.filter.includes("-A PIER-ABC123-FORWARD -i pier-x ! -o pier-x -j DROP"));
    assert.ok(r.filter.includes("-A PIER-ABC123-ISOLATE-2 -o pier0 -j DROP"));
    for (const l of [...r.nat, ...r.filter]) assert.match(l, /^(:PIER-ABC123\S* - \[0:0\]|-A PIER-ABC123\S* )/);
  });

  it("masquerades every host-made connection into a bridge without the userland proxy, only loopback's with it", () => {
    const state = {
      networks: [
        { bridge: "pier0", subnet: "172.17.0.0/16", internal: false, masquerade: true, icc: true },
        { bridge: "pier-x", subnet: "172.18.0.0/16", internal: true, masquerade: true, icc: true },
      ],
      ports: [],
    };
    const local = "-A PIER-ABC123-POSTROUTING -o pier0 -m addrtype --src-type LOCAL -j MASQUERADE";
    const loopback = "-A PIER-ABC123-POSTROUTING -s 127.0.0.0/8 -o pier0 -j MASQUERADE";
    const hairpin = renderChains(c, state, { hairpin: true }).nat;
    assert.ok(hairpin.includes(local));
    assert.ok(!hairpin.includes(loopback), "LOCAL already covers 127.0.0.0/8");
    assert.ok(!hairpin.some((l) => l.includes("-o pier-x -m addrtype")), "nothing of the host reaches an internal network");
    const proxy = renderChains(c, state).nat;
    assert.ok(proxy.includes(loopback));
    assert.ok(!proxy.some((l) => l.includes("--src-type LOCAL")));
  });

  it("leaves containers their own address on a published port of their network only in hairpin mode with br_netfilter", () => {
    const state = {
      networks: [{ bridge: "pier0", subnet: "172.17.0.0/16", internal: false, masquerade: true, icc: true }],
      ports: [
        { proto: "tcp" as const, hostIP: "", hostPort: 8080, containerIP: "172.17.0.2", containerPort: 80 },
        { proto: "tcp" as const, hostIP: "127.0.0.1", hostPort: 8081, containerIP: "172.17.0.2", containerPort: 80 },
      ],
    };
    const dnatMasq = "-A PIER-ABC123-POSTROUTING -s 172.17.0.0/16 -o pier0 -m conntrack --ctstate DNAT -j MASQUERADE";
    const selfMasq = "-A PIER-ABC123-POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE";
    const kept = renderChains(c, state, { hairpin: true, bridgeNetfilter: true }).nat;
    assert.ok(!kept.includes(dnatMasq));
    assert.equal(kept.filter((l) => l === selfMasq).length, 1, "one self rule per container port");
    for (const mode of [{ hairpin: true, bridgeNetfilter: false }, { hairpin: false, bridgeNetfilter: true }]) {
      const nat = renderChains(c, state, mode).nat;
      assert.ok(nat.includes(dnatMasq), JSON.stringify(mode));
      assert.ok(!nat.includes(selfMasq), JSON.stringify(mode));
    }
  });

  it("finds the jumps into our chains and nothing else", () => {
    const saved = [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":DOCKER - [0:0]",
      ":PIER-ABC123 - [0:0]",
      "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
      "-A PREROUTING -m addrtype --dst-type LOCAL -j PIER-ABC123",
      "-A PREROUTING -m addrtype --dst-type LOCAL -j PIER-ABC123",
      "-A POSTROUTING -j PIER-ABC123-POSTROUTING",
      "-A POSTROUTING -j PIER-OTHER-POSTROUTING",
      "-A PIER-ABC123 -p tcp -m tcp --dport 1 -j DNAT --to-destination 1.2.3.4:1",
      "COMMIT",
    ].join("\n");
    assert.deepEqual(findJumps(c, saved), [
      { chain: "PREROUTING", rule: "-m addrtype --dst-type LOCAL -j PIER-ABC123" },
      { chain: "PREROUTING", rule: "-m addrtype --dst-type LOCAL -j PIER-ABC123" },
      { chain: "POSTROUTING", rule: "-j PIER-ABC123-POSTROUTING" },
    ]);
    assert.deepEqual(findChains(c, saved), ["PIER-ABC123"]);
    assert.equal(jumps(c).length, 5);
  });
});

describe("other pierds' chains", () => {
  const me = selfOwner();
  const dead = { ...me, start: String(Number(me.start) + 1) };
  const saved = (owner: string | undefined) => {
    const c = owner ? `-m comment --comment "${owner}" ` : "";
    return {
      nat: [
        "*nat",
        ":POSTROUTING ACCEPT [0:0]",
        ":DOCKER - [0:0]",
        ":PIER - [0:0]",
        ":PIER-POSTROUTING - [0:0]",
        ":PIER-ABC123 - [0:0]",
        ":PIER-ABC123-POSTROUTING - [0:0]",
        `-A PREROUTING -m addrtype --dst-type LOCAL ${c}-j PIER-ABC123`,
        "-A POSTROUTING -j PIER-POSTROUTING",
        `-A POSTROUTING ${c}-j PIER-ABC123-POSTROUTING`,
        "-A POSTROUTING -s 10.9.0.0/16 -j DOCKER",
        "-A PIER-POSTROUTING -s 172.17.0.0/16 ! -o pier0 -j MASQUERADE",
        "-A PIER-ABC123-POSTROUTING -s 172.20.0.0/16 ! -o pier0-abc123 -j MASQUERADE",
        "-A PIER-ABC123-POSTROUTING -s 127.0.0.0/8 -o pier0-abc123 -j MASQUERADE",
        "COMMIT",
      ].join("\n"),
      filter: ["*filter", ":PIER-ABC123-FORWARD - [0:0]", ":PIER-ABC123-ISOLATE-1 - [0:0]", `-A FORWARD ${c}-j PIER-ABC123-FORWARD`, "-A PIER-ABC123-FORWARD -j PIER-ABC123-ISOLATE-1", "COMMIT"].join("\n"),
    };
  };

  it("names a process by pid, start time and pid namespace, and knows a dead one", () => {
    assert.deepEqual(parseOwner(`-m comment --comment "${ownerComment(me)}" -j X`), me);
    assert.equal(parseOwner("-j PIER-ABC123"), undefined);
    assert.equal(ownerAlive(me), true);
    assert.equal(ownerAlive(dead), false, "same pid, another start time: the pid was reused");
    assert.equal(ownerAlive({ ...me, pidns: "1" }), undefined, "another pid namespace cannot be judged");
    assert.match(jumps(chainNames("PIER-ABC123"), ownerComment(me))[0]!.rule, /--comment "pierd pid=\d+ start=\d+ pidns=\d+" -j PIER-ABC123$/);
  });

  it("groups chains by prefix with their jumps and subnets", () => {
    assert.equal(prefixOf("PIER-ISOLATE-1"), "PIER");
    assert.equal(prefixOf("PIER-ABC123-POSTROUTING"), "PIER-ABC123");
    assert.equal(prefixOf("PIER-ABC123"), "PIER-ABC123");
    assert.equal(prefixOf("DOCKER-USER"), undefined);
    const sets = chainSets(saved(ownerComment(dead)));
    assert.deepEqual([...sets.keys()].sort(), ["PIER", "PIER-ABC123"]);
    const s = sets.get("PIER-ABC123")!;
    assert.equal(s.chains.length, 4);
    assert.deepEqual(s.jumps.map((j) => j.chain), ["PREROUTING", "POSTROUTING", "FORWARD"]);
    assert.deepEqual(s.sources, ["172.20.0.0/16"]);
    assert.deepEqual(s.interfaces, ["pier0-abc123"], "the bridges its rules name (removed with the set when idle)");
    assert.deepEqual(sets.get("PIER")!.sources, ["172.17.0.0/16"]);
  });

  it("calls a set gone only when every jump names an owner that no longer runs", () => {
    assert.equal(ownerState(chainSets(saved(ownerComment(dead))).get("PIER-ABC123")!), "gone");
    assert.equal(ownerState(chainSets(saved(ownerComment(me))).get("PIER-ABC123")!), "live");
    assert.equal(ownerState(chainSets(saved(undefined)).get("PIER-ABC123")!), "unknown", "an older pierd's: no owner");
    assert.equal(ownerState(chainSets(saved(ownerComment({ ...dead, pidns: "1" }))).get("PIER-ABC123")!), "unknown");
    const jumpless = chainSets(saved(ownerComment(dead))).get("PIER-ABC123")!;
    assert.equal(ownerState({ ...jumpless, jumps: [] }), "unknown");
  });

  it("removes a set's jumps and chains in one restore per table", () => {
    const text = removalText([chainSets(saved(ownerComment(dead))).get("PIER-ABC123")!]);
    const c = ownerComment(dead);
    assert.equal(
      text,
      "*nat\n:PIER-ABC123 - [0:0]\n:PIER-ABC123-POSTROUTING - [0:0]\n" +
        `-D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "${c}" -j PIER-ABC123\n-D POSTROUTING -m comment --comment "${c}" -j PIER-ABC123-POSTROUTING\n` +
        "-X PIER-ABC123\n-X PIER-ABC123-POSTROUTING\nCOMMIT\n" +
        "*filter\n:PIER-ABC123-FORWARD - [0:0]\n:PIER-ABC123-ISOLATE-1 - [0:0]\n" +
        `-D FORWARD -m comment --comment "${c}" -j PIER-ABC123-FORWARD\n` +
        "-X PIER-ABC123-FORWARD\n-X PIER-ABC123-ISOLATE-1\nCOMMIT\n",
    );
  });
});

describe("bridge scripts", () => {
  it("pick a subnet and make the bridge under a machine-wide lock", () => {
    const s = pickAndCreateBridgeScript("pier0", 1500, [{ subnet: "172.17.0.0/16", cidr: "172.17.0.1/16" }], "/run/lock/x");
    assert.match(s, /flock 9/);
    assert.match(s, /ip link add name 'pier0' mtu 1500 type bridge/);
  });
});

describe("dns server", () => {
  it("answers names it knows, relays the rest, over UDP and TCP", async () => {
    const dp = (await import("dns-packet")).default;
    // A fake upstream on loopback.
    const up = dgram.createSocket("udp4");
    up.on("message", (m, r) => {
      const q = dp.decode(m);
      up.send(dp.encode({ type: "response", id: q.id, flags: dp.RECURSION_AVAILABLE, questions: q.questions, answers: [{ type: "A", name: q.questions![0]!.name, ttl: 1, data: "192.0.2.99" }] }), r.port, r.address);
    });
    await new Promise<void>((r) => up.bind(0, "127.0.0.1", r));
    const upPort = up.address().port;
    const server = new DnsServer("127.0.0.1", {
      lookup: (n) => (n === "web" || n === "web.mynet" ? ["172.18.0.2"] : undefined),
      reverse: (ip) => (ip === "172.18.0.2" ? "web.mynet" : undefined),
      upstreams: () => [{ host: "127.0.0.1", port: upPort }],
    }, silentLogger, 0);
    // Port 0 is not meaningful for a server of two sockets; pick a free one.
    const probe = dgram.createSocket("udp4");
    await new Promise<void>((r) => probe.bind(0, "127.0.0.1", r));
    const port = probe.address().port;
    probe.close();
    Object.assign(server, { port });
    await server.start();
    type Reply = { answers?: { data?: unknown }[] };
    const ask = (name: string, type: "A" | "PTR" = "A") => new Promise<Reply>((resolve) => {
      const c = dgram.createSocket("udp4");
      c.on("message", (m) => {
        c.close();
        resolve(dp.decode(m) as Reply);
      });
      c.send(dp.encode({ type: "query", id: 7, flags: dp.RECURSION_DESIRED, questions: [{ type, name }] }), port, "127.0.0.1");
    });
    const a = await ask("Web");
    assert.deepEqual(a.answers?.map((x) => x.data), ["172.18.0.2"]);
    assert.equal((await ask("web.mynet")).answers?.[0]?.data, "172.18.0.2");
    assert.equal((await ask("2.0.18.172.in-addr.arpa", "PTR")).answers?.[0]?.data, "web.mynet");
    assert.equal((await ask("example.org")).answers?.[0]?.data, "192.0.2.99");
    // TCP
    const tcpAnswer = await new Promise<Reply>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => s.write(dp.streamEncode({ type: "query", id: 9, questions: [{ type: "A", name: "web" }] })));
      let buf = Buffer.alloc(0);
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          s.destroy();
          resolve(dp.streamDecode(buf) as Reply);
        }
      });
      s.on("error", reject);
    });
    assert.equal(tcpAnswer.answers?.[0]?.data, "172.18.0.2");
    server.close();
    up.close();
    assert.equal(ptrToIP("4.3.2.1.in-addr.arpa"), "1.2.3.4");
    assert.deepEqual(parseResolvConf("search x\nnameserver 10.0.0.1\n nameserver 127.0.0.53\n"), [{ host: "10.0.0.1", port: 53 }, { host: "127.0.0.53", port: 53 }]);
  });
});
