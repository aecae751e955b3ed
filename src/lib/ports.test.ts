import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { invalidPortBinding, parsePortRange, parsePortSpec } from "./ports.js";

describe("parsePortRange", () => {
  it("reads a port and a range, and says why other values are not one", () => {
    assert.deepEqual(parsePortRange("80"), { start: 80, end: 80 });
    assert.deepEqual(parsePortRange("8000-8010"), { start: 8000, end: 8010 });
    assert.deepEqual(parsePortRange("080-0"), { error: "order", detail: "invalid range specified for port: 080-0" });
    assert.deepEqual(parsePortRange("80a"), { error: "syntax", detail: 'strconv.ParseUint: parsing "80a": invalid syntax' });
    assert.deepEqual(parsePortRange(""), { error: "syntax", detail: "empty string specified for ports" });
    assert.deepEqual(parsePortRange("65536"), { error: "out of range", detail: 'strconv.ParseUint: parsing "65536": value out of range' });
    assert.deepEqual(parsePortRange("90-80"), { error: "order", detail: "invalid range specified for port: 90-80" });
  });

  it("reads only the first two parts of a range with more dashes, as nat does", () => {
    assert.deepEqual(parsePortRange("8000-8001-9"), { start: 8000, end: 8001 });
    assert.deepEqual(parsePortRange("80-81-x"), { start: 80, end: 81 });
    assert.deepEqual(parsePortRange("80-81-"), { start: 80, end: 81 });
    assert.deepEqual(parsePortRange("8000-8002-8001"), { start: 8000, end: 8002 });
    assert.deepEqual(parsePortRange("80-81-99999"), { start: 80, end: 81 });
    // An empty or bad part among the first two is still refused, the start's fault first.
    assert.deepEqual(parsePortRange("80-"), { error: "syntax", detail: 'strconv.ParseUint: parsing "": invalid syntax' });
    assert.deepEqual(parsePortRange("-80"), { error: "syntax", detail: 'strconv.ParseUint: parsing "": invalid syntax' });
    assert.deepEqual(parsePortRange("1--2"), { error: "syntax", detail: 'strconv.ParseUint: parsing "": invalid syntax' });
    assert.deepEqual(parsePortRange("99999-x"), { error: "out of range", detail: 'strconv.ParseUint: parsing "99999": value out of range' });
    assert.deepEqual(parsePortRange("x-99999"), { error: "syntax", detail: 'strconv.ParseUint: parsing "x": invalid syntax' });
    assert.deepEqual(parsePortRange("80-99999-1"), { error: "out of range", detail: 'strconv.ParseUint: parsing "99999": value out of range' });
    assert.deepEqual(parsePortRange("82-81-90"), { error: "order", detail: "invalid range specified for port: 82-81-90" });
    // strconv.ParseUint takes no sign and no spaces.
    assert.equal("error" in parsePortRange("+80"), true);
    assert.equal("error" in parsePortRange(" 80"), true);
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

  it("takes ranges with more dashes as nat does: the first two parts, the raw text in messages", () => {
    // Measured with docker CLI 28.2 (0.5) on -p and dockerd 20.10 (0.4) on --change EXPOSE.
    for (const nat of ["0.4", "0.5"] as const) {
      assert.deepEqual(ports("8000-8001-9:80-81", nat), [
        { port: "80/tcp", hostIP: "", hostPort: "8000" },
        { port: "81/tcp", hostIP: "", hostPort: "8001" },
      ]);
      assert.deepEqual(ports("127.0.0.1:8000-8001-8002:80-81", nat), [
        { port: "80/tcp", hostIP: "127.0.0.1", hostPort: "8000" },
        { port: "81/tcp", hostIP: "127.0.0.1", hostPort: "8001" },
      ]);
      assert.deepEqual(ports("80-81-82/udp", nat), [
        { port: "80/udp", hostIP: "", hostPort: "" },
        { port: "81/udp", hostIP: "", hostPort: "" },
      ]);
      // One container port with a host range: the range to pick from, rebuilt from its numbers.
      assert.deepEqual(ports("1-2-3:80", nat), [{ port: "80/tcp", hostIP: "", hostPort: "1-2" }]);
      assert.deepEqual(ports("80-81-:80", nat), [{ port: "80/tcp", hostIP: "", hostPort: "80-81" }]);
      assert.deepEqual(ports("8000-8001:80-81-x", nat), [
        { port: "80/tcp", hostIP: "", hostPort: "8000" },
        { port: "81/tcp", hostIP: "", hostPort: "8001" },
      ]);
    }
    assert.equal(error("8000:80-81-82", "0.5"), "invalid ranges specified for container and host Ports: 80-81-82 and 8000");
    assert.equal(error("8000:80-81-82"), "Invalid ranges specified for container and host Ports: 80-81-82 and 8000");
    assert.equal(error("-5:80", "0.5"), "invalid hostPort: -5");
    assert.equal(error("5-:80", "0.5"), "invalid hostPort: 5-");
    assert.equal(error("1--2:80", "0.5"), "invalid hostPort: 1--2");
    assert.equal(error("5-3:80", "0.5"), "invalid hostPort: 5-3");
    assert.equal(error("80--81", "0.5"), "invalid containerPort: 80--81");
    assert.equal(error("80--81"), "Invalid containerPort: 80--81");
    assert.equal(error("80-", "0.5"), "invalid containerPort: 80-");
    assert.equal(error("80-70000", "0.5"), "invalid containerPort: 80-70000");
    assert.equal(error(" 80", "0.5"), "invalid containerPort:  80");
    assert.deepEqual(ports("0-0:80", "0.5"), [{ port: "80/tcp", hostIP: "", hostPort: "0" }]);
    assert.deepEqual(ports("080:80", "0.5"), [{ port: "80/tcp", hostIP: "", hostPort: "80" }]);
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

describe("invalidPortBinding", () => {
  it("refuses what dockerd 20.10 refuses at create, in its words", () => {
    const bad = (key: string, hostPort?: string) => invalidPortBinding({ [key]: [hostPort === undefined ? {} : { HostPort: hostPort }] });
    // Measured: POST /containers/create answered 400 with these messages.
    for (const hp of ["x", "5-3", "-5", "5-", "1--2", "70000", " 80"]) assert.equal(bad("80/tcp", hp), `invalid port specification: "${hp}"`);
    assert.equal(bad("80-81/tcp", "8000"), 'invalid port specification: "80-81"');
    assert.equal(bad("80-81-82/tcp", "8000"), 'invalid port specification: "80-81-82"');
    assert.equal(bad("x/tcp", "8000"), 'invalid port specification: "x"');
    assert.equal(bad("80/tcp", "x/udp"), 'invalid port specification: "x/udp"');
    // ...and accepted these (a third part of a range is ignored; the protocol is not checked here).
    for (const [key, hp] of [["80/tcp", "8000-8001-9"], ["80/tcp", "1-2-3"], ["80/tcp", "0"], ["80/tcp", ""], ["80/xyz", "8000"], ["080/tcp", "8000"], ["80/tcp", undefined], ["80/tcp", "8000/udp"]] as const) {
      assert.equal(bad(key, hp), undefined, `${key} ${hp}`);
    }
    assert.equal(invalidPortBinding({ "80/tcp": null }), undefined);
    assert.equal(invalidPortBinding(null), undefined);
  });
});
