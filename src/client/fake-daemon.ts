// A tiny stand-in daemon on a temporary unix socket, for tests of the client and the CLI that
// must not need a real engine. Each request is recorded; a handler answers it.

import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { Duplex } from "node:stream";
import { tmpdir } from "node:os";
import path from "node:path";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  /** Send these chunks with a delay between them (streams). */
  chunks?: Array<string | Buffer>;
}

export type FakeHandler = (req: RecordedRequest) => FakeReply | Promise<FakeReply>;
export type FakeUpgradeHandler = (req: RecordedRequest, socket: Duplex) => void;

export interface FakeDaemon {
  host: string;
  socketPath: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeDaemon(handler: FakeHandler, onUpgrade?: FakeUpgradeHandler): Promise<FakeDaemon> {
  const dir = mkdtempSync(path.join(tmpdir(), "pier-fake-"));
  const socketPath = path.join(dir, "d.sock");
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const rec: RecordedRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(rec);
      if (rec.url === "/_ping") {
        res.writeHead(200, { "Api-Version": "1.45", "Content-Type": "text/plain" });
        res.end("OK");
        return;
      }
      const reply = await handler(rec);
      const headers: Record<string, string> = { ...reply.headers };
      if (reply.json !== undefined) headers["Content-Type"] ??= "application/json";
      res.writeHead(reply.status ?? 200, headers);
      if (reply.chunks) {
        for (const c of reply.chunks) {
          res.write(c);
          await new Promise((r) => setTimeout(r, 5));
        }
        res.end();
      } else if (reply.json !== undefined) res.end(JSON.stringify(reply.json));
      else res.end(reply.text ?? "");
    });
  });
  server.on("upgrade", (req, socket: Duplex) => {
    const rec: RecordedRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" };
    requests.push(rec);
    if (!onUpgrade) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{\"message\":\"page not found\"}\n");
      return;
    }
    onUpgrade(rec, socket);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    host: `unix://${socketPath}`,
    socketPath,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

/** The 101 answer of a hijacked attach. */
export function upgradeResponse(tty: boolean): string {
  const type = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
  return `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`;
}
