import { humanDuration } from "../lib/index.js";
import type { ContainerRecord, MountPoint } from "./record.js";
import type { EndpointSettings, NetworkService, NetworkSettings } from "../network/index.js";
import { linksView } from "./links.js";

/** What the views need of the network service. */
export type NetworkView = Pick<NetworkService, "settings" | "summary">;

// The API's two views of a container: the list summary and the inspect document.


function publicMount(m: MountPoint): MountPoint {
  const { Type, Name, Source, Destination, Driver, Mode, RW, Propagation } = m;
  return Name !== undefined && Type === "volume"
    ? { Type, Name, Source, Destination, Driver, Mode, RW, Propagation }
    : { Type, Source, Destination, Mode, RW, Propagation };
}

/**
 * Every HostConfig field moby always writes, at its zero value. Records keep what the client
 * sent: the docker CLI sends them all, but docker-py, dockerode and raw API clients send a few,
 * and their users index attrs["HostConfig"]["Memory"] and the like (Go clients decode the
 * zero value anyway). Fields moby omits when empty (Annotations, Sysctls, Tmpfs, StorageOpt,
 * Init, KernelMemory*) are left out here too.
 */
const HOST_CONFIG_ZERO: Readonly<Record<string, unknown>> = {
  Binds: null, ContainerIDFile: "", LogConfig: { Type: "", Config: {} }, NetworkMode: "", PortBindings: {},
  RestartPolicy: { Name: "", MaximumRetryCount: 0 }, AutoRemove: false, VolumeDriver: "", VolumesFrom: null,
  ConsoleSize: [0, 0], CapAdd: null, CapDrop: null, CgroupnsMode: "", Dns: null, DnsOptions: null, DnsSearch: null,
  ExtraHosts: null, GroupAdd: null, IpcMode: "", Cgroup: "", Links: null, OomScoreAdj: 0, PidMode: "",
  Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: "", UsernsMode: "",
  ShmSize: 0, Isolation: "", CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: "", BlkioWeight: 0,
  BlkioWeightDevice: null, BlkioDeviceReadBps: null, BlkioDeviceWriteBps: null, BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null, CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0,
  CpusetCpus: "", CpusetMems: "", Devices: null, DeviceCgroupRules: null, DeviceRequests: null,
  MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: null, OomKillDisable: false, PidsLimit: null,
  Ulimits: null, CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null, ReadonlyPaths: null,
};

/** The fields whose zero is not null: only they can need a null replaced (once, not per request). */
const NON_NULL_ZEROS = Object.entries(HOST_CONFIG_ZERO).filter(([, zero]) => zero !== null);

/** HostConfig with every field moby writes: a missing field, or a null where moby has a value, is its zero. */
function hostConfigView(hc: ContainerRecord["HostConfig"]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...HOST_CONFIG_ZERO, ...hc };
  // A field the record lacks already holds its zero from the spread; an explicit undefined or a
  // null over a non-null zero does not.
  for (const [k, zero] of NON_NULL_ZEROS) if (out[k] == null) out[k] = zero;
  for (const k in hc) if ((hc as Record<string, unknown>)[k] === undefined && k in HOST_CONFIG_ZERO) out[k] = HOST_CONFIG_ZERO[k];
  return out;
}

/** Config as moby writes it: NetworkDisabled only when true (omitempty), whatever the client sent. */
function configView(config: ContainerRecord["Config"]): ContainerRecord["Config"] {
  if (config.NetworkDisabled !== false) return config;
  const { NetworkDisabled: _n, ...rest } = config;
  return rest;
}

/** What inspect adds beyond the record: the API version asked for and the rootfs's storage facts. */
export interface InspectExtras {
  /** The request's API version as the router gives it (1.44 for "1.44"); older versions see older shapes. */
  version?: number;
  /** GraphDriver.Data: overlay's LowerDir, MergedDir, UpperDir, WorkDir. */
  graphDriverData?: Record<string, string>;
  /** SizeRw and SizeRootFs, only when the client asked for ?size=1. */
  sizes?: ContainerSizes;
}

