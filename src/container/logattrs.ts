import { hostname } from "node:os";
import type { LogConfig } from "./logconfig.js";

// The attributes json-file gives each log line (moby logger.Info.ExtraAttributes, plus "tag"):
// the labels and environment variables the `labels`, `labels-regex`, `env` and `env-regex` options
// name, and the `tag` template's value. `docker logs --details` prints them before each line as
// `k=v,k2=v2 ` (keys sorted, both query-escaped, as moby's attrsByteSlice).
//
// dockerd writes them into every line of the file; their inputs (labels, env, the log options)
// cannot change after create, so Pier works them out from the container when the log is read
// instead of repeating them on every line its monitor writes. (One difference: dockerd's tag
// keeps the name the container had when it started; Pier's the name it has.)

/** What the attributes are made of: the parts of a container logger.Info reads. */
export interface LogInfo {
  id: string;
  /** With its leading "/", as dockerd keeps it. */
  name: string;
  imageId: string;
  imageName: string;
  entrypoint: string;
  args: string[];
  labels: Record<string, string>;
  env: string[];
}

/** The attributes of a container's log lines; none for local and none (they take no such options). */
export function logAttributes(lc: LogConfig, info: LogInfo): Record<string, string> {
  if (lc.Type !== "json-file") return {};
  const cfg = lc.Config;
  const extra: Record<string, string> = {};
  if (cfg.labels) {
    for (const l of cfg.labels.split(",")) if (Object.hasOwn(info.labels, l)) extra[l] = info.labels[l]!;
  }
  if (cfg["labels-regex"]) {
    const re = new RegExp(cfg["labels-regex"]);
    for (const [k, v] of Object.entries(info.labels)) if (re.test(k)) extra[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of info.env) {
    const eq = e.indexOf("=");
    if (eq >= 0) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  if (cfg.env) {
    for (const k of cfg.env.split(",")) if (env.has(k)) extra[k] = env.get(k)!;
  }
  if (cfg["env-regex"]) {
    const re = new RegExp(cfg["env-regex"]);
    for (const [k, v] of env) if (re.test(k)) extra[k] = v;
  }
  // No default template: a tag only when the user asked for one (jsonfilelog.New).
  if (cfg.tag) {
    const tag = expandTag(parseTagTemplate(cfg.tag), info);
    if (tag !== "") extra.tag = tag;
  }
  return extra;
}

/** The `--details` prefix of every line: `k=v,k2=v2 ` (just a space when there are none). */
export function detailsPrefix(attrs: Record<string, string>): Buffer {
  const keys = Object.keys(attrs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(keys.map((k) => `${queryEscape(k)}=${queryEscape(attrs[k]!)}`).join(",") + " ");
}

/** Go's url.QueryEscape: all but A-Z a-z 0-9 - _ . ~ as %XX of each UTF-8 byte, a space as "+". */
export function queryEscape(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (b === 0x20) out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

// ---------------------------------------------------------------- tag templates

/**
 * A tag template is Go text/template over moby's logger.Info. Pier takes text and actions of one
 * field (`{{.Name}}`), optionally through one of Docker's case functions (`{{upper .Name}}`):
 * what tags are made of. Anything else is refused when the container starts, never expanded wrongly.
 */
type TagPart = string | { field: string; fn?: "upper" | "lower" | "title" };

/** The fields and methods of logger.Info a tag may name, as strings. */
const TAG_FIELDS: Record<string, (i: LogInfo) => string> = {
  ID: (i) => i.id.slice(0, 12),
  FullID: (i) => i.id,
  ContainerID: (i) => i.id,
  Name: (i) => i.name.replace(/^\//, ""),
  ContainerName: (i) => i.name,
  ImageID: (i) => i.imageId.slice(0, 12),
  ImageFullID: (i) => i.imageId,
  ContainerImageID: (i) => i.imageId,
  ImageName: (i) => i.imageName,
  ContainerImageName: (i) => i.imageName,
  ContainerEntrypoint: (i) => i.entrypoint,
  Command: (i) => [i.entrypoint, ...i.args].join(" "),
  DaemonName: () => "docker",
  Hostname: () => hostname(),
};

export class TagTemplateError extends Error {}

/** Parse a tag template; errors in text/template's words ("template: log-tag:1: …"). */
export function parseTagTemplate(src: string): TagPart[] {
  const parts: TagPart[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      parts.push(src.slice(i));
      break;
    }
    if (open > i) parts.push(src.slice(i, open));
    const close = src.indexOf("}}", open + 2);
    const line = src.slice(0, open).split("\n").length;
    if (close < 0) throw new TagTemplateError(`template: log-tag:${line}: unclosed action`);
    let body = src.slice(open + 2, close);
    let bodyAt = open + 2;
    // Trim markers: "{{- " and " -}}" drop the spaces of the text beside them.
    if (/^-\s/.test(body)) {
      body = body.slice(1);
      bodyAt++;
      const prev = parts[parts.length - 1];
      if (typeof prev === "string") parts[parts.length - 1] = prev.replace(/\s+$/, "");
    }
    let trimAfter = false;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      trimAfter = true;
    }
    const lead = body.length - body.trimStart().length;
    const col = bodyAt + lead - (src.lastIndexOf("\n", open) + 1);
    const words = body.trim().split(/\s+/).filter(Boolean);
    const where = `template: log-tag:${line}:${col}`;
    if (words.length === 1 && /^\.[A-Za-z_]\w*$/.test(words[0]!)) {
      parts.push({ field: fieldOf(words[0]!, where) });
    } else if (words.length === 2 && /^(upper|lower|title)$/.test(words[0]!) && /^\.[A-Za-z_]\w*$/.test(words[1]!)) {
      parts.push({ field: fieldOf(words[1]!, where), fn: words[0] as "upper" | "lower" | "title" });
    } else if (words.length === 0) {
      throw new TagTemplateError(`template: log-tag:${line}: missing value for command`);
    } else {
      throw new TagTemplateError(`tag template {{${body}}} is not supported by Pier: a tag takes text and {{.Field}} or {{upper|lower|title .Field}}`);
    }
    i = close + 2;
    if (trimAfter) while (i < src.length && /\s/.test(src[i]!)) i++;
  }
  return parts;
}

function fieldOf(word: string, where: string): string {
  const name = word.slice(1);
  if (!Object.hasOwn(TAG_FIELDS, name)) throw new TagTemplateError(`${where}: executing "log-tag" at <${word}>: can't evaluate field ${name} in type *logger.Info`);
  return name;
}

function expandTag(parts: TagPart[], info: LogInfo): string {
  let out = "";
  for (const p of parts) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    const v = TAG_FIELDS[p.field]!(info);
    out += p.fn === "upper" ? v.toUpperCase() : p.fn === "lower" ? v.toLowerCase() : p.fn === "title" ? v.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()) : v;
  }
  return out;
}
