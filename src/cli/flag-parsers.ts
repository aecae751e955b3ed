// Parsers for `run`/`create` flag values, each matching the docker CLI's (cli/opts, go-connections
// nat, go-units, compose's volume spec) in result and in error wording.

import { readFileSync } from "node:fs";
import path from "node:path";
import { ramInBytes } from "./units.js";
import { goErrnoText } from "./local-files.js";
import { parsePortRange, parsePortSpec as parsePortSpecParts, splitPortProto } from "../lib/index.js";

/** A usage error in a flag value (exit 125, like every docker flag error). */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

// ------------------------------------------------------------------ env and labels

/** opts.ValidateEnv: "K=V" as is, "K" filled in from the environment when set there. */
export function parseEnvValue(val: string, env: NodeJS.ProcessEnv = process.env): string {
  const eq = val.indexOf("=");
  const key = eq >= 0 ? val.slice(0, eq) : val;
  if (key === "") throw new FlagError(`invalid environment variable: ${val}`);
  if (eq >= 0) return val;
  const v = env[key];
  return v !== undefined ? `${key}=${v}` : val;
}

/** Docker's key=value file reader (--env-file, --label-file). */
export function parseKeyValueFile(file: string, lookupEnv?: (key: string) => string | undefined): string[] {
  let content: string;
  try {
    content = readFileSync(file, "utf8");
  } catch (err) {
    // os.Open fails on a missing file; a directory opens, then its read fails inside kvfile,
    // whose words say "env file" for --label-file too.
    if ((err as NodeJS.ErrnoException).code === "EISDIR") throw new FlagError(`invalid env file (${file}): read ${file}: is a directory`);
    throw new FlagError(`open ${file}: ${goErrnoText(err)}`);
  }
  const out: string[] = [];
  content.split("\n").forEach((rawLine, i) => {
    let line = i === 0 ? rawLine.replace(/^\uFEFF/, "") : rawLine;
    line = line.replace(/^[ \t\r\n\v\f]+/, "").replace(/\r$/, "");
    if (line.length === 0 || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    let variable = eq >= 0 ? line.slice(0, eq) : line;
    if (variable.length === 0) throw new FlagError(`no variable name on line '${line}'`);
    variable = variable.replace(/^[ \t\r\n\v\f]+/, "");
    if (/[ \t\r\n\v\f]/.test(variable)) throw new FlagError(`variable '${variable}' contains whitespaces`);
    if (eq >= 0) out.push(`${variable}=${line.slice(eq + 1)}`);
    else if (lookupEnv) {
      const v = lookupEnv(variable.trim());
      if (v !== undefined) out.push(`${variable.trim()}=${v}`);
    }
  });
  return out;
}

/** --label / --label-file entries → a labels map ("k" alone means empty value). */
export function parseLabels(files: readonly string[], labels: readonly string[]): Record<string, string> {
  const entries = [...files.flatMap((f) => parseKeyValueFile(f)), ...labels];
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf("=");
    if (eq === 0) throw new FlagError(`invalid label: ${e}`);
    if (eq < 0) out[e] = "";
    else out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return sortKeys(out);
}

export function sortKeys<T>(obj: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k]!;
  return out;
}

// ------------------------------------------------------------------ sizes, ulimits, devices

/** A MemBytes flag: go-units RAMInBytes, with Docker's flag error wording. */
export function parseMemBytes(value: string, flag: string): number {
  try {
    return ramInBytes(value);
  } catch (err) {
    throw new FlagError(`invalid argument "${value}" for "${flag}" flag: ${(err as Error).message}`);
  }
}

/** --memory-swap: "-1" is unlimited, anything else a size. */
export function parseMemSwap(value: string): number {
  if (value === "-1") return -1;
  return parseMemBytes(value, "--memory-swap");
}

export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

const ULIMIT_NAMES = new Set([
  "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
]);

