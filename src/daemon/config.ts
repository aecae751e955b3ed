import { promises as fsp } from "node:fs";
import { invalidParameter } from "../errdefs/index.js";
import { isLogLevel, parseGoDuration, type LogLevel } from "../lib/index.js";
import { checkDaemonLogConfig, DEFAULT_LOG_CONFIG, type LogConfig } from "../container/index.js";

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  logLevel: LogLevel;
  runtimePath: string;
  /**
   * The per-container monitor: a path or a name on PATH; undefined for Pier's own
   * (build/Release/pier-monitor). `--conmon PATH` selects conmon instead.
   */
  monitorPath: string | undefined;
  initPath: string | undefined;
  defaultUlimits: { Name: string; Soft: number; Hard: number }[];
  configFile: string;
  /** Docker's networking options (flags and daemon.json keys of the same names). */
  network: NetworkConfig;
  /** Containers' default logging driver and options (--log-driver/--log-opt, daemon.json log-driver/log-opts). */
  logConfig: LogConfig;
  /**
   * How long the runtime may take to create a container before it is killed and the start
   * fails (--create-timeout, daemon.json create-timeout; 0: no limit). Docker has no such
   * limit; here a create that hangs would otherwise hold the container's lock for good.
   */
  createTimeoutMs: number;
}

export interface NetworkConfig {
  /** --bip: the default bridge's address and prefix, e.g. "172.17.0.1/16". */
  bip?: string;
  /** --bridge: an existing bridge for the default network; "none": no default network. */
  bridge?: string;
  /** --default-address-pool / "default-address-pools": where networks get their subnets. */
  defaultAddressPools?: { base: string; size: number }[];
  /** --iptables: manage NAT and filter rules (false: none; published ports go through the proxy). */
  iptables: boolean;
  /** --ip-forward: enable net.ipv4.ip_forward. */
  ipForward: boolean;
  /** --userland-proxy: proxy published ports in user space where the kernel rules do not reach. */
  userlandProxy: boolean;
}

export const DEFAULTS: DaemonConfig = {
  hosts: ["unix:///run/pier/pier.sock"],
  dataRoot: "/var/lib/pier",
  execRoot: "/run/pier",
  logLevel: "info",
  runtimePath: "runc",
  monitorPath: undefined,
  initPath: undefined,
  defaultUlimits: [],
  configFile: "/etc/pier/daemon.json",
  network: { iptables: true, ipForward: true, userlandProxy: true },
  logConfig: DEFAULT_LOG_CONFIG,
  createTimeoutMs: 4 * 60_000,
};

const USAGE = `Usage:  pierd [OPTIONS]

A container engine that speaks the Docker Engine API

Options:
      --config-file string      Daemon configuration file (default "/etc/pier/daemon.json")
      --data-root string        Root directory of persistent Pier state (default "/var/lib/pier")
      --default-ulimit ulimit   Default ulimits for containers (e.g. nofile=1024:2048)
      --exec-root string        Root directory for execution state files (default "/run/pier")
  -H, --host list               Daemon socket to connect to (default unix:///run/pier/pier.sock)
  -l, --log-level string        Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --runtime string          Path of the OCI runtime (default "runc")
      --monitor string          Path of the container monitor (default: Pier's own pier-monitor)
      --conmon string           Use conmon at this path as the container monitor (e.g. "conmon")
      --init-path string        Path of the init binary for --init (default: tini or catatonit on PATH)
      --create-timeout duration How long the runtime may take to create a container; 0: no limit (default 4m0s)
      --log-driver string       Default driver for container logs ("json-file"|"local"|"none") (default "json-file")
      --log-opt map             Default log driver options for containers (default map[])
      --bip string              Specify network bridge IP
  -b, --bridge string           Attach containers to a network bridge ("none": no default bridge network)
      --default-address-pool pool-options
                                Default address pools for node specific local networks (base=CIDR,size=N)
      --ip-forward              Enable net.ipv4.ip_forward (default true)
      --iptables                Enable addition of iptables rules (default true)
      --userland-proxy          Use userland proxy for loopback traffic (default true)
  -v, --version                 Print version information and quit
`;

