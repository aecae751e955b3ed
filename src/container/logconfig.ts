import { invalidParameter, systemError } from "../errdefs/index.js";
import { fromHumanSize as unitsFromHumanSize, ramInBytes } from "../lib/index.js";
import { parseTagTemplate } from "./logattrs.js";

// HostConfig.LogConfig as dockerd treats it (moby daemon/logger: ValidateLogOpts, jsonfilelog,
// local), for the three drivers Pier serves: json-file, local and none. All three are the
// monitor's k8s-file log (or no log): the driver decides whether a log is kept and how it rotates.
//
// Like dockerd, the driver's name and the options' names are checked at create (400), the
// options' values when the logger starts (500 "failed to initialize logging driver: …", the
// container stays created with State.Error), so `docker create` accepts what dockerd accepts.

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** What the monitor is told: keep a log or not, and when to rotate it. */
export interface LogPolicy {
  driver: ServedDriver;
  /** Rotate when the file has reached this many bytes; undefined: never. */
  maxSize?: number;
  /** Files kept, the current one included (1: the file is started afresh at max-size). */
  maxFiles: number;
  /** Rotated files are gzip-compressed (`<log>.1.gz` …). */
  compress: boolean;
}

export type ServedDriver = "json-file" | "local" | "none";

const SERVED = new Set<string>(["json-file", "local", "none"]);

/** dockerd's other built-in drivers on Linux: known names Pier refuses plainly rather than ignore. */
const NOT_SERVED = new Set(["awslogs", "fluentd", "gcplogs", "gelf", "journald", "logentries", "splunk", "syslog"]);

/** Options each driver takes (moby's ValidateLogOpt of each); `mode` and `max-buffer-size` are every driver's. */
const DRIVER_OPTIONS: Record<"json-file" | "local", ReadonlySet<string>> = {
  "json-file": new Set(["max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"]),
  local: new Set(["max-file", "max-size", "compress"]),
};

/** The local driver's defaults (moby daemon/logger/local): 20 MB files, 5 of them, compressed. */
const LOCAL_MAX_SIZE = 20 * 1024 * 1024;
const LOCAL_MAX_FILES = 5;

export const DEFAULT_LOG_CONFIG: LogConfig = { Type: "json-file", Config: {} };

/**
 * The container's effective LogConfig (moby mergeAndVerifyLogConfig): no Type means the daemon's
 * driver, and a container of the daemon's driver gets the daemon's options it does not set.
 */
export function effectiveLogConfig(requested: { Type?: string; Config?: Record<string, string> | null } | null | undefined, daemon: LogConfig): LogConfig {
  const Type = requested?.Type || daemon.Type;
  const Config: Record<string, string> = { ...(requested?.Config ?? {}) };
  if (Type === daemon.Type) {
    for (const [k, v] of Object.entries(daemon.Config)) if (!(k in Config)) Config[k] = v;
  }
  return { Type, Config };
}

/**
 * The checks dockerd makes at create (moby logger.ValidateLogOpts), in its order and words, plus
 * Pier's refusal of drivers it cannot serve. Throws an InvalidParameter (400).
 */
export function validateLogConfig(lc: LogConfig): void {
  const why = logConfigProblem(lc);
  if (why) throw invalidParameter(why);
}

function logConfigProblem(lc: LogConfig): string | undefined {
  const { Type: name, Config: cfg } = lc;
  if (name === "none") return undefined; // dockerd checks nothing for none, not even the options
  const mode = cfg.mode ?? "";
  if (mode !== "" && mode !== "blocking" && mode !== "non-blocking") return `logger: logging mode not supported: ${mode}`;
  if (cfg["max-buffer-size"] !== undefined) {
    if (mode !== "non-blocking") return "logger: max-buffer-size option is only supported with 'mode=non-blocking'";
    try {
      ramInBytes(cfg["max-buffer-size"]);
    } catch (e) {
      return `error parsing option max-buffer-size: ${(e as Error).message}`;
    }
  }
  if (NOT_SERVED.has(name)) return `logging driver "${name}" is not supported by Pier: it serves json-file, local and none`;
  if (!SERVED.has(name)) return `error looking up logging plugin ${name}: plugin "${name}" not found`;
  const allowed = DRIVER_OPTIONS[name as "json-file" | "local"];
  for (const key of Object.keys(cfg)) {
    if (key === "mode" || key === "max-buffer-size" || allowed.has(key)) continue;
    return name === "json-file" ? `unknown log opt '${key}' for json-file log driver` : `unknown log opt '${key}' for log driver ${name}`;
  }
  return undefined;
}

/**
 * Whether attaching must go through the monitor's socket rather than follow the log: there is no
 * log (none), or a rotating one may drop a file before an attached reader got to it, which a
 * fast `docker run` would lose output to (the socket holds the process back instead).
 */
export function attachBypassesLog(lc: LogConfig | undefined): boolean {
  if (!lc) return false;
  if (lc.Type === "none") return true;
  try {
    return logPolicy(lc).maxSize !== undefined;
  } catch {
    return false; // such a container cannot start
  }
}

