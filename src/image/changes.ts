import * as path from "node:path";
import { invalidParameter } from "../errdefs/index.js";
import { parsePortSpec } from "../lib/index.js";
import type { ContainerConfigDefaults } from "../oci/index.js";
import { parseSignal } from "../sys/index.js";

// Dockerfile instructions given as `--change` to import and commit (Docker's
// BuildFromConfig): CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD STOPSIGNAL USER VOLUME WORKDIR.

const VALID = new Set(["cmd", "entrypoint", "env", "expose", "label", "onbuild", "stopsignal", "user", "volume", "workdir"]);

/** Join continuation lines and drop comments/blank lines: one string per instruction. */
function instructions(changes: string[]): string[] {
  const out: string[] = [];
  for (const change of changes) {
    let cur = "";
    for (const raw of change.split(/\r?\n/)) {
      const line = raw.replace(/\s+$/, "");
      if (cur === "" && (line.trim() === "" || line.trim().startsWith("#"))) continue;
      if (line.endsWith("\\")) {
        cur += line.slice(0, -1);
        continue;
      }
      cur += line;
      out.push(cur.trim());
      cur = "";
    }
    if (cur.trim() !== "") out.push(cur.trim());
  }
  return out;
}

function envLookup(env: string[] | null | undefined, name: string): string | undefined {
  for (const kv of env ?? []) {
    const eq = kv.indexOf("=");
    if ((eq < 0 ? kv : kv.slice(0, eq)) === name) return eq < 0 ? "" : kv.slice(eq + 1);
  }
  return undefined;
}

/**
 * Split into words like Docker's shell-word processing: quotes group and are removed,
 * backslash escapes, $VAR / ${VAR} / ${VAR:-default} / ${VAR:+alt} expand from env
 * (not inside single quotes).
 */
export function shellWords(s: string, env: string[] | null | undefined, expand = true): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  const expandAt = (): string => {
    // s[i] === "$"
    if (s[i + 1] === "{") {
      const end = s.indexOf("}", i + 2);
      if (end < 0) throw invalidParameter(`missing '}' in ${JSON.stringify(s)}`);
      const inner = s.slice(i + 2, end);
      i = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?$/s.exec(inner);
      if (!m) throw invalidParameter(`bad substitution in ${JSON.stringify(s)}`);
      const val = envLookup(env, m[1]!);
      if (m[2] === "-") return val !== undefined && val !== "" ? val : (m[3] ?? "");
      if (m[2] === "+") return val !== undefined && val !== "" ? (m[3] ?? "") : "";
      return val ?? "";
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (!m) {
      i++;
      return "$";
    }
    i += 1 + m[0].length;
    return envLookup(env, m[0]) ?? "";
  };
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "\\") {
      if (i + 1 < s.length) cur += s[i + 1];
      i += 2;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw invalidParameter(`unexpected end of statement while looking for matching single-quote`);
      cur += s.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw invalidParameter(`unexpected end of statement while looking for matching double-quote`);
        const d = s[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\" && i + 1 < s.length && ['"', "\\", "$"].includes(s[i + 1]!)) {
          cur += s[i + 1];
          i += 2;
        } else if (d === "$" && expand) {
          cur += expandAt();
        } else {
          cur += d;
          i++;
        }
      }
    } else if (c === "$" && expand) {
      cur += expandAt();
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

function jsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith("[")) return undefined;
  try {
    const v = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  } catch {
    // not JSON: shell form
  }
  return undefined;
}

function setEnv(cfg: ContainerConfigDefaults, key: string, value: string): void {
  const env = [...(cfg.Env ?? [])];
  const idx = env.findIndex((kv) => kv === key || kv.startsWith(`${key}=`));
  if (idx >= 0) env[idx] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  cfg.Env = env;
}

