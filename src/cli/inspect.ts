// `inspect` for every object kind: the daemon's JSON re-indented with 4 spaces like Go's
// json.Indent (string literals kept byte for byte), or a --format template per object.

import { ApiError } from "../client/index.js";
import { isKind } from "../errdefs/index.js";
import { CliContext, StatusError, describeError } from "./cli-context.js";
import { Template, TemplateError } from "./template.js";

/** Go's json.Indent(dst, src, prefix "", indent). */
export function indentJSON(src: string, indent = "    "): string {
  let out = "";
  let depth = 0;
  let needIndent = false;
  const newline = () => "\n" + indent.repeat(depth);
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") continue;
    if (needIndent && c !== "]" && c !== "}") {
      needIndent = false;
      out += newline();
    }
    switch (c) {
      case '"': {
        let j = i + 1;
        while (j < src.length && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
        out += src.slice(i, j + 1);
        i = j;
        break;
      }
      case "{":
      case "[":
        out += c;
        depth++;
        needIndent = true;
        break;
      case ",":
        out += c + newline();
        break;
      case ":":
        out += ": ";
        break;
      case "}":
      case "]":
        if (needIndent) {
          needIndent = false;
          depth--;
        } else {
          depth--;
          out += newline();
        }
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

export interface Inspected {
  value: unknown;
  raw: string;
}

/** Fetch one object; null when it does not exist (the caller words the message). */
export type InspectFetcher = (ref: string) => Promise<Inspected>;

/**
 * inspect.Inspect: print what was found (JSON array or one template result per object), then
 * the errors, exiting 1 if there were any.
 */
export async function runInspect(cli: CliContext, refs: readonly string[], format: string | undefined, fetch: InspectFetcher): Promise<void> {
  const errors: string[] = [];
  const found: Inspected[] = [];
  let tmpl: Template | undefined;
  if (format && format !== "") {
    const source = format === "json" ? "{{json .}}" : format;
    try {
      tmpl = new Template(source);
    } catch (err) {
      // docker's inspect: a format that does not parse is exit 64 (EX_USAGE).
      throw new StatusError(64, `template parsing error: ${(err as Error).message}`);
    }
  }
  for (const ref of refs) {
    try {
      const item = await fetch(ref);
      if (tmpl) {
        try {
          cli.out(tmpl.execute(item.value, { missingKey: "error" }) + "\n");
        } catch (err) {
          if (err instanceof TemplateError) {
            cli.out("\n");
            throw new StatusError(1, `template parsing error: ${err.message}`);
          }
          throw err;
        }
      } else {
        found.push(item);
      }
    } catch (err) {
      if (err instanceof StatusError) throw err;
      errors.push(describeError(err));
    }
  }
  if (!tmpl) {
    cli.out(found.length === 0 ? "[]\n" : indentJSON(`[${found.map((f) => f.raw.trim()).join(",")}]`) + "\n");
  }
  if (errors.length) throw new StatusError(1, errors.join("\n"));
}

export type ObjectType = "container" | "image" | "volume" | "network";
/** Kinds `inspect --type` accepts that only a swarm or plugin daemon has: asked for all the same. */
export type OtherObjectType = "config" | "node" | "plugin" | "secret" | "service" | "task";
const OTHER_PATHS: Record<OtherObjectType, (ref: string) => string> = {
  config: (ref) => `/configs/${encodeURIComponent(ref)}`,
  node: (ref) => `/nodes/${encodeURIComponent(ref)}`,
  plugin: (ref) => `/plugins/${encodePathName(ref)}/json`,
  secret: (ref) => `/secrets/${encodeURIComponent(ref)}`,
  service: (ref) => `/services/${encodeURIComponent(ref)}`,
  task: (ref) => `/tasks/${encodeURIComponent(ref)}`,
};
export const INSPECT_TYPES = ["config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"];

/** Fetchers for each object kind. */
export function inspectFetchers(cli: CliContext, options: { size?: boolean } = {}): Record<ObjectType, InspectFetcher> {
  const c = () => cli.client;
  const get = (path: string, query?: Record<string, string | boolean | undefined>) => c().jsonWithRaw("GET", path, { query });
  return {
    container: (ref) => get(`/containers/${encodeURIComponent(ref)}/json`, { size: options.size ? true : undefined }),
    image: (ref) => get(`/images/${encodePathName(ref)}/json`),
    volume: (ref) => get(`/volumes/${encodeURIComponent(ref)}`),
    network: (ref) => get(`/networks/${encodeURIComponent(ref)}`),
  };
}

/** Image names keep their slashes and colons in the path (the daemon routes by suffix). */
export function encodePathName(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/").replace(/%3A/g, ":").replace(/%40/g, "@");
}

/** `pier inspect`: try each kind in Docker's order; "Error: No such object: x" when none has it. */
export function anyObjectFetcher(cli: CliContext, type: ObjectType | OtherObjectType | undefined, size: boolean): InspectFetcher {
  if (type && type in OTHER_PATHS) {
    const path = OTHER_PATHS[type as OtherObjectType];
    return (ref) => cli.client.jsonWithRaw("GET", path(ref));
  }
  const fetchers = inspectFetchers(cli, { size });
  const order: ObjectType[] = type ? [type as ObjectType] : ["container", "image", "network", "volume"];
  return async (ref) => {
    for (const kind of order) {
      try {
        return await fetchers[kind](ref);
      } catch (err) {
        if (type) throw err;
        if (err instanceof ApiError && isKind(err, "NotFound")) continue;
        if (err instanceof ApiError && err.status === 400 && kind === "image") continue;
        throw err;
      }
    }
    throw new Error(`Error: No such object: ${ref}`);
  };
}