/**
 * The options' values, read when the container starts, as dockerd's logger constructors read
 * them (jsonfilelog.New, local.newConfig): a bad value fails the start with a 500.
 */
export function logPolicy(lc: LogConfig): LogPolicy {
  try {
    return readPolicy(lc);
  } catch (e) {
    if (e instanceof PolicyError) throw e.pier ?? systemError(`failed to initialize logging driver: ${e.message}`);
    throw e;
  }
}

class PolicyError extends Error {
  constructor(message: string, readonly pier?: Error) {
    super(message);
  }
}

function readPolicy(lc: LogConfig): LogPolicy {
  const cfg = lc.Config;
  if (lc.Type === "none") return { driver: "none", maxFiles: 1, compress: false };
  if (lc.Type === "local") {
    let maxSize = LOCAL_MAX_SIZE;
    let maxFiles = LOCAL_MAX_FILES;
    let compress = true;
    if (cfg["max-size"] !== undefined) maxSize = wrap(() => fromHumanSize(cfg["max-size"]!), (m) => `invalid value for max-size: ${cfg["max-size"]}: ${m}`);
    if (cfg["max-file"] !== undefined) maxFiles = wrap(() => atoi(cfg["max-file"]!), (m) => `invalid value for max-file: ${cfg["max-file"]}: ${m}`);
    if (cfg.compress !== undefined) compress = wrap(() => parseBool(cfg.compress!), (m) => `error reading compress log option: ${m}`);
    if (maxSize < 0) throw new PolicyError("max size should be a positive number");
    if (maxFiles < 0) throw new PolicyError("max file count cannot be less than 0");
    if (compress && maxFiles <= 1) throw new PolicyError("compression cannot be enabled when max file count is 1");
    return { driver: "local", maxSize: maxSize > 0 ? maxSize : undefined, maxFiles: Math.max(1, maxFiles), compress };
  }
  // json-file
  let maxSize: number | undefined;
  let maxFiles = 1;
  let compress = false;
  if (cfg["max-size"] !== undefined) {
    maxSize = fromHumanSize(cfg["max-size"]);
    if (maxSize <= 0) throw new PolicyError("max-size must be a positive number");
  }
  if (cfg["max-file"] !== undefined) {
    maxFiles = atoi(cfg["max-file"]);
    if (maxFiles < 1) throw new PolicyError("max-file cannot be less than 1");
  }
  if (cfg.compress !== undefined) {
    compress = parseBool(cfg.compress);
    if (compress && (maxFiles === 1 || maxSize === undefined)) throw new PolicyError("compress cannot be true when max-file is less than 2 or max-size is not set");
  }
  for (const key of ["labels-regex", "env-regex"]) {
    const re = cfg[key];
    if (re === undefined) continue;
    try {
      new RegExp(re);
    } catch (e) {
      throw new PolicyError(`error parsing regexp: ${goRegexpProblem(re, (e as Error).message)}`);
    }
  }
  if (cfg.tag !== undefined) wrap(() => parseTagTemplate(cfg.tag!), (m) => m);
  // With max-file but no max-size the file never rotates, as with dockerd.
  return { driver: "json-file", maxSize, maxFiles: maxSize === undefined ? 1 : maxFiles, compress };
}

/** The words of Go's regexp for the commonest mistakes (dockerd compiles with Go's regexp), else V8's. */
function goRegexpProblem(re: string, v8: string): string {
  const why = v8.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
  if (why === "Unterminated group") return `missing closing ): \`${re}\``;
  if (why === "Unmatched ')'") return `unexpected ): \`${re}\``;
  if (why === "Unterminated character class") return `missing closing ]: \`${re.slice(re.lastIndexOf("["))}\``;
  if (why === "\\ at end of pattern") return "trailing backslash at end of expression: ``";
  return why;
}

function wrap<T>(f: () => T, say: (m: string) => string): T {
  try {
    return f();
  } catch (e) {
    throw new PolicyError(say((e as Error).message));
  }
}

/** Go's strconv.Atoi, with its error words. */
function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new PolicyError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 63 - 1) throw new PolicyError(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** Go's strconv.ParseBool, with its error words. */
function parseBool(s: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  throw new PolicyError(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/** go-units FromHumanSize (decimal: "1k" is 1000 bytes), its error as a PolicyError. */
function fromHumanSize(s: string): number {
  try {
    return unitsFromHumanSize(s);
  } catch (e) {
    throw new PolicyError((e as Error).message);
  }
}

/**
 * The daemon's default (daemon.json `log-driver`/`log-opts`, pierd `--log-driver`/`--log-opt`),
 * checked when pierd starts: names with dockerd's words ("failed to set log opts: …"), and the
 * values too, so a default no container could start with stops pierd at once.
 */
export function checkDaemonLogConfig(lc: LogConfig): void {
  const why = logConfigProblem(lc);
  if (why) throw invalidParameter(`failed to set log opts: ${why}`);
  try {
    logPolicy(lc);
  } catch (e) {
    throw invalidParameter(`failed to set log opts: ${(e as Error).message.replace(/^failed to initialize logging driver: /, "")}`);
  }
}
