import * as path from "node:path";
import { invalidParameter } from "../errdefs/index.js";
import { parseSignal } from "../sys/index.js";

// The create request is decoded by Docker into Go structs: a value of the wrong JSON type is a
// 400 ("invalid JSON: json: cannot unmarshal string into Go struct field … of type int64"),
// never a crash deeper in. This checks the fields the engine reads, with Go's wording, and
// normalises the one lenient type: a string Cmd/Entrypoint is a one-element list (strslice).

type Kind = "string" | "bool" | "int" | "uint" | "strings" | "strslice" | "map" | "set" | "object" | "objects" | { [field: string]: Kind } | { each: { [field: string]: Kind } };

const GO_TYPE: Record<string, string> = {
  string: "string",
  bool: "bool",
  int: "int64",
  uint: "uint16",
  strings: "[]string",
  strslice: "strslice.StrSlice",
  map: "map[string]string",
  set: "map[string]struct {}",
  object: "struct",
  objects: "[]struct",
};

const CONFIG: Record<string, Kind> = {
  Hostname: "string", Domainname: "string", User: "string", Image: "string", WorkingDir: "string",
  MacAddress: "string", StopSignal: "string",
  AttachStdin: "bool", AttachStdout: "bool", AttachStderr: "bool", Tty: "bool", OpenStdin: "bool",
  StdinOnce: "bool", NetworkDisabled: "bool", ArgsEscaped: "bool",
  StopTimeout: "int",
  Env: "strings", OnBuild: "strings", Shell: "strings",
  Cmd: "strslice", Entrypoint: "strslice",
  Labels: "map", ExposedPorts: "set", Volumes: "set",
  Healthcheck: { Test: "strslice", Interval: "int", Timeout: "int", StartPeriod: "int", StartInterval: "int", Retries: "int" },
};

const HOST_CONFIG: Record<string, Kind> = {
  ContainerIDFile: "string", NetworkMode: "string", IpcMode: "string", Cgroup: "string", PidMode: "string",
  UTSMode: "string", UsernsMode: "string", CgroupnsMode: "string", CgroupParent: "string",
  CpusetCpus: "string", CpusetMems: "string", VolumeDriver: "string", Runtime: "string", Isolation: "string",
  AutoRemove: "bool", Privileged: "bool", PublishAllPorts: "bool", ReadonlyRootfs: "bool",
  OomKillDisable: "bool", Init: "bool",
  Memory: "int", MemoryReservation: "int", MemorySwap: "int", NanoCpus: "int", CpuPeriod: "int",
  CpuQuota: "int", CpuRealtimePeriod: "int", CpuRealtimeRuntime: "int", CpuShares: "int",
  KernelMemory: "int", KernelMemoryTCP: "int", ShmSize: "int", PidsLimit: "int", MemorySwappiness: "int",
  OomScoreAdj: "int", CpuCount: "int", CpuPercent: "int", IOMaximumIOps: "int", IOMaximumBandwidth: "int",
  BlkioWeight: "uint",
  Binds: "strings", CapAdd: "strings", CapDrop: "strings", Dns: "strings", DnsOptions: "strings",
  DnsSearch: "strings", ExtraHosts: "strings", GroupAdd: "strings", Links: "strings", SecurityOpt: "strings",
  VolumesFrom: "strings", MaskedPaths: "strings", ReadonlyPaths: "strings", DeviceCgroupRules: "strings",
  Tmpfs: "map", Sysctls: "map", StorageOpt: "map",
  RestartPolicy: { Name: "string", MaximumRetryCount: "int" },
  LogConfig: { Type: "string", Config: "map" },
  PortBindings: "object",
  Mounts: { each: { Type: "string", Source: "string", Target: "string", ReadOnly: "bool", Consistency: "string", BindOptions: "object", VolumeOptions: "object", TmpfsOptions: "object" } },
  Devices: { each: { PathOnHost: "string", PathInContainer: "string", CgroupPermissions: "string" } },
  Ulimits: { each: { Name: "string", Soft: "int", Hard: "int" } },
};

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "bool";
  return typeof v; // string, number, object
}

