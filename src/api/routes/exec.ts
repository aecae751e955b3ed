import type { Duplex } from "node:stream";
import { invalidParameter } from "../../errdefs/index.js";
import type { ExecConfigRequest } from "../../container/index.js";
import { readBody, readJSON, sendJSON } from "../http.js";
import type { HijackCtx, Router } from "../router.js";
import type { Services } from "../services.js";

// Exec (`docker exec`): create, start (hijacked, or detached), inspect, resize; and the
// container tty's resize.

export function execRoutes(r: Router, s: Services): void {
  r.on("POST", "/containers/:id/exec", async ({ req, res, params }) => {
    const body = await readJSON<ExecConfigRequest>(req);
    if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
      throw invalidParameter("No exec command specified");
    }
    const out = s.containers.execs.create(params.id!, body);
    sendJSON(res, 201, out);
  });

  r.on("GET", "/exec/:id/json", ({ res, params }) => {
    sendJSON(res, 200, s.containers.execs.inspect(params.id!));
  });

  r.on("POST", "/exec/:id/resize", async ({ res, params, query }) => {
    const { h, w } = sizeParams(query);
    await s.containers.execs.resize(params.id!, h, w);
    res.writeHead(200, { "Content-Length": 0 });
    res.end();
  });

  r.on("POST", "/containers/:id/resize", async ({ res, params, query }) => {
    const { h, w } = sizeParams(query);
    await s.containers.execs.resizeContainer(params.id!, h, w);
    s.containers.emit(s.containers.get(params.id!), "resize", { height: String(h), width: String(w) });
    res.writeHead(200, { "Content-Length": 0 });
    res.end();
  });

  // Hijacked: the CLI sends Upgrade for an attached start; a detached start is a plain POST,
  // which the server also routes here (old-protocol hijack) and which gets a plain answer.
  r.onHijack("/exec/:id/start", async (ctx) => {
    const { body, rest } = await readHijackBody(ctx);
    let opts: { Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null } = {};
    if (body.length > 0) {
      try {
        opts = JSON.parse(body.toString("utf8")) ?? {};
      } catch (err) {
        throw invalidParameter(`invalid JSON: ${(err as Error).message}`);
      }
    }
    const id = ctx.params.id!;
    s.containers.execs.exists(id);
    const size = opts.ConsoleSize && opts.ConsoleSize.length === 2 && ctx.version >= 1.42 ? ([opts.ConsoleSize[0], opts.ConsoleSize[1]] as [number, number]) : undefined;
    if (opts.Detach) {
      await s.containers.execs.startDetached(id, size);
      ctx.socket.end(`HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    const raw = !!opts.Tty;
    writeHijackHead(ctx.socket, ctx.upgrade, raw ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
    await s.containers.execs.startAttached(id, { socket: ctx.socket, pending: rest, raw }, size);
  });
}

function sizeParams(query: URLSearchParams): { h: number; w: number } {
  const parse = (name: string) => {
    const v = query.get(name) ?? "";
    if (!/^\d+$/.test(v)) throw invalidParameter(`strconv.Atoi: parsing "${v}": invalid syntax`);
    return Number(v);
  };
  return { h: parse("h"), w: parse("w") };
}

export function writeHijackHead(socket: Duplex, upgrade: boolean, contentType: string): void {
  socket.write(
    upgrade
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.45\r\n\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nApi-Version: 1.45\r\n\r\n`,
  );
}

/**
 * The body of a hijacked request. Node hands an upgraded request over before its body: the
 * bytes after the headers are in `head` and then on the socket, Content-Length long or chunked.
 * Whatever follows the body is the client's first stdin (`rest`), never part of the body.
 */
export async function readHijackBody(ctx: HijackCtx): Promise<{ body: Buffer; rest: Buffer }> {
  if (!ctx.upgrade) {
    // Not upgraded: Node's HTTP parser still reads the body into the request.
    return { body: await readBody(ctx.req), rest: Buffer.alloc(0) };
  }
  const socket = ctx.socket;
  let buf = ctx.head;
  const more = () =>
    new Promise<boolean>((resolve) => {
      if (socket.readableEnded) return resolve(false);
      const onData = (d: Buffer) => {
        cleanup();
        socket.pause();
        buf = Buffer.concat([buf, d]);
        resolve(true);
      };
      const onEnd = () => {
        cleanup();
        resolve(false);
      };
      const cleanup = () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("close", onEnd);
      };
      socket.on("data", onData);
      socket.once("end", onEnd);
      socket.once("close", onEnd);
      socket.resume();
    });
  const te = String(ctx.req.headers["transfer-encoding"] ?? "").toLowerCase();
  if (te.includes("chunked")) {
    const parts: Buffer[] = [];
    for (;;) {
      let nl: number;
      while ((nl = buf.indexOf("\r\n")) < 0) if (!(await more())) throw invalidParameter("unexpected EOF in the request body");
      const size = parseInt(buf.subarray(0, nl).toString("latin1").split(";")[0]!.trim(), 16);
      if (!Number.isFinite(size)) throw invalidParameter("malformed chunked request body");
      if (size === 0) {
        // The last chunk: trailer lines, if any, then an empty line.
        let pos = nl + 2;
        for (;;) {
          let e: number;
          while ((e = buf.indexOf("\r\n", pos)) < 0) if (!(await more())) return { body: Buffer.concat(parts), rest: Buffer.alloc(0) };
          if (e === pos) return { body: Buffer.concat(parts), rest: buf.subarray(e + 2) };
          pos = e + 2;
        }
      }
      while (buf.length < nl + 2 + size + 2) if (!(await more())) throw invalidParameter("unexpected EOF in the request body");
      parts.push(buf.subarray(nl + 2, nl + 2 + size));
      buf = buf.subarray(nl + 2 + size + 2);
    }
  }
  const len = Number(ctx.req.headers["content-length"] ?? 0);
  if (!Number.isFinite(len) || len < 0) throw invalidParameter("bad Content-Length");
  while (buf.length < len) if (!(await more())) throw invalidParameter("unexpected EOF in the request body");
  return { body: buf.subarray(0, len), rest: buf.subarray(len) };
}