function parseGoInt(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

/** go-units ParseUlimit: "nofile=1024:2048" or "nproc=50". */
export function parseUlimit(value: string): Ulimit {
  const wrap = (msg: string) => new FlagError(`invalid argument "${value}" for "--ulimit" flag: ${msg}`);
  const parts = value.split("=");
  if (parts.length !== 2) throw wrap(`invalid ulimit argument: ${value}`);
  const [name, limits] = parts as [string, string];
  if (!ULIMIT_NAMES.has(name)) throw wrap(`invalid ulimit type: ${name}`);
  const lim = limits.split(":");
  if (lim.length > 2) throw wrap(`too many limit value arguments - ${limits}, can only have up to two, \`soft[:hard]\``);
  let soft: number;
  let hard: number;
  try {
    soft = parseGoInt(lim[0]!);
    hard = lim.length === 2 ? parseGoInt(lim[1]!) : soft;
  } catch (err) {
    throw wrap((err as Error).message);
  }
  if (soft > hard) throw wrap(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: hard, Soft: soft };
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

const validDeviceMode = (mode: string) => mode.length > 0 && mode.length <= 3 && /^[rwm]+$/.test(mode) && new Set(mode).size === mode.length;

/** --device /dev/x[:/dev/y][:rwm]. */
export function parseDevice(device: string): DeviceMapping {
  const arr = device.split(":");
  const limited = arr.length > 4 ? [...arr.slice(0, 3), arr.slice(3).join(":")] : arr;
  let src = "";
  let dst = "";
  let permissions = "rwm";
  if (limited.length > 3) {
    throw new FlagError(`invalid argument "${device}" for "--device" flag: invalid device specification: ${device}`);
  }
  if (limited.length === 3) permissions = limited[2]!;
  if (limited.length >= 2) {
    if (validDeviceMode(limited[1]!)) permissions = limited[1]!;
    else dst = limited[1]!;
  }
  src = limited[0]!;
  if (!validDeviceMode(permissions)) {
    throw new FlagError(`invalid argument "${device}" for "--device" flag: invalid device mode: ${permissions}`);
  }
  if (dst === "") dst = src;
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: permissions };
}

// ------------------------------------------------------------------ ports

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

function isIP(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) return s.split(".").every((p) => Number(p) <= 255 && !/^0\d/.test(p));
  if (!s.includes(":")) return false;
  return /^[0-9a-fA-F:.]+$/.test(s) && s.split("::").length <= 2;
}

/** nat.ParsePortSpec: "[ip:][hostPort:]containerPort[/proto]" → one mapping per port, in go-connections 0.5's words as the CLI vendors it. */
export function parsePortSpec(raw: string): Array<{ port: string; binding: PortBinding }> {
  const r = parsePortSpecParts(raw, "0.5");
  if (!Array.isArray(r)) throw new FlagError(r.error);
  return r.map((m) => ({ port: m.port, binding: { HostIp: m.hostIP, HostPort: m.hostPort } }));
}

/** The long --publish syntax "target=80,published=8080,protocol=udp,host_ip=…" → short form. */
function convertPortLongSyntax(value: string): string {
  if (!/(^|,)(target|published|protocol|mode|host_ip)=/.test(value)) return value;
  const fields: Record<string, string> = {};
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new FlagError(`invalid field ${part} must be a key=value pair`);
    fields[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
  }
  if (!fields["target"]) throw new FlagError("missing mandatory field \"target\"");
  const proto = fields["protocol"] ?? "tcp";
  const host = fields["published"] ?? "";
  const ip = fields["host_ip"] ? `${fields["host_ip"]}:` : "";
  return `${ip}${host}:${fields["target"]}/${proto}`;
}

/** -p flags and --expose → Config.ExposedPorts and HostConfig.PortBindings (keys sorted). */
export function parsePublish(
  publish: readonly string[],
  expose: readonly string[] = [],
): { exposed: Record<string, Record<string, never>>; bindings: Record<string, PortBinding[]> } {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const raw of publish) {
    for (const { port, binding } of parsePortSpec(convertPortLongSyntax(raw))) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  for (const e of expose) {
    const [proto, port] = splitPortProto(e);
    if (port.includes(":")) throw new FlagError(`invalid port format for --expose: ${e}`);
    const r = parsePortRange(port);
    if ("error" in r) throw new FlagError(`invalid range format for --expose: ${e}, error: ${r.detail}`);
    for (let p = r.start; p <= r.end; p++) exposed[`${p}/${proto.toLowerCase()}`] = {};
  }
  return { exposed: sortKeys(exposed), bindings: sortKeys(bindings) };
}

// ------------------------------------------------------------------ volumes and mounts

export interface VolumeSpec {
  type: "bind" | "volume";
  source: string;
  target: string;
  readOnly: boolean;
}

function isFilePath(source: string): boolean {
  if (source === "") return false;
  if (".~/".includes(source[0]!)) return true;
  return /^[a-zA-Z]:[\\/]?/.test(source) && source.length >= 2 && source[1] === ":";
}

