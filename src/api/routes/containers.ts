import type { Duplex } from "node:stream";
import { invalidParameter, notImplemented, PierError } from "../../errdefs/index.js";
import { parseTimestampNs } from "../../lib/index.js";
import { DEFAULT_LOG_CONFIG, LogEncoder, LogFollower, attachBypassesLog, detailsPrefix, logAttributes, type LogInfo, inWindow, logEnd, streamLog, inspectView, parseDetachKeys, parseRFC3339Ns, readLog, summaryView, type ContainerRecord, type LogPosition, type LogReadOptions, type WaitCondition, type CreateRequest } from "../../container/index.js";
import { boolParam, checkFilterKeys, filtersParam, intParam, jsonReply, readJSON, sendJSON, sendNoContent } from "../http.js";
import type { Router, HijackCtx } from "../router.js";
import type { Services } from "../services.js";
import { containerFilter } from "./filters.js";
import { publishPrune } from "./prune-event.js";

const WAIT_CONDITIONS = new Set(["not-running", "next-exit", "removed"]);

/**
 * Creation times, parsed once per record: every list sorts by them (parsing 50 of them was
 * ~6% of a list's cost). A container's Created never changes; a record dropped is forgotten.
 */
const createdTimes = new WeakMap<ContainerRecord, bigint>();
function createdNs(c: ContainerRecord): bigint {
  let t = createdTimes.get(c);
  if (t === undefined) createdTimes.set(c, (t = parseRFC3339Ns(c.Created)));
  return t;
}

