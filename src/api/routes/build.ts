import { invalidParameter, notImplemented } from "../../errdefs/index.js";
import { Builder, type BuildRequest } from "../../builder/index.js";
import { messageOf } from "../errors.js";
import { boolParam, intParam, startJSONStream } from "../http.js";
import type { Router } from "../router.js";

export interface BuildRouteDeps {
  builder: Builder;
}

function jsonParam<T>(q: URLSearchParams, name: string): T | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw invalidParameter(`invalid ${name} value: ${raw}`);
  }
}

function stringMap(v: unknown, name: string, allowNull: boolean): Record<string, string | null> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidParameter(`${name} must be a JSON object`);
  const out: Record<string, string | null> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === null && allowNull) out[k] = null;
    else if (typeof x === "string") out[k] = x;
    else throw invalidParameter(`${name}: the value of ${k} must be a string`);
  }
  return out;
}

/** The classic builder's query parameters → a BuildRequest (errors here are 400s). */
export function buildRequestFromQuery(q: URLSearchParams): BuildRequest {
  if (q.get("remote")) throw notImplemented("building from a remote context (git or URL) is not supported by this pierd; send the context as a tar");
  if (q.get("version") === "2") throw notImplemented("BuildKit is not supported by this pierd; use the classic builder (DOCKER_BUILDKIT=0)");
  const extraHosts: string[] = [];
  for (const v of q.getAll("extrahosts")) for (const h of v.split(",")) if (h.trim()) extraHosts.push(h.trim());
  const req: BuildRequest = {
    dockerfile: q.get("dockerfile") || undefined,
    tags: q.getAll("t").filter((t) => t !== ""),
    buildArgs: stringMap(jsonParam(q, "buildargs"), "buildargs", true),
    labels: stringMap(jsonParam(q, "labels"), "labels", false) as Record<string, string>,
    target: q.get("target") || undefined,
    noCache: boolParam(q, "nocache"),
    pull: boolParam(q, "pull"),
    remove: boolParam(q, "rm", true),
    forceRemove: boolParam(q, "forcerm"),
    networkMode: q.get("networkmode") || undefined,
    extraHosts: extraHosts.length ? extraHosts : undefined,
    shmSize: intParam(q, "shmsize") || undefined,
    memory: intParam(q, "memory") || undefined,
    memorySwap: intParam(q, "memswap") || undefined,
    cpuShares: intParam(q, "cpushares") || undefined,
    cpuSetCpus: q.get("cpusetcpus") || undefined,
    cpuSetMems: q.get("cpusetmems") || undefined,
    cpuPeriod: intParam(q, "cpuperiod") || undefined,
    cpuQuota: intParam(q, "cpuquota") || undefined,
    platform: q.get("platform") || undefined,
  };
  const cacheFrom = jsonParam<unknown>(q, "cachefrom");
  if (cacheFrom !== undefined && (!Array.isArray(cacheFrom) || !cacheFrom.every((x) => typeof x === "string"))) throw invalidParameter("cachefrom must be a JSON array of strings");
  if (cacheFrom) req.cacheFrom = (cacheFrom as string[]).filter((x) => x !== "");
  return req;
}

/** POST /build: Docker's classic builder protocol, JSON lines out, errors inside the stream. */
export function registerBuildRoutes(r: Router, deps: BuildRouteDeps): void {
  r.on("POST", "/build", async ({ req, res, query }) => {
    const buildReq = buildRequestFromQuery(query);
    Builder.validate(buildReq);
    const quiet = boolParam(query, "q");
    const send = startJSONStream(res);
    const buffered: unknown[] = [];
    const stream = (text: string) => {
      if (quiet) buffered.push({ stream: text });
      else send({ stream: text });
    };
    // The client may go away mid-build; the build still finishes (and is cached).
    try {
      const result = await deps.builder.build(req, buildReq, { stream, aux: (value) => send({ aux: value }) });
      if (quiet) send({ stream: `${result.imageID}\n` });
      res.end();
    } catch (err) {
      if (req.readable) req.resume();
      for (const b of buffered) send(b);
      const message = messageOf(err);
      const code = (err as { code?: unknown }).code;
      const detail = typeof code === "number" ? { code, message } : { message };
      send({ errorDetail: detail, error: message });
      res.end();
    }
  });
}