/** compose loader.ParseVolume for the short -v syntax "[src:]dst[:opts]". */
export function parseVolumeSpec(spec: string): VolumeSpec {
  if (spec.length === 0) throw new FlagError("invalid empty volume spec");
  const vol: VolumeSpec = { type: "volume", source: "", target: "", readOnly: false };
  if (spec.length <= 2) {
    vol.target = spec;
    return vol;
  }
  let buffer = "";
  let sawSource = false;
  const chars = [...spec, "\0"];
  for (let idx = 0; idx < chars.length; idx++) {
    const ch = chars[idx]!;
    const isDrive = buffer.length === 1 && ch === ":" && /\p{L}/u.test(buffer);
    if (isDrive) {
      buffer += ch;
      continue;
    }
    if (ch === ":" || ch === "\0") {
      if (buffer.length === 0) throw new FlagError(`invalid spec: ${spec}: empty section between colons`);
      if (vol.source === "" && !sawSource && ch === "\0") vol.target = buffer;
      else if (vol.source === "" && !sawSource) {
        vol.source = buffer;
        sawSource = true;
      } else if (vol.target === "") vol.target = buffer;
      else if (ch === ":") throw new FlagError(`invalid spec: ${spec}: too many colons`);
      else {
        for (const opt of buffer.split(",")) {
          if (opt === "ro") vol.readOnly = true;
          else if (opt === "rw") vol.readOnly = false;
        }
      }
      buffer = "";
      continue;
    }
    buffer += ch;
  }
  vol.type = vol.source !== "" && isFilePath(vol.source) ? "bind" : "volume";
  return vol;
}

/**
 * -v flags as the docker CLI sends them: specs with a source go to HostConfig.Binds (a relative
 * "./x" host path made absolute), anonymous volumes to Config.Volumes keyed by the raw spec.
 */
export function parseVolumes(specs: readonly string[], cwd = process.cwd()): { binds: string[]; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of specs) {
    const parsed = parseVolumeSpec(spec);
    if (parsed.source !== "") {
      let toBind = spec;
      if (parsed.type === "bind") {
        const colon = spec.indexOf(":");
        if (colon >= 0) {
          let hostPart = spec.slice(0, colon);
          const rest = spec.slice(colon + 1);
          if (!path.isAbsolute(hostPart) && hostPart.startsWith(".")) hostPart = path.resolve(cwd, hostPart);
          toBind = `${hostPart}:${rest}`;
        }
      }
      if (!binds.includes(toBind)) binds.push(toBind);
    } else {
      volumes[spec] = {};
    }
  }
  return { binds, volumes: sortKeys(volumes) };
}

export interface MountSpec {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; Subpath?: string; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
}

function parseBoolValue(key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  switch (value.toLowerCase()) {
    case "1":
    case "t":
    case "true":
      return true;
    case "0":
    case "f":
    case "false":
      return false;
    default:
      throw new FlagError(`invalid value for ${key}: ${value}`);
  }
}

