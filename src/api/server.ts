import * as http from "node:http";
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

/** The HTTP server behind the unix socket: Docker's headers on every answer, no idle cut-off. */
export function createApiServer(s: Services, log: Logger): http.Server {
  const router = buildRouter(s, log);
  const serverHeader = `Pier/${s.info.version} (linux)`;
  const server = http.createServer((req, res) => {
    res.setHeader("Api-Version", API_VERSION);
    res.setHeader("Server", serverHeader);
    res.setHeader("Ostype", "linux");
    res.setHeader("Docker-Experimental", "false");
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
  return server;
}
