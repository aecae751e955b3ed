import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parsePortRange, parsePortSpec } from "./ports.js";

describe("parsePortRange", () => {
  it("reads a port and a range, and says why other values are not one", () => {
    assert.deepEqual(parsePortRange("80"), { start: 80, end: 80 });
    assert.deepEqual(parsePortRange("8000-8010"), { start: 8000, end: 8010 });
    assert.deepEqual(parsePortRange("80a"), { error: "syntax" });
    assert.deepEqual(parsePortRange(""), { error: "syntax" });
    assert.deepEqual(parsePortRange("65536"), { error: "out of range" });
    assert.deepEqual(parsePortRange("90-80"), { error: "order" });
  });
});

describe("parsePortSpec", () => {
  const ports = (raw: string, nat: "0.4" | "0.5" = "0.4") => {
    const r = parsePortSpec(raw, nat);
    assert.ok(Array.isArray(r), `${raw}: ${JSON.stringify(r)}`);
    return r;
  };
  const error = (raw: string, nat: "0.4" | "0.5" = "0.4") => {
    const r = parsePortSpec(raw, nat);
    assert.ok(!Array.isArray(r), `${raw} was accepted`);
    return r.error;
  };

  it("reads EXPOSE's forms: a port, a protocol, a range, a mapping's container side", () => {
    const keys = (raws: string[]) => raws.flatMap((r) => ports(r).map((m) => m.port));
    assert.deepEqual(keys(["80", "8080/udp", "7000-7002/tcp"]), ["80/tcp", "8080/udp", "7000/tcp", "7001/tcp", "7002/tcp"]);
    assert.deepEqual(keys(["53/SCTP", "80/", "0080", "0", "65535"]), ["53/sctp", "80/tcp", "80/tcp", "0/tcp", "65535/tcp"]);
    // What dockerd 20.10 exposes for mappings: the container side only.
    assert.deepEqual(keys(["1.2.3.4:8080:80", "8080:80/UDP", "::80", ":80", "[::1]:80:80", "8080-8090:80", "1.2.3.4::80"]), [
      "80/tcp", "80/udp", "80/tcp", "80/tcp", "80/tcp", "80/tcp", "80/tcp",
    ]);
  });

  it("gives each mapping its host side, a host range for one container port staying a range", () => {
    assert.deepEqual(ports("127.0.0.1:9000-9001:90-91/udp"), [
      { port: "90/udp", hostIP: "127.0.0.1", hostPort: "9000" },
      { port: "91/udp", hostIP: "127.0.0.1", hostPort: "9001" },
    ]);
    assert.deepEqual(ports("8000-8010:80"), [{ port: "80/tcp", hostIP: "", hostPort: "8000-8010" }]);
    assert.deepEqual(ports("[::1]:82:82"), [{ port: "82/tcp", hostIP: "::1", hostPort: "82" }]);
  });

  it("refuses a bad spec with dockerd 20.10's message (go-connections 0.4)", () => {
    assert.equal(error("80a"), "Invalid containerPort: 80a");
    assert.equal(error("90-80"), "Invalid containerPort: 90-80");
    assert.equal(error("70000"), "Invalid containerPort: 70000");
    assert.equal(error("80/foo"), "Invalid proto: foo");
    assert.equal(error("/udp"), "No port specified: /udp<empty>");
    assert.equal(error("80:"), "No port specified: 80:<empty>");
    assert.equal(error("1.2.3.4:abc:80"), "Invalid hostPort: abc");
    assert.equal(error("8080-8081:80-82"), "Invalid ranges specified for container and host Ports: 80-82 and 8080-8081");
    assert.equal(error("a:b:80"), "Invalid ip address: a");
    assert.equal(error("300.1.1.1:80:80"), "Invalid ip address: 300.1.1.1");
    assert.equal(error("[::1:80:80"), "Invalid ip address [::1: address [::1:: missing ']' in address");
    assert.equal(error("::1:80:80"), "Invalid ip address ::1: address ::1:: too many colons in address");
    assert.equal(error("[::1]x:80:80"), "Invalid ip address [::1]x: address [::1]x:: missing port in address");
    assert.equal(error("a[b:80:80"), "Invalid ip address a[b: address a[b:: unexpected '[' in address");
    assert.equal(error("1.2.3.4]:80:80"), "Invalid ip address 1.2.3.4]: address 1.2.3.4]:: unexpected ']' in address");
  });

  it("reads the IP part and words errors as the docker CLI does (go-connections 0.5)", () => {
    assert.deepEqual(ports("::1:80:80", "0.5"), [{ port: "80/tcp", hostIP: "::1", hostPort: "80" }]);
    assert.equal(error("a[b:80:80", "0.5"), "invalid IP address: a[b");
    assert.equal(error("[::1:80:80", "0.5"), "invalid IP address [::1: address [::1:: missing ']' in address");
    assert.equal(error("80a", "0.5"), "invalid containerPort: 80a");
    assert.equal(error("80/foo", "0.5"), "invalid proto: foo");
    assert.equal(error("", "0.5"), "no port specified: <empty>");
  });
});
