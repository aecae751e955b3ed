import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { resolvConfText } from "./etcfiles.js";

describe("resolv.conf by Docker's rules", () => {
  const dir = mkdtempSync("/tmp/pier-resolv-");
  after(() => rmSync(dir, { recursive: true, force: true }));
  const host = (text: string) => {
    const f = path.join(dir, `r${Math.random()}`);
    writeFileSync(f, text);
    return f;
  };
  const none = { dns: [], dnsSearch: [], dnsOptions: [] };

  it("keeps the host's servers without loopback and IPv6 ones, with its search and options", async () => {
    const f = host("# comment\nsearch corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fe80::1\nnameserver 10.0.0.3\noptions edns0 trust-ad\n");
    assert.equal(await resolvConfText(none, f), "search corp.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions edns0 trust-ad\n");
  });

  it("falls back to Google's public DNS when only local servers are left", async () => {
    const f = host("nameserver 127.0.0.53\noptions edns0\n");
    assert.equal(await resolvConfText(none, f), "nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n");
    assert.equal(await resolvConfText(none, path.join(dir, "missing")), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  });

  it("puts --dns, --dns-search and --dns-option in place of the host's", async () => {
    const f = host("search a.example\nnameserver 10.0.0.2\noptions edns0\n");
    assert.equal(await resolvConfText({ dns: ["1.1.1.1"], dnsSearch: ["foo.com", "bar.com"], dnsOptions: ["attempts:2"] }, f), "search foo.com bar.com\nnameserver 1.1.1.1\noptions attempts:2\n");
  });

  it("names only the embedded server on a user network, with ndots:0 after the user's options", async () => {
    const f = host("search a.example\nnameserver 10.0.0.2\n");
    assert.equal(await resolvConfText({ ...none, embedded: "172.20.0.1" }, f), "search a.example\nnameserver 172.20.0.1\noptions ndots:0\n");
    assert.equal(await resolvConfText({ dns: ["1.1.1.1"], dnsSearch: [], dnsOptions: ["attempts:2"], embedded: "172.20.0.1" }, f), "search a.example\nnameserver 172.20.0.1\noptions attempts:2 ndots:0\n");
    assert.equal(await resolvConfText({ dns: [], dnsSearch: [], dnsOptions: ["ndots:3"], embedded: "172.20.0.1" }, f), "search a.example\nnameserver 172.20.0.1\noptions ndots:3\n");
  });
});