/** Parse `k=v k2="v 2"` (or the legacy `k value with spaces`) into pairs. */
function nameValues(kw: string, rest: string, env: string[] | null | undefined): Array<[string, string]> {
  const words = shellWords(rest, env);
  if (words.length === 0) throw invalidParameter(`${kw.toUpperCase()} requires at least one argument`);
  const rawFirst = rest.trim().split(/\s+/)[0] ?? "";
  if (!rawFirst.includes("=")) {
    // Legacy form: the first word is the name, everything after it the value.
    const name = words[0]!;
    const afterName = rest.trim().slice(rawFirst.length).trim();
    if (afterName === "") throw invalidParameter(`${kw.toUpperCase()} names can not be blank`);
    const value = shellWords(afterName, env).join(" ");
    return [[name, value]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw invalidParameter(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/**
 * The ports an EXPOSE instruction names, as ExposedPorts keys ("80/tcp"), for `--change` and
 * the builder alike (dockerd runs both through one dispatcher). A mapping such as
 * 127.0.0.1:8080:80 exposes its container side. Errors are dockerd 20.10's (go-connections 0.4): the
 * same for both, with no EXPOSE prefix.
 */
export function exposedPorts(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of specs) {
    const r = parsePortSpec(raw, "0.4");
    if (!Array.isArray(r)) throw invalidParameter(r.error);
    for (const m of r) out.push(m.port);
  }
  return out;
}

/** Apply change instructions to a config (returns a new object; the input is not modified). */
export function applyChanges(base: ContainerConfigDefaults, changes: string[]): ContainerConfigDefaults {
  const cfg: ContainerConfigDefaults = structuredClone(base);
  let cmdSet = false;
  for (const ins of instructions(changes)) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(ins)!;
    const kw = m[1]!.toLowerCase();
    const rest = m[2]!;
    if (!VALID.has(kw)) throw invalidParameter(`${kw} is not a valid change command`);
    switch (kw) {
      case "cmd": {
        cfg.Cmd = jsonArray(rest) ?? ["/bin/sh", "-c", rest.trim()];
        cmdSet = true;
        break;
      }
      case "entrypoint": {
        const arr = jsonArray(rest);
        if (arr) cfg.Entrypoint = arr;
        else if (rest.trim() === "") cfg.Entrypoint = null;
        else cfg.Entrypoint = ["/bin/sh", "-c", rest.trim()];
        if (!cmdSet) cfg.Cmd = null;
        break;
      }
      case "env": {
        for (const [k, v] of nameValues(kw, rest, cfg.Env)) setEnv(cfg, k, v);
        break;
      }
      case "label": {
        const labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of nameValues(kw, rest, cfg.Env)) labels[k] = v;
        cfg.Labels = labels;
        break;
      }
      case "expose": {
        const words = shellWords(rest, cfg.Env);
        if (words.length === 0) throw invalidParameter("EXPOSE requires at least one argument");
        const ports = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of exposedPorts(words)) ports[p] = {};
        cfg.ExposedPorts = ports;
        break;
      }
      case "user": {
        const words = shellWords(rest, cfg.Env);
        if (words.length !== 1) throw invalidParameter("USER requires exactly one argument");
        cfg.User = words[0]!;
        break;
      }
      case "workdir": {
        const words = shellWords(rest, cfg.Env);
        if (words.length !== 1) throw invalidParameter("WORKDIR requires exactly one argument");
        const w = words[0]!;
        cfg.WorkingDir = path.posix.isAbsolute(w) ? path.posix.normalize(w) : path.posix.join(cfg.WorkingDir || "/", w);
        break;
      }
      case "volume": {
        const vols = { ...(cfg.Volumes ?? {}) };
        const list = jsonArray(rest) ?? shellWords(rest, cfg.Env);
        if (list.length === 0) throw invalidParameter("VOLUME requires at least one argument");
        for (const v of list) {
          if (v.trim() === "") throw invalidParameter("VOLUME specified can not be an empty string");
          vols[v.trim()] = {};
        }
        cfg.Volumes = vols;
        break;
      }
      case "stopsignal": {
        const words = shellWords(rest, cfg.Env);
        if (words.length !== 1) throw invalidParameter("STOPSIGNAL requires exactly one argument");
        if (parseSignal(words[0]!) === undefined) throw invalidParameter(`Invalid signal: ${words[0]}`);
        cfg.StopSignal = words[0]!;
        break;
      }
      case "onbuild": {
        const trigger = rest.trim();
        const tkw = (trigger.split(/\s+/)[0] ?? "").toUpperCase();
        if (tkw === "") throw invalidParameter("ONBUILD requires at least one argument");
        if (tkw === "ONBUILD") throw invalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (tkw === "FROM" || tkw === "MAINTAINER") throw invalidParameter(`${tkw} isn't allowed as an ONBUILD trigger`);
        cfg.OnBuild = [...(cfg.OnBuild ?? []), trigger];
        break;
      }
    }
  }
  return cfg;
}