function check(v: unknown, kind: Kind, where: string): unknown {
  if (v === null || v === undefined) return v; // Go leaves the zero value
  const fail = (what = jsonType(v)) => {
    const goType = typeof kind === "string" ? GO_TYPE[kind] : "each" in kind ? "[]struct" : "struct";
    throw invalidParameter(`invalid JSON: json: cannot unmarshal ${what} into Go struct field ${where} of type ${goType}`);
  };
  if (typeof kind === "object") {
    if ("each" in kind) {
      if (!Array.isArray(v)) fail();
      (v as unknown[]).forEach((item, i) => checkObject(item, kind.each as Record<string, Kind>, `${where}[${i}]`));
      return v;
    }
    checkObject(v, kind as Record<string, Kind>, where);
    return v;
  }
  switch (kind) {
    case "string":
      if (typeof v !== "string") fail();
      return v;
    case "bool":
      if (typeof v !== "boolean") fail();
      return v;
    case "int":
    case "uint":
      if (typeof v !== "number") fail();
      if (!Number.isInteger(v) || (kind === "uint" && (v as number) < 0)) fail(`number ${v}`);
      return v;
    case "strings":
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) fail(Array.isArray(v) ? jsonType(v.find((s) => typeof s !== "string")) : undefined);
      return v;
    case "strslice":
      if (typeof v === "string") return [v];
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) fail();
      return v;
    case "map":
      if (typeof v !== "object" || Array.isArray(v) || Object.values(v as object).some((s) => typeof s !== "string")) fail();
      return v;
    case "set":
    case "object":
      if (typeof v !== "object" || Array.isArray(v)) fail();
      return v;
    case "objects":
      if (!Array.isArray(v)) fail();
      return v;
  }
  return v;
}

function checkObject(v: unknown, fields: Record<string, Kind>, where: string): void {
  if (v === null || v === undefined) return;
  if (typeof v !== "object" || Array.isArray(v)) {
    throw invalidParameter(`invalid JSON: json: cannot unmarshal ${jsonType(v)} into Go struct field ${where} of type struct`);
  }
  const o = v as Record<string, unknown>;
  for (const [field, kind] of Object.entries(fields)) {
    if (field in o) o[field] = check(o[field], kind, `${where}.${field}`);
  }
}

/** Check (and normalise in place) a create request's Config and HostConfig. */
export function validateCreateRequest(config: Record<string, unknown>, hostConfig: Record<string, unknown>): void {
  checkObject(config, CONFIG, "ContainerConfigWrapper");
  checkObject(hostConfig, HOST_CONFIG, "HostConfig.HostConfig");
  checkWorkingDir(config);
  const cgroupns = hostConfig.CgroupnsMode as string | undefined;
  if (cgroupns && cgroupns !== "host" && cgroupns !== "private") throw invalidParameter(`invalid cgroup namespace mode: ${cgroupns}`);
  checkStopSignal(config.StopSignal as string | undefined);
  for (const e of (config.Env as string[] | null | undefined) ?? []) checkEnv(e);
}

/** moby's translateWorkingDir: absolute, then cleaned ("/a/../b/" is "/b"). */
function checkWorkingDir(config: Record<string, unknown>): void {
  const wd = config.WorkingDir as string | undefined;
  if (!wd) return;
  if (!wd.startsWith("/")) throw invalidParameter(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
  config.WorkingDir = path.posix.normalize(wd).replace(/(.)\/$/, "$1");
}

/** moby's signal.ParseSignal: any number but 0 (Go's Atoi), or a known name with or without SIG. */
function checkStopSignal(sig: string | undefined): void {
  if (!sig) return;
  const ok = /^[+-]?\d+$/.test(sig) ? Number(sig) !== 0 : parseSignal(sig) !== undefined;
  if (!ok) throw invalidParameter(`Invalid signal: ${sig}`);
}

/** moby's opts.ValidateEnv: a variable needs a name ("", "=x" are refused). */
function checkEnv(e: string): void {
  if (e.split("=", 1)[0] === "") throw invalidParameter(`invalid environment variable: ${e}`);
}