export interface ContainerSizes {
  SizeRw: number;
  SizeRootFs: number;
}

/** moby's NetworkMode.IsUserDefined: a network the user made, not a mode or a predefined one. */
function isUserDefinedNetwork(name: string): boolean {
  return !["default", "bridge", "host", "none"].includes(name) && !name.startsWith("container:");
}

/**
 * moby's inspect for API < 1.45: a user-defined network's Aliases also carry the container's
 * short ID and hostname (1.45 moved them to DNSNames; old clients still look in Aliases).
 */
function legacyAliases(settings: NetworkSettings, c: ContainerRecord): NetworkSettings {
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(settings.Networks)) {
    networks[name] = isUserDefinedNetwork(name) ? { ...ep, Aliases: [...new Set([...(ep.Aliases ?? []), c.Id.slice(0, 12), c.Config.Hostname ?? ""].filter(Boolean))] } : ep;
  }
  return { ...settings, Networks: networks };
}

export function inspectView(c: ContainerRecord, net: NetworkView, find: (id: string) => ContainerRecord | undefined = () => undefined, extras: InspectExtras = {}): Record<string, unknown> {
  const { anonymousVolumes: _a, stoppedByUser: _s, links: _l, ...pub } = c;
  const settings = net.settings(c.Id, { networkMode: c.HostConfig.NetworkMode, exposedPorts: c.Config.ExposedPorts, portBindings: c.HostConfig.PortBindings as never });
  return {
    ...pub,
    // moby counts a restarting container as running (State.SetRestarting): clients that test
    // State.Running to decide whether to stop or wait rely on it.
    State: c.State.Restarting ? { ...c.State, Running: true } : c.State,
    // dockerd names a log file only for json-file (local's is its own, none keeps none).
    LogPath: c.HostConfig.LogConfig?.Type === "none" || c.HostConfig.LogConfig?.Type === "local" ? "" : c.LogPath,
    // As moby's inspect: rebuilt from the link index with today's names, null without links.
    HostConfig: { ...hostConfigView(c.HostConfig), Links: linksView(c, find) },
    Config: configView(c.Config),
    Mounts: c.Mounts.map(publicMount),
    ExecIDs: null,
    // The spec's GraphDriverData.Data is a non-null map: Go clients and docker-py index into it.
    GraphDriver: { Name: "overlay2", Data: extras.graphDriverData ?? {} },
    ...extras.sizes,
    NetworkSettings: (extras.version ?? Infinity) < 1.45 ? legacyAliases(settings, c) : settings,
  };
}

/** "Up 3 seconds", "Exited (0) 2 minutes ago", "Created", as `docker ps` shows. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  switch (s.Status) {
    case "running":
      // moby State.String: "(health: starting)", "(healthy)" or "(unhealthy)" once a check was set up.
      return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Health ? ` (${s.Health.Status === "starting" ? "health: starting" : s.Health.Status})` : ""}`;
    case "paused":
      return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
    case "restarting":
      return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case "removing":
      return "Removal In Progress";
    case "dead":
      return "Dead";
    case "exited":
      return s.FinishedAt.startsWith("0001") ? "Created" : `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    default:
      return "Created";
  }
}

export function summaryView(c: ContainerRecord, imageName: string, net: NetworkView, now = Date.now(), sizes?: ContainerSizes): Record<string, unknown> {
  const ns = net.summary(c.Id, { networkMode: c.HostConfig.NetworkMode, exposedPorts: c.Config.ExposedPorts });
  // As moby's list does: arguments that contain a space are wrapped in single quotes.
  const cmd = [c.Path, ...c.Args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: imageName,
    ImageID: c.Image,
    Command: cmd,
    Created: Math.floor(Date.parse(c.Created) / 1000),
    Ports: ns.Ports,
    ...sizes,
    Labels: c.Config.Labels ?? {},
    State: c.State.Status,
    Status: statusText(c, now),
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode ?? "bridge" },
    NetworkSettings: ns.NetworkSettings,
    Mounts: c.Mounts.map(publicMount),
  };
}
