// Validates response bodies against the Docker Engine API spec (Swagger 2.0) with ajv.
// Go encodes nil maps, slices and pointers (*int64, *bool, …) as null, and Docker's own
// answers are full of them, so any typed value may be null here; a value that is present must
// have its type, its enum and its bounds.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { Ajv, type ValidateFunction } from "ajv";
import { ROOT } from "./harness.js";

const SPEC_PATH = process.env.PIER_API_SPEC ?? path.join(ROOT, "..", "shared", "reference", "docker-engine-api-v1.45.yaml");

type Schema = Record<string, unknown>;

function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== "object") return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node as Schema)) {
    if (k.startsWith("x-") || k === "example" || k === "discriminator") continue;
    if (k === "$ref" && typeof v === "string") {
      out.$ref = v.replace("#/definitions/", "spec#/definitions/");
      continue;
    }
    out[k] = k === "properties" || k === "definitions" ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, convert(s)])) : convert(v);
  }
  const t = out.type;
  if (typeof t === "string") {
    out.type = Array.isArray(t) ? t : [t, "null"];
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  }
  return out;
}

let ajv: Ajv | undefined;
let spec: Schema;

export function specAvailable(): boolean {
  try {
    readFileSync(SPEC_PATH);
    return true;
  } catch {
    return false;
  }
}

function load(): Ajv {
  if (ajv) return ajv;
  spec = parse(readFileSync(SPEC_PATH, "utf8")) as Schema;
  ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: "spec", definitions: convert(spec.definitions) as Schema });
  return ajv;
}

const cache = new Map<string, ValidateFunction>();

/** A validator for a definition name ("SystemInfo") or a path's 200 response ("GET /containers/{id}/json"). */
export function validator(name: string): ValidateFunction {
  const hit = cache.get(name);
  if (hit) return hit;
  const a = load();
  let schema: Schema;
  const m = /^(GET|POST|DELETE|PUT|HEAD) (\S+)(?: (\d+))?$/.exec(name);
  if (m) {
    const op = ((spec.paths as Schema)[m[2]!] as Schema)[m[1]!.toLowerCase()] as Schema;
    schema = convert(((op.responses as Schema)[m[3] ?? "200"] as Schema).schema) as Schema;
  } else {
    schema = { $ref: `spec#/definitions/${name}` };
  }
  const v = a.compile(schema);
  cache.set(name, v);
  return v;
}

/** Throws with ajv's errors when body does not match. */
export function assertMatchesSpec(name: string, body: unknown): void {
  const v = validator(name);
  if (!v(body)) {
    throw new Error(`response does not match ${name}:\n${JSON.stringify(v.errors?.slice(0, 10), null, 2)}`);
  }
}
