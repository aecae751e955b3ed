import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { socketServed } from "./socket-owner.js";

test("socketServed: a missing socket, a server that answers, a listener that never does and goes", async (t) => {
  const dir = mkdtempSync("/tmp/pier-socket-owner-");
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, "s.sock");
  assert.equal(await socketServed(sock), false, "no socket file");

  const server = net.createServer((c) => c.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
  await new Promise<void>((r) => server.listen(sock, r));
  assert.equal(await socketServed(sock), true, "a server that answers");
  server.close();

  // Listens and never accepts, then exits: what a copy of a killed daemon's listener does.
  const left = path.join(dir, "left.sock");
  const holder = spawn("python3", ["-c", "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\nprint('ready',flush=True)\ntime.sleep(0.5)", left], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => holder.stdout!.once("data", r));
  assert.equal(await socketServed(left), false, "a listener that never answers and goes away");
});
