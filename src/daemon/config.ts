import { promises as fsp } from "node:fs";
import { invalidParameter } from "../errdefs/index.js";
import { isLogLevel, type LogLevel } from "../lib/index.js";

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

/** Flags win over daemon.json, which wins over defaults (Docker refuses conflicts; we let flags win). */
export async function loadConfig(argv: string[]): Promise<DaemonConfig | "help" | "version"> {
  const flags: Partial<DaemonConfig> = {};
  const hosts: string[] = [];
  const ulimits: DaemonConfig["defaultUlimits"] = [];
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
      case "--default-ulimit": ulimits.push(parseUlimit(next())); break;
      case "--config-file": flags.configFile = next(); break;
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
  if (file.monitor || file.conmon) fromFile.monitorPath = String(file.monitor || file.conmon);
  if (file["default-ulimits"]) {
    fromFile.defaultUlimits = Object.values(file["default-ulimits"] as Record<string, { Name: string; Soft: number; Hard: number }>);
  }
  return {
    ...DEFAULTS,
    ...fromFile,
    ...flags,
    hosts: hosts.length ? hosts : fromFile.hosts ?? DEFAULTS.hosts,
    defaultUlimits: ulimits.length ? ulimits : fromFile.defaultUlimits ?? [],
    configFile,
  };
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