/** k=v entries as a map, "k" alone an empty value (opts.ConvertKVStringsToMap, MapOpts). */
export function keyValueMap(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf("=");
    if (eq < 0) out[l] = "";
    else out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

/** csv fields as Go's encoding/csv reads one record (quotes allowed). */
export function splitCSV(value: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === "") quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** opts.MountOpt: "type=bind,source=/a,target=/b,readonly" → a HostConfig.Mounts entry. */
export function parseMount(value: string): MountSpec {
  const wrap = (msg: string) => new FlagError(`invalid argument "${value}" for "--mount" flag: ${msg}`);
  const mount: MountSpec = { Type: "" };
  const volumeOptions = () => (mount.VolumeOptions ??= {});
  const bindOptions = () => (mount.BindOptions ??= {});
  const tmpfsOptions = () => (mount.TmpfsOptions ??= {});
  let source: string | undefined;
  let target: string | undefined;
  let readOnly: boolean | undefined;
  let consistency: string | undefined;
  for (const field of splitCSV(value)) {
    const eq = field.indexOf("=");
    const key = (eq >= 0 ? field.slice(0, eq) : field).toLowerCase();
    const val = eq >= 0 ? field.slice(eq + 1) : undefined;
    if (val === undefined) {
      switch (key) {
        case "readonly":
        case "ro":
          readOnly = true;
          continue;
        case "volume-nocopy":
          volumeOptions().NoCopy = true;
          continue;
        case "bind-nonrecursive":
          bindOptions().NonRecursive = true;
          continue;
        default:
          throw wrap(`invalid field '${field}' must be a key=value pair`);
      }
    }
    try {
      switch (key) {
        case "type":
          mount.Type = val;
          break;
        case "source":
        case "src":
          source = val;
          break;
        case "target":
        case "dst":
        case "destination":
          target = val;
          break;
        case "readonly":
        case "ro":
          readOnly = parseBoolValue(key, val);
          break;
        case "consistency":
          consistency = val;
          break;
        case "bind-propagation":
          bindOptions().Propagation = val.toLowerCase();
          break;
        case "bind-nonrecursive":
          bindOptions().NonRecursive = parseBoolValue(key, val);
          break;
        case "bind-create-src":
          bindOptions().CreateMountpoint = parseBoolValue(key, val);
          break;
        case "bind-recursive":
          switch (val) {
            case "enabled":
              break;
            case "disabled":
              bindOptions().NonRecursive = true;
              break;
            case "writable":
              bindOptions().ReadOnlyNonRecursive = true;
              break;
            case "readonly":
              bindOptions().ReadOnlyForceRecursive = true;
              break;
            default:
              throw new Error(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
          }
          break;
        case "volume-nocopy":
          volumeOptions().NoCopy = parseBoolValue(key, val);
          break;
        case "volume-label": {
          const [k, ...rest] = val.split("=");
          (volumeOptions().Labels ??= {})[k!] = rest.join("=");
          break;
        }
        case "volume-driver":
          (volumeOptions().DriverConfig ??= {}).Name = val;
          break;
        case "volume-subpath":
          volumeOptions().Subpath = val;
          break;
        case "volume-opt": {
          const dc = (volumeOptions().DriverConfig ??= {});
          const [k, ...rest] = val.split("=");
          (dc.Options ??= {})[k!] = rest.join("=");
          break;
        }
        case "tmpfs-size":
          tmpfsOptions().SizeBytes = ramInBytes(val);
          break;
        case "tmpfs-mode": {
          if (!/^[0-7]+$/.test(val)) throw new Error(`invalid value for ${key}: ${val}`);
          tmpfsOptions().Mode = parseInt(val, 8);
          break;
        }
        default:
          throw new Error(`unexpected key '${key}' in '${field}'`);
      }
    } catch (err) {
      if (err instanceof FlagError) throw err;
      throw wrap((err as Error).message);
    }
  }
  if (mount.Type === "") mount.Type = "volume";
  if (target === undefined || target === "") throw wrap("target is required");
  if (mount.VolumeOptions && mount.Type !== "volume") throw wrap(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (mount.BindOptions && mount.Type !== "bind") throw wrap(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (mount.TmpfsOptions && mount.Type !== "tmpfs") throw wrap(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  // Field order as Go's mount.Mount marshals it.
  const out: MountSpec = { Type: mount.Type };
  if (source) out.Source = source;
  out.Target = target;
  if (readOnly) out.ReadOnly = true;
  if (consistency) out.Consistency = consistency;
  if (mount.BindOptions) out.BindOptions = mount.BindOptions;
  if (mount.VolumeOptions) {
    const v = mount.VolumeOptions;
    out.VolumeOptions = {};
    if (v.NoCopy) out.VolumeOptions.NoCopy = true;
    if (v.Labels) out.VolumeOptions.Labels = v.Labels;
    if (v.Subpath) out.VolumeOptions.Subpath = v.Subpath;
    if (v.DriverConfig) out.VolumeOptions.DriverConfig = v.DriverConfig;
  }
  if (mount.TmpfsOptions) out.TmpfsOptions = mount.TmpfsOptions;
  return out;
}

/** --tmpfs /run:rw,size=10m → {"/run": "rw,size=10m"}. */
export function parseTmpfs(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const colon = v.indexOf(":");
    if (colon >= 0) out[v.slice(0, colon)] = v.slice(colon + 1);
    else out[v] = "";
  }
  return sortKeys(out);
}

// ------------------------------------------------------------------ misc

/** opts.ValidateExtraHost: "host:ip" or "host=ip" → "host:ip". */
export function parseExtraHost(val: string): string {
  let eq = val.indexOf("=");
  if (eq < 0) eq = val.indexOf(":");
  const k = eq >= 0 ? val.slice(0, eq) : "";
  let v = eq >= 0 ? val.slice(eq + 1) : "";
  if (eq < 0 || k === "" || k.includes(":")) throw new FlagError(`invalid argument "${val}" for "--add-host" flag: bad format for add-host: "${val}"`);
  const raw = v;
  if (v !== "host-gateway") {
    if (v.length > 2 && v[0] === "[" && v[v.length - 1] === "]") v = v.slice(1, -1);
    if (!isIP(v)) throw new FlagError(`invalid argument "${val}" for "--add-host" flag: invalid IP address in add-host: "${v}"`);
  }
  void raw;
  return `${k}:${v}`;
}

/** --sysctl k=v → map. */
/** The namespaced sysctls docker's opts.ValidateSysctl lets through: these keys and prefixes. */
const SYSCTL_KEYS = new Set(["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]);
const SYSCTL_PREFIXES = ["net.", "fs.mqueue."];

export function parseSysctls(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    const key = eq < 0 ? v : v.slice(0, eq);
    if (eq < 0 || !(SYSCTL_KEYS.has(key) || SYSCTL_PREFIXES.some((p) => key.startsWith(p)))) {
      throw new FlagError(`invalid argument "${v}" for "--sysctl" flag: sysctl '${v}' is not allowed`);
    }
    out[key] = v.slice(eq + 1);
  }
  return sortKeys(out);
}

/** --restart no|always|unless-stopped|on-failure[:N]. */
export function parseRestartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  if (policy === "") return { Name: "no", MaximumRetryCount: 0 };
  const colon = policy.indexOf(":");
  const name = colon >= 0 ? policy.slice(0, colon) : policy;
  const count = colon >= 0 ? policy.slice(colon + 1) : "";
  if (colon >= 0 && count === "") throw new FlagError(`invalid restart policy format: no number after ':'`);
  let max = 0;
  if (count !== "") {
    if (!/^-?\d+$/.test(count)) throw new FlagError(`invalid restart policy format: maximum retry count must be an integer`);
    max = Number(count);
  }
  return { Name: name, MaximumRetryCount: max };
}

/** Capabilities as the docker CLI sends them: upper case, "CAP_" prefixed, deduplicated, sorted. */
export function effectiveCaps(add: readonly string[], drop: readonly string[]): { capAdd: string[] | null; capDrop: string[] | null } {
  const normalize = (caps: readonly string[]) => {
    const set = new Set<string>();
    for (const c of caps) {
      let n = c.trim().toUpperCase();
      if (n === "") continue;
      if (n !== "ALL" && !n.startsWith("CAP_")) n = `CAP_${n}`;
      set.add(n);
    }
    return set;
  };
  let addSet = normalize(add);
  let dropSet = normalize(drop);
  if (addSet.has("ALL")) addSet = new Set(["ALL"]);
  if (dropSet.has("ALL")) dropSet = new Set(["ALL"]);
  for (const c of [...dropSet]) if (addSet.has(c)) dropSet.delete(c);
  const list = (s: Set<string>) => (s.size ? [...s].sort() : null);
  return { capAdd: list(addSet), capDrop: list(dropSet) };
}

/** --security-opt, with seccomp=<file> replaced by the file's compacted JSON. */
export function parseSecurityOpts(values: readonly string[]): string[] {
  return values.map((opt) => {
    let sep = opt.indexOf("=");
    let k = sep >= 0 ? opt.slice(0, sep) : opt;
    if (sep < 0 && k !== "no-new-privileges") {
      sep = opt.indexOf(":");
      k = sep >= 0 ? opt.slice(0, sep) : opt;
    }
    const v = sep >= 0 ? opt.slice(sep + 1) : "";
    if ((sep < 0 || v === "") && k !== "no-new-privileges") throw new FlagError(`Invalid --security-opt: ${JSON.stringify(opt)}`);
    if (k === "seccomp" && v !== "unconfined" && v !== "builtin") {
      let text: string;
      try {
        text = readFileSync(v, "utf8");
      } catch (err) {
        throw new FlagError(`opening seccomp profile (${v}) failed: ${(err as Error).message}`);
      }
      try {
        return `seccomp=${JSON.stringify(JSON.parse(text))}`;
      } catch (err) {
        throw new FlagError(`compacting json for seccomp profile (${v}) failed: ${(err as Error).message}`);
      }
    }
    return opt;
  });
}