export function containerRoutes(r: Router, s: Services): void {
  const imageSize = (imageID: string) => s.images.resolve(imageID).size;

  r.on("POST", "/containers/create", async ({ req, res, query, version }) => {
    const body = await readJSON<Record<string, unknown>>(req);
    if (body === undefined) throw invalidParameter("invalid JSON: got EOF while reading request body");
    if (body === null) throw invalidParameter("config cannot be empty in order to create a container");
    if (typeof body !== "object" || Array.isArray(body)) {
      throw invalidParameter(`invalid JSON: json: cannot unmarshal ${Array.isArray(body) ? "array" : typeof body === "boolean" ? "bool" : typeof body} into Go value of type runconfig.ContainerConfigWrapper`);
    }
    const { HostConfig, NetworkingConfig, ...config } = body;
    // StartInterval came with API 1.44: older clients' values are dropped, as moby does.
    const health = config.Healthcheck as Record<string, unknown> | null | undefined;
    if (version < 1.44 && health && typeof health === "object") delete health.StartInterval;
    const out = await s.containers.create({ name: query.get("name") ?? undefined, config: config as CreateRequest["config"], hostConfig: (HostConfig ?? {}) as CreateRequest["hostConfig"], endpointsConfig: (NetworkingConfig as { EndpointsConfig?: CreateRequest["endpointsConfig"] } | null)?.EndpointsConfig, platform: (version >= 1.41 && query.get("platform")) || undefined });
    sendJSON(res, 201, out);
  });

  r.onFast("GET", "/containers/json", ({ query }) => {
    const filters = filtersParam(query);
    checkFilterKeys(filters, ["id", "name", "label", "status", "ancestor", "exited", "before", "since", "volume", "network", "health", "isolation", "is-task", "publish", "expose"]);
    const all = boolParam(query, "all");
    const limit = intParam(query, "limit") ?? -1;
    const match = containerFilter(filters, s);
    // A restarting container counts as running (moby lists it without all=1).
    let list = s.containers.all().filter((c) => (all || limit > 0 || filters.status !== undefined || c.State.Running || c.State.Restarting) && match(c));
    list.sort((a, b) => { const x = createdNs(a), y = createdNs(b); return x < y ? 1 : x > y ? -1 : 0; });
    if (limit > 0) list = list.slice(0, limit);
    const now = Date.now();
    const size = boolParam(query, "size");
    return jsonReply(200, list.map((c) => summaryView(c, c.Config.Image ?? "", s.networks, now, size ? s.containers.sizes(c, imageSize) : undefined)));
  });

  r.onFast("GET", "/containers/:id/json", ({ params, query, version }) => {
    const c = s.containers.get(params.id!);
    const view = inspectView(c, s.networks, (id) => s.containers.find(id), {
      version,
      graphDriverData: s.containers.graphDriverData(c),
      sizes: boolParam(query, "size") ? s.containers.sizes(c, imageSize) : undefined,
    });
    // ExecIDs: the running exec sessions, which only the exec manager knows.
    return jsonReply(200, { ...view, ExecIDs: s.containers.execs.idsFor(c.Id) });
  });

  r.on("POST", "/containers/:id/start", async ({ res, params }) => {
    await s.containers.start(params.id!);
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/stop", async ({ res, params, query }) => {
    await s.containers.stop(params.id!, { timeout: intParam(query, "t"), signal: query.get("signal") ?? undefined });
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/restart", async ({ res, params, query }) => {
    await s.containers.restart(params.id!, { timeout: intParam(query, "t"), signal: query.get("signal") ?? undefined });
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/kill", async ({ res, params, query }) => {
    try {
      await s.containers.kill(params.id!, query.get("signal") || "SIGKILL");
    } catch (err) {
      // moby wraps every kill error, keeping its kind (status).
      if (err instanceof PierError) throw new PierError(err.kind, `cannot kill container: ${params.id!}: ${err.message}`);
      throw err;
    }
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/rename", async ({ res, params, query }) => {
    await s.containers.rename(params.id!, query.get("name") ?? "");
    sendNoContent(res);
  });

  r.on("DELETE", "/containers/:id", async ({ res, params, query }) => {
    await s.containers.remove(params.id!, { force: boolParam(query, "force"), removeVolumes: boolParam(query, "v") });
    sendNoContent(res);
  });

  r.on("POST", "/containers/:id/wait", async ({ res, params, query }) => {
    const condition = (query.get("condition") || "not-running") as WaitCondition;
    if (!WAIT_CONDITIONS.has(condition)) throw invalidParameter(`invalid condition: "${condition}"`);
    // Register before answering: `docker run` starts the container right after the headers.
    const result = s.containers.wait(params.id!, condition);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    const out = await result;
    res.end(JSON.stringify(out) + "\n");
  });

  r.on("POST", "/containers/prune", async ({ res, query }) => {
    const filters = filtersParam(query);
    checkFilterKeys(filters, ["until", "label", "label!"]);
    const out = await s.containers.prune(containerFilter(filters, s));
    publishPrune(s, "container", out.SpaceReclaimed);
    sendJSON(res, 200, out);
  });

  r.on("GET", "/containers/:id/logs", async ({ req, res, params, query }) => {
    const c = s.containers.get(params.id!);
    const o = logOptions(query, c);
    if (!o.stdout && !o.stderr) throw invalidParameter("Bad parameters: you must choose at least one stream");
    // The none driver keeps no log (moby's ErrReadLogsNotSupported).
    if (c.HostConfig.LogConfig?.Type === "none") throw notImplemented("configured logging driver does not support reading");
    const follow = boolParam(query, "follow");
    res.writeHead(200, { "Content-Type": o.tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream" });
    const enc = new LogEncoder(o);
    let offset: LogPosition;
    if (o.tail !== undefined) {
      const past = await readLog(c.LogPath, o);
      if (past.records.length) res.write(enc.encode(past.records));
      offset = past.offset;
    } else {
      // Without tail the file is streamed in chunks, so the client reads while pierd parses.
      offset = await streamLog(c.LogPath, o, enc, (b) => {
        if (res.destroyed) return Promise.reject(new Error("client went away"));
        if (res.write(b)) return Promise.resolve();
        return new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }).catch((err) => {
        if (res.destroyed) return { offset: 0 };
        throw err;
      });
      if (res.destroyed) return;
    }
    const cur = s.containers.find(c.Id);
    if (!follow || !cur?.State.Running) {
      res.end(enc.flush());
      return;
    }
    res.flushHeaders();
    const follower = new LogFollower(c.LogPath, offset, (recs) => {
      const sel = o.untilNs !== undefined ? recs.filter((r) => inWindow(r, o)) : recs;
      if (sel.length) res.write(enc.encode(sel));
    });
    follower.start();
    const finish = () => {
      follower.stop().finally(() => res.end(enc.flush()));
    };
    const off = s.containers.onExit(c.Id, finish);
    req.socket.once("close", () => {
      off();
      follower.close();
    });
  });

  r.onHijack("/containers/:id/attach", (ctx) => attach(ctx, s));
}

function logOptions(query: URLSearchParams, c: ContainerRecord): LogReadOptions {
  const tailRaw = query.get("tail");
  let tail: number | undefined;
  if (tailRaw && tailRaw !== "all") {
    tail = Number(tailRaw);
    if (!Number.isInteger(tail) || tail < 0) tail = undefined; // Docker treats bad tail as all
  }
  const since = query.get("since");
  const until = query.get("until");
  // To the nanosecond: the CLI sends seconds with nine digits, and lines a millisecond apart differ.
  const sinceNs = since && since !== "0" ? parseTimestampNs(since) : undefined;
  const untilNs = until && until !== "0" ? parseTimestampNs(until) : undefined;
  if (since && since !== "0" && sinceNs === undefined) throw invalidParameter(`invalid value for "since": ${since}`);
  if (until && until !== "0" && untilNs === undefined) throw invalidParameter(`invalid value for "until": ${until}`);
  return {
    stdout: boolParam(query, "stdout"),
    stderr: boolParam(query, "stderr"),
    timestamps: boolParam(query, "timestamps"),
    tail,
    sinceNs,
    untilNs,
    tty: !!c.Config.Tty,
    details: boolParam(query, "details") ? detailsPrefix(logAttributes(c.HostConfig.LogConfig ?? DEFAULT_LOG_CONFIG, logInfo(c))) : undefined,
  };
}

/** What a container's log attributes are made of (moby's logger.Info of the container). */
function logInfo(c: ContainerRecord): LogInfo {
  return {
    id: c.Id,
    name: c.Name,
    imageId: c.Image,
    imageName: c.Config.Image ?? "",
    entrypoint: c.Path,
    args: c.Args,
    labels: c.Config.Labels ?? {},
    env: c.Config.Env ?? [],
  };
}

/**
 * Attach without stdin: the container's output from now on (and its past output with
 * logs=1), ending when the container exits. Output is read from the monitor's log, which holds
 * everything the container wrote, so an attach made before start misses nothing.
 */
async function attach(ctx: HijackCtx, s: Services): Promise<void> {
  const { socket, query, params } = ctx;
  const c = s.containers.get(params.id!);
  const streamOut = boolParam(query, "stdout");
  const streamErr = boolParam(query, "stderr");
  // With stdin (to a container that keeps one open) the streams go through the monitor's attach
  // socket; otherwise the output is read from the log, so nothing of a quick run is missed. A
  // container with no log, or one that rotates, is always attached through the socket.
  const withStdin = boolParam(query, "stdin") && !!c.Config.OpenStdin;
  const noLog = c.HostConfig.LogConfig?.Type === "none";
  const interactive = (withStdin || attachBypassesLog(c.HostConfig.LogConfig)) && boolParam(query, "stream");
  const detachKeys = query.get("detachKeys") ?? "";
  if (interactive) parseDetachKeys(detachKeys); // bad keys are a 400, before the hijack
  s.containers.emit(c, "attach");
  const o: LogReadOptions = { stdout: streamOut, stderr: streamErr, timestamps: false, tty: !!c.Config.Tty };
  const contentType = c.Config.Tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
  writeUpgradeHead(socket, ctx.upgrade, contentType);
  const enc = new LogEncoder(o);
  const send = (b: Buffer) => {
    if (b.length && !socket.destroyed) socket.write(b);
  };
  let offset: LogPosition = { offset: 0 };
  if (boolParam(query, "logs") && !noLog) {
    const past = await readLog(c.LogPath, o);
    send(enc.encode(past.records));
    offset = past.offset;
  } else {
    offset = await logEnd(c.LogPath);
  }
  if (!boolParam(query, "stream")) {
    socket.end(enc.flush());
    return;
  }
  if (interactive) {
    send(enc.flush());
    await s.containers.execs.attach(c, { socket, pending: ctx.head, stdin: withStdin, stdout: streamOut, stderr: streamErr, detachKeys });
    return;
  }
  const follower = new LogFollower(c.LogPath, offset, (recs) => send(enc.encode(recs)));
  follower.start();
  const done = (c.State.Running ? new Promise<unknown>((r) => s.containers.onExit(c.Id, () => r(undefined))) : s.containers.wait(c.Id, "next-exit"));
  socket.on("error", () => follower.close());
  socket.on("close", () => follower.close());
  await done;
  await follower.stop();
  if (!socket.destroyed) socket.end(enc.flush());
}

function writeUpgradeHead(socket: Duplex, upgrade: boolean, contentType: string): void {
  socket.write(
    upgrade
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
}