/** "nofile=1024:2048" → {Name, Soft, Hard}, as Docker's --ulimit / --default-ulimit. */
export function parseUlimit(s: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw invalidParameter(`invalid ulimit argument: ${s}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard) throw invalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** A Go duration ("90s", "4m", "0"), as a flag of type duration takes it; in milliseconds. */
function parseTimeout(flag: string, v: string): number {
  const ms = v === "0" ? 0 : parseGoDuration(v);
  if (ms === undefined) throw invalidParameter(`invalid duration "${v}" for ${flag}: expected e.g. 90s or 4m`);
  return ms;
}

/** Go's strconv.ParseBool, which Docker's boolean flags use. */
function parseBool(flag: string, v: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  throw invalidParameter(`invalid boolean value "${v}" for ${flag}: parse error`);
}

const CIDR4 = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** "base=10.10.0.0/16,size=24", as Docker's --default-address-pool. */
export function parseAddressPool(s: string): { base: string; size: number } {
  const fields = new Map(s.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")).trim().toLowerCase(), kv.slice(kv.indexOf("=") + 1).trim()] as const));
  const base = fields.get("base") ?? "";
  const size = Number(fields.get("size"));
  return checkPool({ base, size }, s);
}

function checkPool(p: { base?: unknown; size?: unknown }, shown: string): { base: string; size: number } {
  const base = String(p.base ?? "");
  const size = Number(p.size);
  if (!CIDR4.test(base)) throw invalidParameter(`invalid default address pool ${shown}: base must be an IPv4 CIDR (this engine has no IPv6 networking)`);
  const bits = Number(base.split("/")[1]);
  if (!Number.isInteger(size) || size < bits || size > 30) throw invalidParameter(`invalid default address pool ${shown}: size must be between the base's prefix length (${bits}) and 30`);
  return { base, size };
}

function checkBip(bip: string): string {
  if (!CIDR4.test(bip)) throw invalidParameter(`invalid --bip ${bip}: expected an IPv4 address with a prefix length, e.g. 172.17.0.1/16`);
  return bip;
}

/** Flags win over daemon.json, which wins over defaults (Docker refuses conflicts; we let flags win). */
export async function loadConfig(argv: string[]): Promise<DaemonConfig | "help" | "version"> {
  const flags: Partial<DaemonConfig> = {};
  const hosts: string[] = [];
  const ulimits: DaemonConfig["defaultUlimits"] = [];
  const net: Partial<NetworkConfig> = {};
  const pools: NonNullable<NetworkConfig["defaultAddressPools"]> = [];
  let logDriver: string | undefined;
  const logOpts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw invalidParameter(`flag needs an argument: ${arg}`);
      return v;
    };
    switch (arg) {
      case "-h": case "--help": return "help";
      case "-v": case "--version": return "version";
      case "-H": case "--host": hosts.push(next()); break;
      case "--data-root": flags.dataRoot = next(); break;
      case "--exec-root": flags.execRoot = next(); break;
      case "-l": case "--log-level": {
        const l = next();
        if (!isLogLevel(l)) throw invalidParameter(`unable to parse logging level: ${l}`);
        flags.logLevel = l;
        break;
      }
      case "-D": case "--debug": flags.logLevel = "debug"; break;
      case "--runtime": flags.runtimePath = next(); break;
      case "--monitor": case "--conmon": flags.monitorPath = next(); break;
      case "--init-path": flags.initPath = next(); break;
      case "--create-timeout": flags.createTimeoutMs = parseTimeout(arg, next()); break;
      case "--default-ulimit": ulimits.push(parseUlimit(next())); break;
      case "--log-driver": logDriver = next(); break;
      case "--log-opt": {
        const kv = next();
        const eq = kv.indexOf("=");
        if (eq <= 0) throw invalidParameter(`invalid argument "${kv}" for "--log-opt" flag: invalid key value pair format: ${kv}`);
        logOpts[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case "--config-file": flags.configFile = next(); break;
      case "--bip": net.bip = checkBip(next()); break;
      case "-b": case "--bridge": net.bridge = next(); break;
      case "--default-address-pool": pools.push(parseAddressPool(next())); break;
      // Boolean flags take their value only as --flag=value, as Go's flag package does.
      case "--iptables": net.iptables = value === undefined ? true : parseBool(arg, value); break;
      case "--ip-forward": net.ipForward = value === undefined ? true : parseBool(arg, value); break;
      case "--userland-proxy": net.userlandProxy = value === undefined ? true : parseBool(arg, value); break;
      default: throw invalidParameter(`unknown flag: ${arg}\n\n${USAGE}`);
    }
  }
  const configFile = flags.configFile ?? DEFAULTS.configFile;
  const file = await readDaemonJSON(configFile, flags.configFile !== undefined);
  const fromFile: Partial<DaemonConfig> = {};
  if (file.hosts) fromFile.hosts = file.hosts as string[];
  if (file["data-root"]) fromFile.dataRoot = String(file["data-root"]);
  if (file["exec-root"]) fromFile.execRoot = String(file["exec-root"]);
  if (file["log-level"]) {
    const l = String(file["log-level"]);
    if (!isLogLevel(l)) throw invalidParameter(`unable to parse logging level: ${l}`);
    fromFile.logLevel = l;
  }
  if (file["default-runtime"] === "runc" && file.runtimes && (file.runtimes as Record<string, { path?: string }>).runc?.path) {
    fromFile.runtimePath = (file.runtimes as Record<string, { path: string }>).runc.path;
  }
  if (file["init-path"]) fromFile.initPath = String(file["init-path"]);
  if (file["create-timeout"] !== undefined) fromFile.createTimeoutMs = parseTimeout(`create-timeout in ${configFile}`, String(file["create-timeout"]));
  if (file.monitor || file.conmon) fromFile.monitorPath = String(file.monitor || file.conmon);
  if (file["default-ulimits"]) {
    fromFile.defaultUlimits = Object.values(file["default-ulimits"] as Record<string, { Name: string; Soft: number; Hard: number }>);
  }
  const fileNet: Partial<NetworkConfig> = {};
  if (file.bip !== undefined) fileNet.bip = checkBip(String(file.bip));
  if (file.bridge !== undefined) fileNet.bridge = String(file.bridge);
  if (file["default-address-pools"] !== undefined) {
    const list = file["default-address-pools"];
    if (!Array.isArray(list)) throw invalidParameter(`unable to configure the Pier daemon with file ${configFile}: default-address-pools must be a list of {"base", "size"}`);
    fileNet.defaultAddressPools = list.map((p: { base?: unknown; size?: unknown }) => checkPool(p ?? {}, JSON.stringify(p)));
  }
  for (const [key, field] of [["iptables", "iptables"], ["ip-forward", "ipForward"], ["userland-proxy", "userlandProxy"]] as const) {
    const v = file[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw invalidParameter(`unable to configure the Pier daemon with file ${configFile}: ${key} must be true or false`);
    fileNet[field] = v;
  }
  const logConfig = daemonLogConfig(file, configFile, logDriver, logOpts);
  const network: NetworkConfig = { ...DEFAULTS.network, ...fileNet, ...net, ...(pools.length ? { defaultAddressPools: pools } : {}) };
  if (network.bridge && network.bip) throw invalidParameter("You specified -b & --bip, mutually exclusive options. Please specify only one");
  if (network.bridge !== undefined && network.bridge !== "none" && !/^[a-zA-Z0-9_.-]{1,15}$/.test(network.bridge)) throw invalidParameter(`invalid bridge name "${network.bridge}"`);
  return {
    ...DEFAULTS,
    ...fromFile,
    ...flags,
    network,
    logConfig,
    hosts: hosts.length ? hosts : fromFile.hosts ?? DEFAULTS.hosts,
    defaultUlimits: ulimits.length ? ulimits : fromFile.defaultUlimits ?? [],
    configFile,
  };
}

/**
 * The containers' default LogConfig: flags over daemon.json (log-driver, log-opts: a map of
 * strings, as dockerd reads it), checked now so a default no container could use stops pierd.
 */
function daemonLogConfig(file: Record<string, unknown>, configFile: string, flagDriver: string | undefined, flagOpts: Record<string, string>): LogConfig {
  const bad = (why: string) => invalidParameter(`unable to configure the Pier daemon with file ${configFile}: ${why}`);
  const fileDriver = file["log-driver"];
  if (fileDriver !== undefined && typeof fileDriver !== "string") throw bad("log-driver must be a string");
  const fileOpts = file["log-opts"];
  if (fileOpts !== undefined && (typeof fileOpts !== "object" || fileOpts === null || Array.isArray(fileOpts) || Object.values(fileOpts).some((v) => typeof v !== "string"))) {
    throw bad("log-opts must be a map of strings");
  }
  const opts = Object.keys(flagOpts).length ? flagOpts : ((fileOpts as Record<string, string> | undefined) ?? {});
  const lc: LogConfig = { Type: flagDriver || (fileDriver as string | undefined) || DEFAULT_LOG_CONFIG.Type, Config: { ...opts } };
  checkDaemonLogConfig(lc);
  return lc;
}

async function readDaemonJSON(file: string, required: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !required) return {};
    throw invalidParameter(`unable to configure the Pier daemon with file ${file}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (err) {
    throw invalidParameter(`unable to configure the Pier daemon with file ${file}: ${(err as Error).message}`);
  }
}

export { USAGE };
