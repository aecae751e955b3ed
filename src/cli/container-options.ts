// `run`/`create` flags and the create body the docker CLI builds from them
// (Config + HostConfig + NetworkingConfig, fields in Go's marshalling order).

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Option, type Command } from "commander";
import {
  FlagError,
  effectiveCaps,
  parseDevice,
  parseEnvValue,
  parseExtraHost,
  parseKeyValueFile,
  parseLabels,
  parseMemBytes,
  parseMemSwap,
  parseMount,
  parsePublish,
  parseRestartPolicy,
  parseSecurityOpts,
  parseSysctls,
  parseTmpfs,
  parseUlimit,
  parseVolumes,
  sortKeys,
} from "./flag-parsers.js";
import { parseCpus, parseDurationNs } from "./units.js";
import { CliError } from "./cli-context.js";
import { parseGpus, parseKeyValues, parseStorageOpts, parseThrottleDevice, parseWeightDevice } from "./resource-flags.js";

/** The values commander gives for the container flags (camel-cased long names). */
export interface ContainerFlags {
  attach?: string[];
  detach?: boolean;
  detachKeys?: string;
  sigProxy?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  label?: string[];
  labelFile?: string[];
  cidfile?: string;
  pull?: string;
  quiet?: boolean;
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  volumesFrom?: string[];
  volumeDriver?: string;
  readOnly?: boolean;
  init?: boolean;
  privileged?: boolean;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  memorySwappiness?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  blkioWeight?: string;
  pidsLimit?: string;
  ulimit?: string[];
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  groupAdd?: string[];
  shmSize?: string;
  sysctl?: string[];
  device?: string[];
  deviceCgroupRule?: string[];
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  restart?: string;
  network?: string[];
  net?: string[];
  networkAlias?: string[];
  ip?: string;
  ip6?: string;
  link?: string[];
  hostname?: string;
  domainname?: string;
  stopSignal?: string;
  stopTimeout?: string;
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthcheck?: boolean;
  addHost?: string[];
  dns?: string[];
  dnsOption?: string[];
  dnsSearch?: string[];
  platform?: string;
  logDriver?: string;
  logOpt?: string[];
  ipc?: string;
  pid?: string;
  uts?: string;
  userns?: string;
  cgroupns?: string;
  cgroupParent?: string;
  runtime?: string;
  isolation?: string;
  annotation?: string[];
  blkioWeightDevice?: string[];
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuCount?: string;
  cpuPercent?: string;
  ioMaxbandwidth?: string;
  ioMaxiops?: string;
  kernelMemory?: string;
  gpus?: string;
  linkLocalIp?: string[];
  macAddress?: string;
  storageOpt?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Register Docker's container flags on `run` or `create`. */
export function addContainerFlags(cmd: Command, forRun: boolean): Command {
  const list = (flags: string, description: string) => cmd.option(flags, description, collect);
  list("-a, --attach <stream>", "Attach to STDIN, STDOUT or STDERR");
  if (forRun) {
    cmd.option("-d, --detach", "Run container in background and print container ID");
    cmd.option("--detach-keys <keys>", "Override the key sequence for detaching a container");
    cmd.option("--sig-proxy", "Proxy received signals to the process (default true)");
    cmd.option("--no-sig-proxy", "Do not proxy received signals to the process");
  }
  cmd.option("-i, --interactive", "Keep STDIN open even if not attached");
  cmd.option("-t, --tty", "Allocate a pseudo-TTY");
  cmd.option("--rm", "Automatically remove the container and its associated anonymous volumes when it exits");
  cmd.option("--name <name>", "Assign a name to the container");
  list("-e, --env <var>", "Set environment variables");
  list("--env-file <file>", "Read in a file of environment variables");
  cmd.option("-w, --workdir <dir>", "Working directory inside the container");
  cmd.option("-u, --user <user>", "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd.option("--entrypoint <command>", "Overwrite the default ENTRYPOINT of the image");
  list("-l, --label <label>", "Set meta data on a container");
  list("--label-file <file>", "Read in a line delimited file of labels");
  cmd.option("--cidfile <file>", "Write the container ID to the file");
  cmd.addOption(new Option("--pull <policy>", 'Pull image before running ("always", "missing", "never")').default("missing"));
  cmd.option("-q, --quiet", "Suppress the pull output");
  list("-v, --volume <spec>", "Bind mount a volume");
  list("--mount <spec>", "Attach a filesystem mount to the container");
  list("--tmpfs <spec>", "Mount a tmpfs directory");
  list("--volumes-from <container>", "Mount volumes from the specified container(s)");
  cmd.option("--volume-driver <driver>", "Optional volume driver for the container");
  cmd.option("--read-only", "Mount the container's root filesystem as read only");
  cmd.option("--init", "Run an init inside the container that forwards signals and reaps processes");
  cmd.option("--privileged", "Give extended privileges to this container");
  cmd.option("-m, --memory <bytes>", "Memory limit");
  cmd.option("--memory-swap <bytes>", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  cmd.option("--memory-reservation <bytes>", "Memory soft limit");
  cmd.option("--memory-swappiness <int>", "Tune container memory swappiness (0 to 100)");
  cmd.option("--cpus <decimal>", "Number of CPUs");
  cmd.option("-c, --cpu-shares <int>", "CPU shares (relative weight)");
  cmd.option("--cpuset-cpus <cpus>", "CPUs in which to allow execution (0-3, 0,1)");
  cmd.option("--cpuset-mems <mems>", "MEMs in which to allow execution (0-3, 0,1)");
  cmd.option("--cpu-period <int>", "Limit CPU CFS (Completely Fair Scheduler) period");
  cmd.option("--cpu-quota <int>", "Limit CPU CFS (Completely Fair Scheduler) quota");
  cmd.option("--blkio-weight <uint16>", "Block IO (relative weight), between 10 and 1000, or 0 to disable");
  cmd.option("--pids-limit <int>", "Tune container pids limit (set -1 for unlimited)");
  list("--ulimit <ulimit>", "Ulimit options");
  list("--cap-add <cap>", "Add Linux capabilities");
  list("--cap-drop <cap>", "Drop Linux capabilities");
  list("--security-opt <opt>", "Security Options");
  list("--group-add <group>", "Add additional groups to join");
  cmd.option("--shm-size <bytes>", "Size of /dev/shm");
  list("--sysctl <kv>", "Sysctl options");
  list("--device <device>", "Add a host device to the container");
  list("--device-cgroup-rule <rule>", "Add a rule to the cgroup allowed devices list");
  cmd.option("--oom-kill-disable", "Disable OOM Killer");
  cmd.option("--oom-score-adj <int>", "Tune host's OOM preferences (-1000 to 1000)");
  cmd.addOption(new Option("--restart <policy>", "Restart policy to apply when a container exits").default("no"));
  list("--network <network>", "Connect a container to a network");
  cmd.addOption(new Option("--net <network>", "Connect a container to a network").argParser(collect).hideHelp());
  list("--network-alias <alias>", "Add network-scoped alias for the container");
  cmd.option("--ip <address>", "IPv4 address (e.g., 172.30.100.104)");
  cmd.option("--ip6 <address>", "IPv6 address (e.g., 2001:db8::33)");
  list("--link <link>", "Add link to another container");
  cmd.option("-h, --hostname <name>", "Container host name");
  cmd.option("--domainname <name>", "Container NIS domain name");
  cmd.option("--stop-signal <signal>", "Signal to stop the container");
  cmd.option("--stop-timeout <int>", "Timeout (in seconds) to stop a container");
  list("-p, --publish <spec>", "Publish a container's port(s) to the host");
  cmd.option("-P, --publish-all", "Publish all exposed ports to random ports");
  list("--expose <port>", "Expose a port or a range of ports");
  cmd.option("--health-cmd <command>", "Command to run to check health");
  cmd.option("--health-interval <duration>", "Time between running the check (ms|s|m|h)");
  cmd.option("--health-timeout <duration>", "Maximum time to allow one check to run (ms|s|m|h)");
  cmd.option("--health-retries <int>", "Consecutive failures needed to report unhealthy");
  cmd.option("--health-start-period <duration>", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)");
  cmd.option("--health-start-interval <duration>", "Time between running the check during the start period (ms|s|m|h)");
  cmd.option("--no-healthcheck", "Disable any container-specified HEALTHCHECK");
  list("--add-host <host:ip>", "Add a custom host-to-IP mapping (host:ip)");
  list("--dns <ip>", "Set custom DNS servers");
  list("--dns-option <option>", "Set DNS options");
  list("--dns-search <domain>", "Set custom DNS search domains");
  cmd.option("--platform <platform>", "Set platform if server is multi-platform capable");
  cmd.option("--log-driver <driver>", "Logging driver for the container");
  list("--log-opt <opt>", "Log driver options");
  cmd.option("--ipc <mode>", "IPC mode to use");
  cmd.option("--pid <mode>", "PID namespace to use");
  cmd.option("--uts <mode>", "UTS namespace to use");
  cmd.option("--userns <mode>", "User namespace to use");
  cmd.option("--cgroupns <mode>", "Cgroup namespace to use (host|private)");
  cmd.option("--cgroup-parent <parent>", "Optional parent cgroup for the container");
  cmd.option("--runtime <runtime>", "Runtime to use for this container");
  cmd.option("--isolation <isolation>", "Container isolation technology");
  list("--annotation <map>", "Add an annotation to the container (passed through to the OCI runtime)");
  list("--blkio-weight-device <list>", "Block IO weight (relative device weight)");
  list("--device-read-bps <list>", "Limit read rate (bytes per second) from a device");
  list("--device-write-bps <list>", "Limit write rate (bytes per second) to a device");
  list("--device-read-iops <list>", "Limit read rate (IO per second) from a device");
  list("--device-write-iops <list>", "Limit write rate (IO per second) to a device");
  cmd.option("--cpu-rt-period <int>", "Limit CPU real-time period in microseconds");
  cmd.option("--cpu-rt-runtime <int>", "Limit CPU real-time runtime in microseconds");
  cmd.option("--cpu-count <int>", "CPU count (Windows only)");
  cmd.option("--cpu-percent <int>", "CPU percent (Windows only)");
  cmd.option("--io-maxbandwidth <bytes>", "Maximum IO bandwidth limit for the system drive (Windows only)");
  cmd.option("--io-maxiops <uint>", "Maximum IOps limit for the system drive (Windows only)");
  // Accepted and checked, but not sent: API 1.42 dropped kernel memory limits, as docker's CLI knows.
  cmd.option("--kernel-memory <bytes>", "Kernel memory limit");
  cmd.option("--gpus <gpu-request>", "GPU devices to add to the container ('all' to pass all GPUs)");
  list("--link-local-ip <list>", "Container IPv4/IPv6 link-local addresses");
  cmd.option("--mac-address <string>", "Container MAC address (e.g., 92:d0:c6:0a:29:33)");
  list("--storage-opt <list>", "Storage driver options for the container");
  // Content trust needs a notary server this engine does not have; accepted, as docker's default.
  cmd.addOption(new Option("--disable-content-trust", "Skip image verification").default(true));
  return cmd;
}

export interface CreateRequest {
  name?: string;
  platform?: string;
  image: string;
  pull: "always" | "missing" | "never";
  body: Record<string, unknown>;
}

/** opts.ValidateIPAddress for --dns: an IP address, written back in its canonical form. */
function validateDnsAddress(value: string): string {
  const ip = value.trim();
  const kind = isIP(ip.replace(/%.*$/, ""));
  if (kind === 0) throw new FlagError(`invalid argument "${value}" for "--dns" flag: IP address is not correctly formatted: ${value}`);
  return ip;
}

function intFlag(value: string | undefined, flag: string, dflt = 0): number {
  if (value === undefined) return dflt;
  if (!/^[+-]?\d+$/.test(value.trim())) {
    throw new FlagError(`invalid argument "${value}" for "${flag}" flag: strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  return Number(value);
}

function durationFlag(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  try {
    return parseDurationNs(value);
  } catch (err) {
    throw new FlagError(`invalid argument "${value}" for "${flag}" flag: ${(err as Error).message}`);
  }
}

const emptyEndpoint = () => ({
  IPAMConfig: null as Record<string, unknown> | null,
  Links: null as string[] | null,
  Aliases: null as string[] | null,
  MacAddress: "",
  DriverOpts: null,
  GwPriority: 0,
  NetworkID: "",
  EndpointID: "",
  Gateway: "",
  IPAddress: "",
  IPPrefixLen: 0,
  IPv6Gateway: "",
  GlobalIPv6Address: "",
  GlobalIPv6PrefixLen: 0,
  DNSNames: null,
});

const USER_DEFINED = (mode: string) => !["default", "bridge", "host", "none"].includes(mode) && !mode.startsWith("container:");

/**
 * Build the create request from the flags, the image and the command, as `docker run`/`create`
 * would send it. `forRun` applies run's detach rule (nothing attached with -d).
 */
export function buildCreateRequest(
  flags: ContainerFlags,
  image: string,
  args: readonly string[],
  options: { forRun: boolean; env?: NodeJS.ProcessEnv; cwd?: string; consoleSize?: [number, number] } = { forRun: false },
): CreateRequest {
  const env = options.env ?? process.env;
  const pull = (flags.pull ?? "missing").toLowerCase();
  if (!["always", "missing", "never"].includes(pull)) {
    throw new FlagError(`invalid pull option: '${flags.pull}': must be one of "always", "missing" or "never"`);
  }

  // attach
  let attachStdin = false;
  let attachStdout = false;
  let attachStderr = false;
  const attach = flags.attach ?? [];
  if (attach.length > 0) {
    for (const a of attach) {
      switch (a.toLowerCase()) {
        case "stdin":
          attachStdin = true;
          break;
        case "stdout":
          attachStdout = true;
          break;
        case "stderr":
          attachStderr = true;
          break;
        default:
          throw new FlagError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
      }
    }
  } else {
    if (flags.interactive) attachStdin = true;
    attachStdout = true;
    attachStderr = true;
  }
  const openStdin = !!flags.interactive;
  let stdinOnce = openStdin && attachStdin;
  if (options.forRun && flags.detach) {
    // Found by docker's runContainer, not its flag parser: a plain error, exit 1.
    if (attach.length > 0) throw new CliError("conflicting options: cannot specify both --attach and --detach");
    attachStdin = attachStdout = attachStderr = false;
    stdinOnce = false;
  }

  // environment and labels
  const envList = [
    ...(flags.envFile ?? []).flatMap((f) => parseKeyValueFile(f, (k) => env[k])),
    ...(flags.env ?? []).map((e) => parseEnvValue(e, env)),
  ];
  const labels = parseLabels(flags.labelFile ?? [], flags.label ?? []);

  // ports and volumes
  const { exposed, bindings } = parsePublish(flags.publish ?? [], flags.expose ?? []);
  const { binds, volumes } = parseVolumes(flags.volume ?? [], options.cwd);
  const mounts = (flags.mount ?? []).map(parseMount);

  // entrypoint and command
  let entrypoint: string[] | null = null;
  if (flags.entrypoint !== undefined) entrypoint = [flags.entrypoint];
  const cmd = args.length > 0 ? [...args] : null;

  // healthcheck
  let healthcheck: Record<string, unknown> | undefined;
  const interval = durationFlag(flags.healthInterval, "--health-interval");
  const timeout = durationFlag(flags.healthTimeout, "--health-timeout");
  const startPeriod = durationFlag(flags.healthStartPeriod, "--health-start-period");
  const startInterval = durationFlag(flags.healthStartInterval, "--health-start-interval");
  const retries = intFlag(flags.healthRetries, "--health-retries");
  const haveHealth = !!flags.healthCmd || interval !== 0 || timeout !== 0 || startPeriod !== 0 || retries !== 0 || startInterval !== 0;
  if (flags.healthcheck === false) {
    if (haveHealth) throw new FlagError("--no-healthcheck conflicts with --health-* options");
    healthcheck = { Test: ["NONE"] };
  } else if (haveHealth) {
    if (interval < 0) throw new FlagError("--health-interval cannot be negative");
    if (timeout < 0) throw new FlagError("--health-timeout cannot be negative");
    if (retries < 0) throw new FlagError("--health-retries cannot be negative");
    if (startPeriod < 0) throw new FlagError("--health-start-period cannot be negative");
    if (startInterval < 0) throw new FlagError("--health-start-interval cannot be negative");
    healthcheck = {};
    if (flags.healthCmd) healthcheck["Test"] = ["CMD-SHELL", flags.healthCmd];
    if (interval) healthcheck["Interval"] = interval;
    if (timeout) healthcheck["Timeout"] = timeout;
    if (startPeriod) healthcheck["StartPeriod"] = startPeriod;
    if (startInterval) healthcheck["StartInterval"] = startInterval;
    if (retries) healthcheck["Retries"] = retries;
  }

  // resources
  const memory = flags.memory !== undefined ? parseMemBytes(flags.memory, "-m, --memory") : 0;
  const memorySwap = flags.memorySwap !== undefined ? parseMemSwap(flags.memorySwap) : 0;
  const memoryReservation = flags.memoryReservation !== undefined ? parseMemBytes(flags.memoryReservation, "--memory-reservation") : 0;
  const shmSize = flags.shmSize !== undefined ? parseMemBytes(flags.shmSize, "--shm-size") : 0;
  let nanoCpus = 0;
  if (flags.cpus !== undefined) {
    try {
      nanoCpus = parseCpus(flags.cpus);
    } catch (err) {
      throw new FlagError(`invalid argument "${flags.cpus}" for "--cpus" flag: ${(err as Error).message}`);
    }
  }
  const ulimits = (flags.ulimit ?? []).map(parseUlimit);
  // Later --ulimit flags for the same name replace earlier ones.
  const ulimitByName = new Map(ulimits.map((u) => [u.Name, u]));
  const devices = (flags.device ?? []).map(parseDevice);
  const { capAdd, capDrop } = effectiveCaps(flags.capAdd ?? [], flags.capDrop ?? []);
  const securityOpt = flags.securityOpt?.length ? parseSecurityOpts(flags.securityOpt) : null;
  const extraHosts = flags.addHost?.length ? flags.addHost.map(parseExtraHost) : null;
  const sysctls = flags.sysctl?.length ? parseSysctls(flags.sysctl) : undefined;
  const tmpfs = flags.tmpfs?.length ? parseTmpfs(flags.tmpfs) : undefined;

  const restart = parseRestartPolicy(flags.restart ?? "no");
  if (flags.rm && restart.Name !== "no" && restart.Name !== "") {
    throw new FlagError("conflicting options: cannot specify both --restart and --rm");
  }

  // networking
  const networks = [...(flags.network ?? []), ...(flags.net ?? [])];
  const networkMode = networks[0] ?? "default";
  const endpoints: Record<string, ReturnType<typeof emptyEndpoint>> = {};
  const withOptions = (ep: ReturnType<typeof emptyEndpoint>) => {
    if (flags.networkAlias?.length) ep.Aliases = [...flags.networkAlias];
    if (flags.ip || flags.ip6 || flags.linkLocalIp?.length) {
      const ipam: Record<string, unknown> = {};
      if (flags.ip) ipam["IPv4Address"] = flags.ip;
      if (flags.ip6) ipam["IPv6Address"] = flags.ip6;
      if (flags.linkLocalIp?.length) ipam["LinkLocalIPs"] = [...flags.linkLocalIp];
      ep.IPAMConfig = ipam;
    }
    if (flags.macAddress) ep.MacAddress = flags.macAddress;
    if (flags.link?.length && USER_DEFINED(networkMode)) ep.Links = [...flags.link];
    return ep;
  };
  const hasEndpointOptions = () =>
    !!(flags.networkAlias?.length || flags.ip || flags.ip6 || flags.linkLocalIp?.length || flags.macAddress || (flags.link?.length && USER_DEFINED(networkMode)));
  if (networks.length === 0) {
    if (flags.networkAlias?.length) throw new FlagError("network-scoped aliases are only supported for user-defined networks");
    endpoints["default"] = withOptions(emptyEndpoint());
  } else {
    networks.forEach((n, i) => {
      if (n in endpoints) throw new FlagError(`network "${n}" is specified multiple times`);
      if (i === 0 && networks.length === 1 && !hasEndpointOptions()) return;
      endpoints[n] = i === 0 ? withOptions(emptyEndpoint()) : emptyEndpoint();
    });
    const userDefined = networks.some(USER_DEFINED);
    const builtin = networks.some((n) => !USER_DEFINED(n));
    if (userDefined && builtin) throw new FlagError("conflicting options: cannot attach both user-defined and non-user-defined network-modes");
  }

  // opts.ConvertKVStringsToMap: "key" alone is the key with an empty value; the daemon judges it.
  const logConfig: Record<string, string> = {};
  for (const opt of flags.logOpt ?? []) {
    const eq = opt.indexOf("=");
    if (eq < 0) logConfig[opt] = "";
    else logConfig[opt.slice(0, eq)] = opt.slice(eq + 1);
  }
  if (flags.logDriver === "none" && (flags.logOpt ?? []).length > 0) throw new FlagError("invalid logging opts for driver none");

  const config: Record<string, unknown> = {
    Hostname: flags.hostname ?? "",
    Domainname: flags.domainname ?? "",
    User: flags.user ?? "",
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
  };
  if (Object.keys(exposed).length) config["ExposedPorts"] = exposed;
  Object.assign(config, {
    Tty: !!flags.tty,
    OpenStdin: openStdin,
    StdinOnce: stdinOnce,
    Env: envList.length ? envList : null,
    Cmd: cmd,
  });
  if (healthcheck) config["Healthcheck"] = healthcheck;
  Object.assign(config, {
    Image: image,
    Volumes: volumes,
    WorkingDir: flags.workdir ?? "",
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: labels,
  });
  if (flags.stopSignal) config["StopSignal"] = flags.stopSignal;
  if (flags.stopTimeout !== undefined) config["StopTimeout"] = intFlag(flags.stopTimeout, "--stop-timeout");

  const annotations = parseKeyValues(flags.annotation);
  const storageOpt = parseStorageOpts(flags.storageOpt);
  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: flags.cidfile ?? "",
    LogConfig: { Type: flags.logDriver ?? "", Config: sortKeys(logConfig) },
    NetworkMode: networkMode,
    PortBindings: bindings,
    RestartPolicy: restart,
    AutoRemove: !!flags.rm,
    VolumeDriver: flags.volumeDriver ?? "",
    VolumesFrom: flags.volumesFrom?.length ? [...flags.volumesFrom] : null,
    ConsoleSize: options.consoleSize ?? [0, 0],
    ...(annotations ? { Annotations: annotations } : {}),
    CapAdd: capAdd,
    CapDrop: capDrop,
    CgroupnsMode: flags.cgroupns ?? "",
    Dns: (flags.dns ?? []).map(validateDnsAddress),
    DnsOptions: [...(flags.dnsOption ?? [])],
    DnsSearch: [...(flags.dnsSearch ?? [])],
    ExtraHosts: extraHosts,
    GroupAdd: flags.groupAdd?.length ? [...flags.groupAdd] : null,
    IpcMode: flags.ipc ?? "",
    Cgroup: "",
    Links: flags.link?.length ? [...flags.link] : null,
    OomScoreAdj: intFlag(flags.oomScoreAdj, "--oom-score-adj"),
    PidMode: flags.pid ?? "",
    Privileged: !!flags.privileged,
    PublishAllPorts: !!flags.publishAll,
    ReadonlyRootfs: !!flags.readOnly,
    SecurityOpt: securityOpt,
  };
  if (storageOpt) hostConfig["StorageOpt"] = storageOpt;
  if (tmpfs) hostConfig["Tmpfs"] = tmpfs;
  Object.assign(hostConfig, {
    UTSMode: flags.uts ?? "",
    UsernsMode: flags.userns ?? "",
    ShmSize: shmSize,
  });
  if (sysctls) hostConfig["Sysctls"] = sysctls;
  if (flags.runtime) hostConfig["Runtime"] = flags.runtime;
  Object.assign(hostConfig, {
    Isolation: flags.isolation ?? "",
    CpuShares: intFlag(flags.cpuShares, "-c, --cpu-shares"),
    Memory: memory,
    NanoCpus: nanoCpus,
    CgroupParent: flags.cgroupParent ?? "",
    BlkioWeight: intFlag(flags.blkioWeight, "--blkio-weight"),
    BlkioWeightDevice: (flags.blkioWeightDevice ?? []).map((v) => parseWeightDevice(v)),
    BlkioDeviceReadBps: (flags.deviceReadBps ?? []).map((v) => parseThrottleDevice(v, "bps", "--device-read-bps")),
    BlkioDeviceWriteBps: (flags.deviceWriteBps ?? []).map((v) => parseThrottleDevice(v, "bps", "--device-write-bps")),
    BlkioDeviceReadIOps: (flags.deviceReadIops ?? []).map((v) => parseThrottleDevice(v, "iops", "--device-read-iops")),
    BlkioDeviceWriteIOps: (flags.deviceWriteIops ?? []).map((v) => parseThrottleDevice(v, "iops", "--device-write-iops")),
    CpuPeriod: intFlag(flags.cpuPeriod, "--cpu-period"),
    CpuQuota: intFlag(flags.cpuQuota, "--cpu-quota"),
    CpuRealtimePeriod: intFlag(flags.cpuRtPeriod, "--cpu-rt-period"),
    CpuRealtimeRuntime: intFlag(flags.cpuRtRuntime, "--cpu-rt-runtime"),
    CpusetCpus: flags.cpusetCpus ?? "",
    CpusetMems: flags.cpusetMems ?? "",
    Devices: devices,
    DeviceCgroupRules: flags.deviceCgroupRule?.length ? [...flags.deviceCgroupRule] : null,
    DeviceRequests: flags.gpus ? [parseGpus(flags.gpus)] : null,
    MemoryReservation: memoryReservation,
    MemorySwap: memorySwap,
    MemorySwappiness: intFlag(flags.memorySwappiness, "--memory-swappiness", -1),
    OomKillDisable: !!flags.oomKillDisable,
    PidsLimit: intFlag(flags.pidsLimit, "--pids-limit"),
    Ulimits: [...ulimitByName.values()],
    CpuCount: intFlag(flags.cpuCount, "--cpu-count"),
    CpuPercent: intFlag(flags.cpuPercent, "--cpu-percent"),
    IOMaximumIOps: intFlag(flags.ioMaxiops, "--io-maxiops"),
    IOMaximumBandwidth: flags.ioMaxbandwidth ? parseMemBytes(flags.ioMaxbandwidth, "--io-maxbandwidth") : 0,
  });
  if (mounts.length) hostConfig["Mounts"] = mounts;
  hostConfig["MaskedPaths"] = null;
  hostConfig["ReadonlyPaths"] = null;
  if (flags.init !== undefined) hostConfig["Init"] = !!flags.init;

  return {
    name: flags.name,
    platform: flags.platform,
    image,
    pull: pull as CreateRequest["pull"],
    body: { ...config, HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: endpoints } },
  };
}

/** Read a cidfile path's absence up front, as Docker refuses to overwrite one. */
export function checkCidfile(file: string | undefined): void {
  if (!file) return;
  try {
    readFileSync(file);
  } catch {
    return;
  }
  throw new FlagError(`container ID file found, make sure the other container isn't running or delete ${file}`);
}
