import * as http from "node:http";
import type * as net from "node:net";
import { FastHttpServer } from "./fast-http.js";
import type { Logger } from "../lib/index.js";
import { API_VERSION, Router } from "./router.js";
import type { Services } from "./services.js";
import { systemRoutes } from "./routes/system.js";
import { containerRoutes } from "./routes/containers.js";
import { imageRoutes } from "./routes/images.js";
import { volumeRoutes } from "./routes/volumes.js";
import { networkRoutes } from "./routes/networks.js";
import { execRoutes } from "./routes/exec.js";
import { containerFileRoutes } from "./routes/container-files.js";
import { containerObserveRoutes } from "./routes/container-observe.js";
import { registerBuildRoutes } from "./routes/build.js";
import { notImplemented } from "../errdefs/index.js";

export function buildRouter(s: Services, log: Logger): Router {
  const r = new Router(log);
  systemRoutes(r, s);
  containerRoutes(r, s);
  containerFileRoutes(r, s);
  containerObserveRoutes(r, s);
  imageRoutes(r, s);
  volumeRoutes(r, s);
  networkRoutes(r, s);
  execRoutes(r, s);
  if (s.builder) registerBuildRoutes(r, { builder: s.builder });
  // No builder yet, so no build cache: pruning it (part of `docker system prune`) frees nothing.
  r.on("POST", "/build/prune", ({ res }) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ CachesDeleted: [], SpaceReclaimed: 0 }) + "\n");
  });
  // Never advertise BuildKit: clients then use the classic builder. Its endpoints say so.
  r.on(["GET", "POST"], "/session", () => {
    throw notImplemented("BuildKit sessions are not supported; the classic builder is used");
  });
  r.on(["GET", "POST"], "/grpc", () => {
    throw notImplemented("BuildKit is not supported; the classic builder is used");
  });
  return r;
}

/** Docker's headers, first on every answer of both paths, as one flat list. */
function dockerHeaders(s: Services): string[] {
  return ["Api-Version", API_VERSION, "Server", `Pier/${s.info.version} (linux)`, "Ostype", "linux", "Docker-Experimental", "false"];
}

/**
 * A response that carries Docker's headers (Api-Version, Server, Ostype, Docker-Experimental)
 * on every answer. They go in as one flat list with the route's own headers when the route
 * sets none by itself, the path Node writes without storing each header: setting four
 * headers per request took a fifth of /_ping's cost.
 */
function dockerResponseClass(docker: readonly string[]): typeof http.ServerResponse<http.IncomingMessage> {
  return class DockerResponse extends http.ServerResponse<http.IncomingMessage> {
    private headersSetOneByOne = false;

    override setHeader(name: string, value: number | string | readonly string[]): this {
      this.headersSetOneByOne = true;
      return super.setHeader(name, value);
    }

    override writeHead(statusCode: number, reasonOrHeaders?: string | http.OutgoingHttpHeaders | http.OutgoingHttpHeader[], maybeHeaders?: http.OutgoingHttpHeaders | http.OutgoingHttpHeader[]): this {
      const reason = typeof reasonOrHeaders === "string" ? reasonOrHeaders : undefined;
      const headers = typeof reasonOrHeaders === "string" ? maybeHeaders : reasonOrHeaders;
      if (this.headersSetOneByOne) {
        for (let i = 0; i < docker.length; i += 2) if (!this.hasHeader(docker[i]!)) super.setHeader(docker[i]!, docker[i + 1]!);
        return super.writeHead(statusCode, reason, headers);
      }
      const flat: http.OutgoingHttpHeader[] = docker.slice();
      if (Array.isArray(headers)) flat.push(...headers);
      else if (headers) for (const k in headers) if (headers[k] !== undefined) flat.push(k, headers[k] as http.OutgoingHttpHeader);
      return super.writeHead(statusCode, reason, flat);
    }
  };
}

/** What the daemon listens with; closeAllConnections ends every client's connection. */
export type ApiListener = net.Server & { closeAllConnections(): void };

export interface ApiServerOptions {
  /** Answer simple GETs of the hot routes before node:http (fast-http.ts); default true. */
  fastPath?: boolean;
  /** Called on every request (both paths) and upgrade: the daemon's idle timer. */
  onActivity?: () => void;
}

/**
 * The HTTP server behind the unix socket: Docker's headers on every answer, no idle cut-off.
 * With the fast path (the default) the listener is a FastHttpServer that hands node:http
 * every connection whose requests are not all simple GETs of fast routes.
 */
export function createApiServer(s: Services, log: Logger, opts: ApiServerOptions = {}): ApiListener {
  const router = buildRouter(s, log);
  const docker = dockerHeaders(s);
  const ServerResponse = dockerResponseClass(docker);
  const server = http.createServer({ ServerResponse }, (req, res) => {
    if (req.method === "POST" && router.findHijack(req.url ?? "")) {
      // An old client that hijacks without asking to upgrade: answer 200 and go raw.
      res.detachSocket(req.socket);
      void router.handleUpgrade(req, req.socket, Buffer.alloc(0), false);
      return;
    }
    void router.handle(req, res);
  });
  server.on("upgrade", (req, socket, head) => {
    void router.handleUpgrade(req, socket, head).then((handled) => {
      if (!handled) socket.end("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{\"message\":\"page not found\"}\n");
    });
  });
  // Clients keep connections open for long streams and long idle gaps; never time them out.
  server.keepAliveTimeout = 0;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.timeout = 0;
  if (opts.onActivity) {
    server.on("request", opts.onActivity);
    server.on("upgrade", opts.onActivity);
  }
  if (opts.fastPath === false) return server;
  return new FastHttpServer(server, { answer: (method, url) => router.answerFast(method, url), commonHeaders: docker, onRequest: opts.onActivity });
}
