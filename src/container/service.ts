import { promises as fsp, existsSync, mkdirSync, readFileSync, rmSync, statSync, watch, type FSWatcher } from "node:fs";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import type { EventBus } from "../events/index.js";
import { RecordStore } from "../metadata/index.js";
import { conflict, invalidParameter, isENOENT, notFound, notImplemented, notModified, PierError, systemError } from "../errdefs/index.js";
import { VALID_NAME, invalidPortBinding, newID, randomName, writeFileReplace, writeFileReplaceSync, type Logger, secureJoin } from "../lib/index.js";
import { nowRFC3339, parseRFC3339Ns, rfc3339FromNs } from "./clock.js";
import { publishVolumeEvents } from "./volume-events.js";
import { formatPlatform, parsePlatformSpecifier, platformMatches, type ImageConfig, type Platform } from "../oci/index.js";
import { BuiltinRuntime, encodePlanItems, MNT_DETACH, monitorName, mount as mountFs, MS_NODEV, MS_NOEXEC, MS_NOSUID, nsExecHelper, openStartShim, removeCgroup, Runc, umount2, RuntimeCreateError, parseSignal, run, startMonitor, type ContainerRuntime, type StartShimChannel } from "../sys/index.js";
import { builtinPlan } from "./builtin-runtime.js";
import { type NetworkSpec, buildResources, buildSpec, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, normalizeCapabilities, parseSecurityOpt, resolveUser, specToJSON, defaultCgroupnsMode, tmpfsMount, tmpfsMountData, type HostConfigInput } from "../runtime/index.js";
import type { VolumeService } from "../volume/index.js";
import type { NetworkService, EndpointSettingsInput } from "../network/index.js";
import { resolvConfText, rewriteInPlace, updateHostsEntry, writeEtcFiles } from "./etcfiles.js";
import { linkEnv, linkHostsLine, liveLinks, resolveLinks, type LinkRecord, type LiveLink } from "./links.js";
import { validateCreateRequest } from "./validate.js";
import { DEFAULT_LOG_CONFIG, effectiveLogConfig, logPolicy, validateLogConfig, type LogConfig } from "./logconfig.js";
import { mountContainerVolumes, planMounts, unmountContainerVolumes, VolumeMountError, type PlannedMount } from "./mounts.js";
import { updateContainer, type UpdateRequest } from "./resources.js";
import { initialState, ZERO_TIME, type ContainerConfig, type ContainerRecord, type HostConfig, type MountPoint } from "./record.js";
import type { Mount as OCIMount } from "../oci/index.js";
import { ExecManager, execEnv } from "./exec.js";
import { HealthMonitors, mergeHealthcheck, validateHealthcheck } from "./health.js";
import { applyDaemonStartPolicies, settleContainers, type RestoreHost } from "./restore.js";
import { SeccompFilterCache, shimProcess, shimSpec } from "./start-shim.js";
import type { ContainerSizes } from "./views.js";

/** What the container service needs of the image service. */
export interface ImageProvider {
  resolve(ref: string): { id: string };
  imageConfig(id: string): ImageConfig;
  chainIDOf(id: string): string | undefined;
}

/** What it needs of the snapshotter: a rootfs per container. */
export interface RootfsProvider {
  mountContainer(id: string, chainID: string | undefined): Promise<string>;
  unmountContainer(id: string): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /** The container's overlay upper dir (its changes), for diff and commit. */
  containerUpperDir?(id: string): string;
  /** The image's layer dirs, top-most first, for diff. */
  lowerDirs?(chainID: string): string[];
  /** The storage driver's dirs of the container, for inspect's GraphDriver.Data. */
  containerGraphData?(id: string, chainID: string | undefined): Record<string, string>;
  /** Bytes the container wrote to its rootfs (SizeRw). */
  containerRwSize?(id: string): number;
}

export interface ContainerServiceOptions {
  dataRoot: string; // <data-root>/containers
  execRoot: string; // <exec-root>
  runtimePath: string;
  /** The per-container monitor (pier-monitor or conmon). */
  monitorPath: string;
  initPath?: string;
  defaultUlimits?: { Name: string; Soft: number; Hard: number }[];
  /** The daemon's default LogConfig (daemon.json log-driver/log-opts); json-file without options if unset. */
  logConfig?: LogConfig;
  /** How long the runtime may take to create a container (--create-timeout); undefined: no limit. */
  createTimeoutMs?: number;
  images: ImageProvider;
  rootfs: RootfsProvider;
  volumes: VolumeService;
  networks: NetworkService;
  events: EventBus;
  log: Logger;
}

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** NetworkingConfig.EndpointsConfig of the create request. */
  endpointsConfig?: Record<string, EndpointSettingsInput | null> | null;
  /** The create's `platform` query (API 1.41+): the image must be of that platform. */
  platform?: string;
}

export type WaitCondition = "not-running" | "next-exit" | "removed";

interface Waiter {
  condition: WaitCondition;
  resolve: (r: { StatusCode: number; Error: { Message: string } | null }) => void;
}

/** Lifecycle of containers: create, start, stop, kill, wait, remove; their records and names. */
export class ContainerService {
  private readonly records: RecordStore<ContainerRecord>;
  private readonly names = new Map<string, string>(); // "/name" → id
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Starts waiting for their runtime to create the container, by ID: a forced removal aborts them. */
  private readonly creating = new Map<string, AbortController>();
  private readonly exitListeners = new Map<string, Set<() => void>>();
  /** Restart policies: the pending restart of each restarting container and its backoff. */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly restartDelay = new Map<string, number>();
  private readonly runc: Runc;
  /** Pier's own runtime: the lifecycle of the containers it created (whether or not it is on). */
  private readonly builtin: BuiltinRuntime;
  /** Create containers with pier-exec --runtime where it can (the default; PIER_RUNTIME=runc: runc alone). */
  private readonly useBuiltin: boolean;
  private exitWatcher: FSWatcher | undefined;
  readonly exitDir: string;
  /** Exec sessions, container tty resizes. */
  readonly execs: ExecManager;
  /** Health checks of running containers that have one. */
  readonly health: HealthMonitors;
  /** One-shot hooks run when a container is created by its monitor but not yet running (attach before start). */
  private readonly startHooks = new Map<string, Set<(bundle: string) => Promise<void>>>();
  /**
   * Host objects of containers that ended (runc state, rootfs mount, exit file) being released
   * in the background, so an exit reaches waiters without waiting for `runc delete` (~15 ms);
   * whatever touches those objects next (start, remove, a rootfs mount) awaits the release.
   */
  private readonly releasing = new Map<string, Promise<void>>();
  /** Compiled seccomp filters for the start shim (container/start-shim.ts); undefined: not used. */
  private readonly filters: SeccompFilterCache | undefined;

  constructor(private readonly o: ContainerServiceOptions) {
    this.records = new RecordStore<ContainerRecord>(path.join(o.dataRoot, "_meta"));
    this.runc = new Runc(o.runtimePath, path.join(o.execRoot, "runc"));
    this.builtin = new BuiltinRuntime(path.join(o.execRoot, "builtin"));
    this.useBuiltin = process.env.PIER_RUNTIME !== "runc" && !!nsExecHelper() && monitorName(o.monitorPath) === "pier-monitor";
    this.exitDir = path.join(o.execRoot, "exits");
    this.execs = new ExecManager(this, { execRoot: o.execRoot, runtimePath: o.runtimePath, monitorPath: o.monitorPath, log: o.log, noHelper: process.env.PIER_EXEC_HELPER === "0" });
    this.health = new HealthMonitors({
      find: (id) => this.records.get(id),
      emit: (c, action) => this.emit(c, action),
      save: (c) => this.records.put(c.Id, c),
      probe: (c, cmd, output) => this.execs.probe(c.Id, cmd, output),
      log: o.log,
    });
    // The shim is pier-exec in its --init mode, passed on by pier-monitor (conmon not tried).
    const helper = nsExecHelper();
    if (helper && monitorName(o.monitorPath) === "pier-monitor" && process.env.PIER_START_SHIM !== "0") {
      this.filters = new SeccompFilterCache({ dir: path.join(o.execRoot, "seccomp"), runtimePath: o.runtimePath, helper, log: o.log });
    }
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.o.dataRoot, { recursive: true, mode: 0o710 });
    await fsp.mkdir(this.exitDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(path.join(this.o.execRoot, "containers"), { recursive: true, mode: 0o700 });
    await this.records.load();
    // A container whose removal was interrupted no longer owns its name.
    for (const c of this.records.values()) if (c.State.Status !== "removing") this.names.set(c.Name, c.Id);
    // Exit files are how the monitor tells us a container ended, also while pierd was down.
    this.exitWatcher = watch(this.exitDir, (_ev, file) => {
      if (file && this.records.get(String(file))) void this.handleExit(String(file));
    });
    // After a restart of pierd: settle what ended while it was away, keep what still runs.
    await settleContainers(this.restoreHost());
  }

  close(): void {
    this.exitWatcher?.close();
    this.health.close();
  }

  /**
   * Once networks are restored: restart what the policies bring back at a daemon start and
   * remove --rm containers that ended while pierd was away (container/restore.ts).
   */
  async applyDaemonStartPolicies(): Promise<void> {
    await applyDaemonStartPolicies(this.restoreHost());
  }

  private restoreHost(): RestoreHost {
    return {
      all: () => this.all(),
      hasEnded: async (c) => (await this.exitFileCode(c.Id)) !== undefined || !initAlive(c),
      settleExit: (id) => this.handleExit(id, { restore: true }),
      resume: (c) => this.health.init(c),
      holdVolumes: (c) => {
        for (const m of c.Mounts) if (m.Type === "volume" && m.Name) this.o.volumes.adopt(m.Name, c.Id);
      },
      releaseUnheldVolumes: () => this.o.volumes.sweepUnheld(),
      endPendingRestart: (id) => this.withLock(id, async () => {
        const c = this.records.get(id);
        if (c && !c.State.Running && this.cancelRestart(c)) await this.records.put(id, c);
      }),
      finishRemoval: (id) => this.remove(id, { force: true, removeVolumes: false }),
      start: (id) => this.start(id),
      autoRemove: (id) => this.remove(id, { force: true, removeVolumes: true }),
      warn: (msg, fields) => this.o.log.warn(msg, fields),
    };
  }

  // ---------------------------------------------------------------- lookup

  /** By full ID, by name, or by a unique ID prefix, as Docker resolves them. */
  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }

  find(ref: string): ContainerRecord | undefined {
    if (ref === "") return undefined;
    const byId = this.records.get(ref);
    if (byId) return byId;
    const byName = this.names.get(ref.startsWith("/") ? ref : `/${ref}`);
    if (byName) return this.records.get(byName);
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    let found: ContainerRecord | undefined;
    for (const c of this.records.values()) {
      if (c.Id.startsWith(ref)) {
        if (found) throw invalidParameter(`multiple IDs found with provided prefix: ${ref}`);
        found = c;
      }
    }
    return found;
  }

  all(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /** Containers (IDs) that use an image, for rmi's conflict checks. */
  usingImage(imageID: string): ContainerRecord[] {
    return this.all().filter((c) => c.Image === imageID);
  }

  /** Containers that mount a volume, for volume rm's conflict check. */
  usingVolume(name: string): string[] {
    return this.all().filter((c) => c.Mounts.some((m) => m.Type === "volume" && m.Name === name)).map((c) => c.Id);
  }

  // ---------------------------------------------------------------- create

  async create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    validateCreateRequest(req.config as Record<string, unknown>, req.hostConfig as Record<string, unknown>);
    validateHealthcheck(req.config.Healthcheck);
    const config = req.config;
    const hc: HostConfig = { ...req.hostConfig };
    if (!config.Image) throw invalidParameter("No image specified; use Config.Image");
    let name = req.name ?? "";
    if (name !== "") {
      if (!VALID_NAME.test(name)) throw invalidParameter(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      name = name.startsWith("/") ? name : `/${name}`;
      const holder = this.names.get(name);
      if (holder) {
        throw conflict(`Conflict. The container name "${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    } else {
      do name = `/${randomName()}`;
      while (this.names.has(name));
    }
    const warnings = validateHostConfig(hc);
    // The effective LogConfig is what inspect shows: the daemon's driver and options filled in.
    hc.LogConfig = effectiveLogConfig(hc.LogConfig, this.o.logConfig ?? DEFAULT_LOG_CONFIG);
    validateLogConfig(hc.LogConfig);

    const want = req.platform ? parseWantedPlatform(req.platform) : undefined;
    const image = this.o.images.resolve(config.Image);
    const fullConf = this.o.images.imageConfig(image.id);
    if (want) {
      // dockerd's GetImage: a local image of another platform is "not found" (the CLI then pulls).
      const have = { os: fullConf.os || "linux", architecture: fullConf.architecture || "", ...(fullConf.variant ? { variant: fullConf.variant } : {}) };
      if (!platformMatches(want, have)) throw notFound(`image with reference ${config.Image} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`);
    }
    const imgConf = fullConf.config ?? {};
    const merged = mergeImageConfig(config, imgConf);
    const entrypoint = merged.Entrypoint ?? [];
    const cmd = merged.Cmd ?? [];
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw invalidParameter("No command specified");

    let networkMode = hc.NetworkMode && hc.NetworkMode !== "default" ? hc.NetworkMode : "bridge";
    // The joined container must exist; moby stores it by full ID (a rename must not break it).
    if (networkMode.startsWith("container:")) networkMode = `container:${this.get(networkMode.slice("container:".length)).Id}`;
    hc.NetworkMode = networkMode;
    hc.PidMode = this.donorMode(hc.PidMode as string | undefined);
    hc.IpcMode = this.donorMode(hc.IpcMode as string | undefined);
    const links = this.checkLinks(networkMode, (hc.Links as string[] | null | undefined) ?? []);

    const planned = await planMounts(hc, config.Volumes, imgConf.Volumes);

    const id = newID();
    const dir = path.join(this.o.dataRoot, id);
    const hostname = config.Hostname || (networkMode === "host" ? (await fsp.readFile("/etc/hostname", "utf8").catch(() => "localhost")).trim() : id.slice(0, 12));
    const rec: ContainerRecord = {
      Id: id,
      Created: nowRFC3339(),
      Path: argv[0]!,
      Args: argv.slice(1),
      State: initialState(),
      Image: image.id,
      ResolvConfPath: path.join(dir, "resolv.conf"),
      HostnamePath: path.join(dir, "hostname"),
      HostsPath: path.join(dir, "hosts"),
      LogPath: path.join(dir, `${id}-json.log`),
      Name: name,
      RestartCount: 0,
      Driver: "overlay2",
      Platform: "linux",
      MountLabel: "",
      ProcessLabel: "",
      AppArmorProfile: "",
      HostConfig: withHostConfigDefaults(hc),
      Mounts: [],
      Config: { ...merged, Hostname: hostname, Image: config.Image },
      anonymousVolumes: [],
      ...(links.length ? { links } : {}),
    };
    // Reserve the name at once so two concurrent creates cannot both take it.
    this.names.set(name, id);
    try {
      await this.o.networks.configure(id, { name: name.slice(1), networkMode, endpointsConfig: req.endpointsConfig });
      await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
      rec.Mounts = await this.realizeMounts(planned, rec);
      await this.records.put(id, rec);
    } catch (err) {
      this.names.delete(name);
      await this.o.networks.forget(id).catch(() => {});
      await this.discardVolumes(rec.anonymousVolumes);
      await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.emit(rec, "create");
    return { Id: id, Warnings: warnings };
  }

  /**
   * Legacy links are a default-bridge feature (moby registerLinks); on a user-defined network
   * the CLI sends them as endpoint links too, which the network module turns into DNS aliases.
   */
  private checkLinks(networkMode: string, links: string[]): LinkRecord[] {
    if (!links.length) return [];
    if (networkMode === "host") throw invalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    if (networkMode.startsWith("container:")) throw invalidParameter("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if (networkMode !== "bridge") return [];
    return resolveLinks(links, (ref) => this.find(ref));
  }

  /**
   * PidMode/IpcMode "container:<ref>" as dockerd stores it at create: the donor's full ID (so a
   * rename of the donor changes nothing). A donor that does not exist is a bad parameter (400).
   */
  private donorMode(mode: string | undefined): string | undefined {
    if (!mode?.startsWith("container:")) return mode;
    const ref = mode.slice("container:".length);
    const donor = this.find(ref);
    if (!donor) throw invalidParameter(`No such container: ${ref}`);
    return `container:${donor.Id}`;
  }

  /**
   * The namespaces a start joins for PidMode/IpcMode "container:<id>": the donor's, by its init's
   * /proc entry (runc opens the path before it creates the container). As dockerd's
   * getPIDContainer/getIPCContainer: the donor must run and not be restarting (a start error,
   * 500 as dockerd's), and an IPC donor must have been made shareable (400).
   * The joiner also gets the donor's /dev/shm (shmMounts).
   */
  private donorNamespaces(c: ContainerRecord): { pid?: string; ipc?: string } {
    const running = (mode: string) => {
      const donor = this.find(mode.slice("container:".length));
      if (!donor) throw invalidParameter(`No such container: ${mode.slice("container:".length)}`);
      if (donor.State.Restarting) throw systemError(`container ${donor.Id} is restarting, wait until the container is running`);
      if (!donor.State.Running || !donor.State.Pid) throw systemError(`container ${donor.Id} is not running`);
      return donor;
    };
    const paths: { pid?: string; ipc?: string } = {};
    const { PidMode: pidMode, IpcMode: ipcMode } = c.HostConfig as { PidMode?: string; IpcMode?: string };
    if (pidMode?.startsWith("container:")) paths.pid = `/proc/${running(pidMode).State.Pid}/ns/pid`;
    if (ipcMode?.startsWith("container:")) {
      const donor = running(ipcMode);
      if ((donor.HostConfig as { IpcMode?: string }).IpcMode !== "shareable") {
        throw invalidParameter(`can't join IPC of container ${donor.Id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
      }
      paths.ipc = `/proc/${donor.State.Pid}/ns/ipc`;
    }
    return paths;
  }

  /**
   * A shareable container's /dev/shm is a tmpfs on the host (dockerd's ShmPath,
   * <data-root>/containers/<id>/shm), bound into it and into the containers that join its IPC
   * namespace: a /dev/shm made inside its mount namespace (the default) could not be bound
   * from there (runc: EINVAL, a mount of another mount namespace). Mounted at each start,
   * unmounted when the container ends; a joiner keeps its bind of it until it ends too.
   */
  private shmMounts(c: ContainerRecord): OCIMount[] {
    const { IpcMode: ipcMode, ShmSize: shmSize } = c.HostConfig as { IpcMode?: string; ShmSize?: number };
    let source: string;
    if (ipcMode === "shareable") {
      source = this.shmPath(c.Id);
      mkdirSync(source, { recursive: true, mode: 0o700 });
      this.unmountShm(c.Id); // one left by a pierd that crashed before the container's end was handled
      mountFs("shm", source, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${shmSize || 64 * 1024 * 1024}`);
    } else if (ipcMode?.startsWith("container:")) {
      source = this.shmPath(ipcMode.slice("container:".length));
      if (!existsSync(source)) throw systemError(`container ${ipcMode.slice("container:".length)}: its /dev/shm is not on the host (started before it could be shared): restart it`);
    } else {
      return [];
    }
    return [{ destination: "/dev/shm", type: "bind", source, options: ["rbind", "rprivate"] }];
  }

  private shmPath(id: string): string {
    return path.join(this.o.dataRoot, id, "shm");
  }

  /** Unmount a shareable container's /dev/shm; nothing when it is not mounted. */
  private unmountShm(id: string): void {
    try {
      umount2(this.shmPath(id), MNT_DETACH);
    } catch {
      // not mounted (EINVAL) or never made (ENOENT)
    }
  }

  /** The running children of a container's links, with their default-bridge addresses. */
  private liveLinks(c: ContainerRecord): LiveLink[] {
    if (!c.links?.length) return [];
    return liveLinks(c, (id) => this.records.get(id), (id) => this.o.networks.addressOf(id, "bridge"));
  }

  /** The <ALIAS>_… variables of a container's links, for its process and its execs. */
  linkedEnv(c: ContainerRecord): string[] {
    return this.liveLinks(c).flatMap((l) => linkEnv(c.Name, l));
  }

  /**
   * A linked child started again (maybe on another address): the running parents' /etc/hosts
   * lines for it are updated in place, as libnetwork's parent update does.
   */
  private async refreshParents(child: ContainerRecord): Promise<void> {
    const ip = this.o.networks.addressOf(child.Id, "bridge");
    if (!ip) return;
    for (const p of this.records.values()) {
      if (!p.State.Running) continue;
      for (const l of p.links ?? []) {
        if (l.id !== child.Id) continue;
        await updateHostsEntry(p.HostsPath, linkHostsLine({ alias: l.alias, child, childIP: ip })).catch((e) => this.o.log.warn("cannot update a linked container's hosts file", { id: p.Id, err: e }));
      }
    }
  }

  /**
   * After a network connect or disconnect of a running container: its resolv.conf follows
   * whether it is on a user network (Pier's DNS server) or not, as libnetwork rebuilds it.
   */
  async refreshResolvConf(id: string): Promise<void> {
    const c = this.records.get(id);
    if (!c?.State.Running) return;
    const mode = c.HostConfig.NetworkMode ?? "bridge";
    if (mode === "host" || mode.startsWith("container:")) return;
    const hc = c.HostConfig;
    const text = await resolvConfText({ dns: hc.Dns ?? [], dnsSearch: hc.DnsSearch ?? [], dnsOptions: hc.DnsOptions ?? [], embedded: this.o.networks.embeddedDNS(id) });
    await rewriteInPlace(c.ResolvConfPath, text);
  }

  /** Create volumes (named on demand, anonymous fresh) and bind sources Docker would create. */
  private async realizeMounts(planned: PlannedMount[], rec: ContainerRecord): Promise<MountPoint[]> {
    const points: MountPoint[] = [];
    for (const p of planned) {
      const point = { ...p.point };
      if (p.volume) {
        const v = await this.o.volumes.create({ Name: p.volume.name || undefined, Labels: p.volume.labels, DriverOpts: p.volume.driverOpts, anonymous: p.volume.anonymous });
        if (p.volume.anonymous) rec.anonymousVolumes.push(v.Name);
        point.Name = v.Name;
        point.Source = v.Mountpoint;
        // The image's content is copied in at first start unless nocopy; an existing volume too,
        // when it is empty then (dockerd copies into any empty volume at create).
        (point as MountPoint & { copyUp?: boolean }).copyUp = !p.volume.noCopy;
      } else if (p.createSource) {
        // Only a missing source is created; an existing file or directory is bound as it is.
        const exists = await fsp.lstat(point.Source).then(() => true, (e) => { if (isENOENT(e)) return false; throw e; });
        if (!exists) await fsp.mkdir(point.Source, { recursive: true, mode: 0o755 });
      }
      points.push(point);
    }
    return points;
  }

  // ---------------------------------------------------------------- start

  async start(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.withLock(c.Id, async () => {
      const cur = this.records.get(c.Id);
      if (!cur) throw notFound(`No such container: ${ref}`);
      if (cur.State.Paused) throw conflict("cannot start a paused container, try unpause instead");
      if (cur.State.Running) throw notModified();
      if (cur.State.Status === "removing") throw conflict(`container is marked for removal and cannot be started`);
      if (cur.State.Dead) throw conflict(`Container ${cur.Id} is dead and cannot be started`);
      // A start by the user begins a new restart history, as in Docker.
      this.cancelRestart(cur);
      cur.RestartCount = 0;
      this.restartDelay.delete(cur.Id);
      await this.startLocked(cur);
    });
  }

  /** A container's cgroup, as the runtime's cgroupfs path. */
  private cgroupsPath(id: string): string {
    return `/pier/${id}`;
  }

  /** The runtime that created the container: the builtin one when its state is there, else runc. */
  private runtimeOf(id: string): ContainerRuntime {
    return this.builtin.owns(id) ? this.builtin : this.runc;
  }

  private async startLocked(c: ContainerRecord): Promise<void> {
    const bundle = path.join(this.o.execRoot, "containers", c.Id);
    const t0 = performance.now();
    const marks: Record<string, number> = {};
    const mark = (name: string) => (marks[name] = Math.round((performance.now() - t0) * 10) / 10);
    let recorded: Promise<void> | undefined;
    let shim: StartShimChannel | undefined;
    const startedBefore = c.State.StartedAt;
    try {
      // Option values are read as the logger starts, as dockerd does: a bad one fails the start.
      const logging = logPolicy(c.HostConfig.LogConfig ?? DEFAULT_LOG_CONFIG);
      await this.released(c.Id);
      // Synchronous: a few metadata calls on the exec root (/run: tmpfs on most hosts) cost less than their
      // thread-pool round trips, and this is the start path of every container.
      rmSync(bundle, { recursive: true, force: true });
      mkdirSync(bundle, { recursive: true, mode: 0o700 });
      rmSync(path.join(this.exitDir, c.Id), { force: true });
      await this.runc.delete(c.Id);
      await this.builtin.delete(c.Id);
      mark("cleaned");
      const hc = c.HostConfig;
      const linked = this.liveLinks(c);
      // The network is made while the rootfs is mounted: one helper process, in parallel.
      const netP = this.o.networks.attach(c.Id, {
        name: c.Name.slice(1),
        networkMode: hc.NetworkMode,
        portBindings: hc.PortBindings as never,
        publishAllPorts: !!hc.PublishAllPorts,
        exposedPorts: c.Config.ExposedPorts,
        dns: hc.Dns ?? [],
      });
      netP.catch(() => {});
      const rootfs = await this.o.rootfs.mountContainer(c.Id, this.o.images.chainIDOf(c.Image));
      mark("rootfs");
      const net = await netP;
      mark("network");
      let network: NetworkSpec;
      if (net.mode === "host") network = { mode: "host" };
      else if (net.mode === "none") network = { mode: "new" };
      else if (net.mode === "path") network = { mode: "path", path: net.netnsPath! };
      else {
        const target = this.get(net.containerRef!);
        if (!target.State.Running) throw conflict(`cannot join network namespace of a non running container: ${target.Id}`);
        network = { mode: "path", path: this.o.networks.sandboxPath(target.Id) ?? `/proc/${target.State.Pid}/ns/net`, fromContainer: true };
      }
      const etc = await writeEtcFiles(path.join(this.o.dataRoot, c.Id), {
        addresses: net.addresses,
        dnsServers: net.dnsServers,
        hostGateway: this.o.networks.hostGatewayIP(),
        hostname: c.Config.Hostname ?? c.Id.slice(0, 12),
        domainname: c.Config.Domainname,
        networkMode: hc.NetworkMode ?? "bridge",
        extraHosts: hc.ExtraHosts ?? [],
        linkHosts: linked.map(linkHostsLine),
        dns: hc.Dns ?? [],
        dnsSearch: hc.DnsSearch ?? [],
        dnsOptions: hc.DnsOptions ?? [],
      });
      mark("mounted+etc");
      await this.copyUpVolumes(c, rootfs);
      await mountContainerVolumes(this.o.volumes, c);
      const user = await resolveUser(rootfs, c.Config.User ?? "", (hc.GroupAdd as string[] | null) ?? []);
      const namespacePaths = this.donorNamespaces(c); // before shmMounts: the donor's checks come first
      const spec = buildSpec({
        id: c.Id,
        rootfs,
        args: [c.Path, ...c.Args],
        // Docker's daemon environment: PATH, HOSTNAME and (with a tty) TERM, under Config.Env.
        env: execEnv(c, { tty: !!c.Config.Tty, env: [] }, linked.flatMap((l) => linkEnv(c.Name, l))),
        cwd: c.Config.WorkingDir || "/",
        user,
        tty: !!c.Config.Tty,
        hostname: c.Config.Hostname ?? "",
        domainname: c.Config.Domainname,
        hostConfig: hc as HostConfigInput,
        mounts: [...this.ociMounts(c), ...etcMounts(etc, c), ...this.shmMounts(c)],
        namespacePaths,
        network,
        cgroupsPath: this.cgroupsPath(c.Id),
        initPath: hc.Init ? this.o.initPath : undefined,
        defaultUlimits: this.o.defaultUlimits,
      });
      mark("spec");
      const cgroupCheck = `:${spec.linux!.cgroupsPath}\n`;
      const filter = this.filters?.filterFor(spec);
      const shimmed = filter ? shimProcess(spec.process, spec) : undefined;
      const runtimeSpec = shimmed ? shimSpec(spec, shimmed.runcProcess) : spec;
      // runc reads config.json (the shim and no profile); the container's own spec is kept
      // beside it, and its filter, for execs.
      const writeBundle = () => {
        writeFileReplaceSync(path.join(bundle, "config.json"), specToJSON(runtimeSpec));
        if (!shimmed) return;
        writeFileReplaceSync(path.join(bundle, "spec.json"), specToJSON(spec));
        writeFileReplaceSync(path.join(bundle, "exec-seccomp.bpf"), filter!.program, 0o600);
      };
      if (shimmed) shim = openStartShim(nsExecHelper()!, filter!.fd, shimmed.plan);
      // The builtin runtime takes what it can express exactly; the rest (and the first container
      // of a seccomp profile, which runc compiles) goes to runc.
      const plan = this.useBuiltin ? builtinPlan(runtimeSpec, c.Id) : undefined;
      let runtimeArgs: string[] | undefined;
      if (plan && "items" in plan) {
        await writeFileReplace(path.join(bundle, "runtime.plan"), encodePlanItems(plan.items));
        this.builtin.prepare(c.Id, { ...plan.state, pidFile: path.join(bundle, "pidfile") });
        runtimeArgs = ["--runtime", `--root=${this.builtin.root}`];
      } else {
        if (plan) this.o.log.debug("builtin runtime cannot create this container; using runc", { id: c.Id, why: plan.unsupported });
        writeBundle();
      }
      mkdirSync(path.dirname(c.LogPath), { recursive: true });
      let pid: number;
      // A forced removal ends a create that hangs instead of waiting for the lock behind it.
      const creating = new AbortController();
      this.creating.set(c.Id, creating);
      try {
        const monitor = startMonitor({
          timeoutMs: this.o.createTimeoutMs,
          signal: creating.signal,
          monitorPath: this.o.monitorPath,
          runtimePath: runtimeArgs ? nsExecHelper()! : this.o.runtimePath,
          runtimeRoot: path.join(this.o.execRoot, "runc"),
          runtimeArgs,
          id: c.Id,
          name: c.Name.slice(1),
          bundle,
          runDir: bundle,
          exitDir: this.exitDir,
          logPath: logging.driver === "none" ? undefined : c.LogPath,
          logMaxSize: logging.maxSize,
          logMaxFiles: logging.maxFiles,
          logCompress: logging.compress,
          tty: !!c.Config.Tty,
          stdin: !!c.Config.OpenStdin,
          stdinOnce: !!c.Config.StdinOnce && !c.Config.Tty,
          passFds: shim?.fds,
        });
        shim?.release(); // the monitor has them now
        // The builtin runtime reads only its plan: the bundle's spec files (for execs, which
        // cannot come before the container is running) are written while it creates the
        // container, in this same tick, so no other request sees them missing.
        if (runtimeArgs) writeBundle();
        ({ pid } = await monitor);
      } catch (err) {
        this.creating.delete(c.Id);
        // A failed network setup takes the namespace file away (its own cleanup), which runc
        // may then trip over ("invalid netns path"): the network's error is the cause to report.
        await net.ready;
        if (err instanceof RuntimeCreateError) throw startError(err.message);
        throw err;
      }
      this.creating.delete(c.Id);
      mark("monitor");
      // First container with this profile: runc's init installed the compiled filter before
      // it began waiting for the start (unless no_new_privs defers it to the exec); copy it now.
      if (!shim && spec.linux?.seccomp && !spec.process.noNewPrivileges) await this.filters?.learn(spec, pid, cgroupCheck);
      c.State = { ...c.State, Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: "", StartedAt: nowRFC3339() };
      c.stoppedByUser = false;
      // The durable record is written while the process is let go: the two fsyncs need not
      // come before the start, only before the answer.
      recorded = this.records.put(c.Id, c);
      // Awaited below; a failure meanwhile (a full or read-only disk) is handled there, not
      // reported as an unhandled rejection first.
      recorded.catch(() => {});
      await net.ready; // the namespace's links and rules, configured while runc created the container
      mark("network ready");
      await this.runStartHooks(c.Id, bundle);
      await this.runtimeOf(c.Id).start(c.Id);
      if (shim) {
        const why = await shim.result();
        if (why !== undefined) throw startError(`runc create failed: unable to start container process: ${why}`);
      }
      if (!shim && spec.linux?.seccomp && spec.process.noNewPrivileges) void this.filters?.learn(spec, pid, cgroupCheck);
      mark("started");
      await recorded;
      mark("recorded");
      this.o.log.debug("container started", { id: c.Id, ms: marks });
      publishVolumeEvents(this.o.events, c, "mount");
      this.emit(c, "start");
      this.health.init(c);
      void this.refreshParents(c);
    } catch (err) {
      // Leave nothing half-made: no runc state, no mount; record why the start failed.
      shim?.release();
      shim?.abandon();
      await recorded?.catch(() => {}); // its write must not land after the one below
      // A shim that could not exec the command failed after the process was let go: the
      // start failed all the same, and the container never ran.
      c.State.StartedAt = startedBefore;
      await this.runc.delete(c.Id).catch(() => {});
      await this.builtin.delete(c.Id).catch(() => {});
      // A runtime killed in its create (deadline, forced removal) left its cgroups and no
      // state for the deletes above to go by.
      const cgroupsLeft = await removeCgroup(this.cgroupsPath(c.Id)).catch((e: Error) => [e.message]);
      if (cgroupsLeft.length) this.o.log.warn("cgroups left after a failed start", { id: c.Id, left: cgroupsLeft });
      await this.o.networks.detach(c.Id).catch(() => {});
      await this.o.rootfs.unmountContainer(c.Id).catch(() => {});
      await unmountContainerVolumes(this.o.volumes, c).catch(() => {});
      this.unmountShm(c.Id);
      const message = err instanceof Error ? err.message : String(err);
      // moby records 128 for a volume that would not mount, whatever the errno says.
      const code = err instanceof VolumeMountError ? 128 : exitCodeForStartError(message);
      c.State = { ...c.State, Status: c.State.StartedAt === ZERO_TIME ? "created" : "exited", Running: false, Pid: 0, ExitCode: code, Error: message };
      if (c.State.Status === "exited") c.State.FinishedAt = nowRFC3339();
      await this.records.put(c.Id, c).catch(() => {});
      // The process never ran, so it never exited: as with dockerd, a next-exit wait goes on
      // waiting (answering it made the docker CLI log "Error waiting for container: …" after
      // the start's own error). A --rm container's wait ends when it is removed.
      if (c.HostConfig.AutoRemove) void this.remove(c.Id, { force: true, removeVolumes: true }).catch(() => {});
      throw err;
    }
  }

  private ociMounts(c: ContainerRecord): OCIMount[] {
    const out: OCIMount[] = [];
    for (const m of c.Mounts) {
      if (m.Type === "tmpfs") {
        // A --mount type=tmpfs: Docker's tmpfs defaults (noexec too), then its size and mode.
        const req = (c.HostConfig.Mounts ?? []).find((x) => x.Type === "tmpfs" && path.posix.normalize(x.Target).replace(/(.)\/$/, "$1") === m.Destination);
        out.push(tmpfsMount(m.Destination, tmpfsMountData(req?.TmpfsOptions, !m.RW)));
        continue;
      }
      const opts = ["rbind", m.RW ? "rw" : "ro"];
      opts.push(m.Type === "bind" ? m.Propagation || "rprivate" : "rprivate");
      out.push({ destination: m.Destination, type: "bind", source: m.Source, options: opts });
    }
    return out;
  }

  /**
   * A new named or anonymous volume gets the image's content at its path, once. dockerd copies
   * at create under a hold of its own: a volume with options is mounted just for the copy and
   * unmounted after it unless another container holds it (so a bind volume's host directory
   * keeps the content, a tmpfs volume nobody uses loses it, as with dockerd).
   */
  private async copyUpVolumes(c: ContainerRecord, rootfs: string): Promise<void> {
    let changed = false;
    for (const m of c.Mounts as (MountPoint & { copyUp?: boolean })[]) {
      if (!m.copyUp) continue;
      m.copyUp = false;
      changed = true;
      const src = await secureJoin(rootfs, m.Destination);
      const st = await fsp.stat(src).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      const holder = `copy-up:${c.Id}`;
      try {
        await this.o.volumes.mount(m.Name!, holder);
      } catch (err) {
        throw new VolumeMountError(`error while mounting volume '${m.Source}': ${(err as Error).message}`);
      }
      try {
        const entries = await fsp.readdir(m.Source);
        if (entries.length === 0) await run("cp", ["-a", "--", `${src}/.`, `${m.Source}/`]);
      } finally {
        await this.o.volumes.unmount(m.Name!, holder);
      }
    }
    if (changed) await this.records.put(c.Id, c);
  }

  /**
   * Run `fn` once, the next time the container starts: after the monitor created it (its attach
   * socket exists) and before its process runs, so an attach made before start misses nothing.
   * Returns a function that cancels it.
   */
  beforeStart(id: string, fn: (bundle: string) => Promise<void>): () => void {
    let set = this.startHooks.get(id);
    if (!set) this.startHooks.set(id, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  private async runStartHooks(id: string, bundle: string): Promise<void> {
    const set = this.startHooks.get(id);
    if (!set) return;
    this.startHooks.delete(id);
    await Promise.all([...set].map((fn) => fn(bundle).catch((err) => this.o.log.warn("attach before start failed", { id, err: String(err) }))));
  }

  // ---------------------------------------------------------------- exit

  private async exitFileCode(id: string): Promise<number | undefined> {
    try {
      const s = readFileSync(path.join(this.exitDir, id), "utf8").trim(); // a few bytes: cheaper than a thread-pool trip
      return s === "" ? undefined : Number(s);
    } catch (err) {
      if (isENOENT(err)) return undefined;
      throw err;
    }
  }

  /**
   * The monitor wrote the exit file: record the exit, release the rootfs, maybe restart or
   * auto-remove. An exit found by the restore at daemon start is only recorded: the daemon
   * start's own rules decide about restarts and removal (container/restore.ts).
   */
  private async handleExit(id: string, opts: { restore?: boolean } = {}): Promise<void> {
    await this.withLock(id, async () => {
      const c = this.records.get(id);
      if (!c || !c.State.Running) return;
      const exitFile = path.join(this.exitDir, id);
      let code = await this.exitFileCode(id);
      let finishedAt = nowRFC3339();
      if (code === undefined) {
        if (initAlive(c)) return; // a spurious event: still running
        // Reaped but not yet written down: the monitor's exit file (and its event) follows.
        if (await this.monitorAlive(id)) {
          this.o.log.debug("no exit file yet; the monitor still runs", { id });
          return;
        }
        code = 255; // it vanished without the monitor telling (monitor killed): Docker reports 255
      } else {
        // The exit file's mtime is when the process ended, also when pierd was down then.
        const st = statSync(exitFile, { bigint: true, throwIfNoEntry: false });
        if (st) finishedAt = rfc3339FromNs(st.mtimeNs);
      }
      const bundle = path.join(this.o.execRoot, "containers", id);
      const oom = existsSync(path.join(bundle, "oom"));
      this.health.stop(c);
      c.State = { ...c.State, Status: "exited", Running: false, Paused: false, Pid: 0, ExitCode: code, OOMKilled: oom, FinishedAt: finishedAt };
      // A --rm container goes straight on to its removal, whose durable "removing" record
      // follows at once; until then the record on disk still says running, and a crash in
      // between settles this exit again at the next start.
      if (c.HostConfig.AutoRemove && !opts.restore) this.records.set(id, c);
      else await this.records.put(id, c);
      if (oom) this.emit(c, "oom");
      // execDuration: whole seconds the process ran (moby's die attributes).
      const ranNs = parseRFC3339Ns(finishedAt) - parseRFC3339Ns(c.State.StartedAt);
      this.emit(c, "die", { exitCode: String(code), execDuration: String(ranNs > 0n ? ranNs / 1_000_000_000n : 0n) });
      publishVolumeEvents(this.o.events, c, "unmount");
      for (const l of this.exitListeners.get(id) ?? []) l();
      this.notifyWaiters(id, "next-exit", code, "");
      // The container's volume holds go now (a --rm removal next must find them free; the
      // last holder unmounts, a few syscalls); the other host objects go in the background.
      await unmountContainerVolumes(this.o.volumes, c).catch((e) => this.o.log.warn("volume unmount failed", { id, err: e }));
      this.releaseHostObjects(id, exitFile);
      // Decided with the exit, under the lock, as moby's monitor does: a stop that comes
      // later finds the container "restarting" and cancels the restart.
      if (!c.HostConfig.AutoRemove && !opts.restore && this.shouldRestart(c)) await this.scheduleRestart(c);
    });
    if (opts.restore) return;
    const c = this.records.get(id);
    if (c && !c.State.Running && c.HostConfig.AutoRemove) {
      await this.remove(id, { force: true, removeVolumes: true, autoRemove: true }).catch((e) => this.o.log.warn("auto-remove failed", { id, err: e }));
    }
  }

  private async monitorAlive(id: string): Promise<boolean> {
    const dir = path.join(this.o.execRoot, "containers", id);
    // monitor.pid; conmon.pid from a pierd before pier-monitor (its containers live on).
    for (const file of ["monitor.pid", "conmon.pid"]) {
      const pid = Number((await fsp.readFile(path.join(dir, file), "utf8").catch(() => "")).trim());
      if (!pid) continue;
      // By its name and the container it serves (its `-c <id>`): a pid file left from long ago
      // may name a reused pid, even another container's monitor (pids wrap at 32768 here; a
      // --rm container whose pierd was killed during its removal stayed "running" so).
      const comm = (await fsp.readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
      if (comm !== "pier-monitor" && comm !== "conmon") return false;
      const args = (await fsp.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
      return args.includes(id);
    }
    return false;
  }

  /**
   * The network, runc's state, the rootfs mount and the exit file of a container that ended.
   * Begun after the current callbacks (setImmediate): the unmount (~4 ms) and the process
   * spawns block the event loop, and the waiters just answered (a `run`'s wait, a --rm's
   * removal) should reach their clients first. Whatever touches these objects next awaits
   * `released`, which is in place at once.
   */
  private releaseHostObjects(id: string, exitFile: string): void {
    const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => Promise.all([
      this.o.networks.detach(id).catch((e) => this.o.log.warn("network release failed", { id, err: e })),
      this.runtimeOf(id).delete(id).catch((e) => this.o.log.warn("runtime delete failed", { id, err: e })),
      this.o.rootfs.unmountContainer(id).catch((e) => this.o.log.warn("unmount failed", { id, err: e })),
      Promise.resolve().then(() => this.unmountShm(id)),
      fsp.rm(exitFile, { force: true }).catch(() => {}),
    ])).then(() => {
      if (this.releasing.get(id) === done) this.releasing.delete(id);
    });
    this.releasing.set(id, done);
  }

  /** Resolves when the host objects of the container's last run are released. */
  private async released(id: string): Promise<void> {
    await this.releasing.get(id);
  }

  /** Docker's restart policies; a stop or kill by the user turns them off until the next start. */
  private shouldRestart(c: ContainerRecord): boolean {
    if (c.stoppedByUser) return false;
    const p = c.HostConfig.RestartPolicy;
    switch (p?.Name) {
      case "always":
      case "unless-stopped":
        return true;
      case "on-failure":
        return c.State.ExitCode !== 0 && (!p.MaximumRetryCount || c.RestartCount < p.MaximumRetryCount);
      default:
        return false;
    }
  }

  /**
   * Restart after Docker's backoff: 100 ms, doubling up to a minute, back to 100 ms when the
   * container had run for 10 s. Meanwhile it is "restarting".
   */
  private async scheduleRestart(c: ContainerRecord): Promise<void> {
    const ranMs = Date.parse(c.State.FinishedAt) - Date.parse(c.State.StartedAt);
    const last = this.restartDelay.get(c.Id);
    const wait = last === undefined || ranMs >= 10_000 ? 100 : Math.min(last * 2, 60_000);
    this.restartDelay.set(c.Id, wait);
    c.State = { ...c.State, Status: "restarting", Restarting: true };
    await this.records.put(c.Id, c);
    if (c.stoppedByUser) {
      // Stopped by the user while this was being decided: it stays stopped.
      this.cancelRestart(c);
      await this.records.put(c.Id, c);
      return;
    }
    const timer = setTimeout(() => {
      this.restartTimers.delete(c.Id);
      void this.withLock(c.Id, async () => {
        const cur = this.records.get(c.Id);
        if (!cur || cur.State.Running || !cur.State.Restarting || cur.stoppedByUser) return;
        cur.RestartCount += 1;
        await this.startLocked(cur);
      }).catch(async (err) => {
        this.o.log.warn("restart failed", { id: c.Id, err });
        const cur = this.records.get(c.Id);
        if (cur && !cur.State.Running && this.shouldRestart(cur)) await this.scheduleRestart(cur);
      });
    }, wait);
    timer.unref();
    this.restartTimers.set(c.Id, timer);
  }

  /** Drop a pending restart; the container is then simply exited. */
  private cancelRestart(c: ContainerRecord): boolean {
    const timer = this.restartTimers.get(c.Id);
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(c.Id);
    if (!c.State.Restarting) return false;
    c.State = { ...c.State, Status: "exited", Restarting: false };
    return true;
  }

  /** Called once when the container next stops running (or at once if it is not running). */
  onExit(id: string, cb: () => void): () => void {
    const c = this.records.get(id);
    if (!c || !c.State.Running) {
      queueMicrotask(cb);
      return () => {};
    }
    let set = this.exitListeners.get(id);
    if (!set) this.exitListeners.set(id, (set = new Set()));
    const once = () => {
      set!.delete(once);
      cb();
    };
    set.add(once);
    return () => set!.delete(once);
  }

  // ---------------------------------------------------------------- wait

  /**
   * Resolves when the condition is met. Registration is synchronous so a `run` that calls
   * wait before start never misses an exit that follows within a millisecond.
   */
  wait(ref: string, condition: WaitCondition): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const c = this.get(ref);
    if (condition === "not-running" && !c.State.Running) {
      return Promise.resolve({ StatusCode: c.State.ExitCode, Error: null });
    }
    return new Promise((resolve) => {
      let list = this.waiters.get(c.Id);
      if (!list) this.waiters.set(c.Id, (list = []));
      list.push({ condition, resolve });
    });
  }

  private notifyWaiters(id: string, event: "next-exit" | "removed", code: number, error: string): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      const fires = event === "removed" || w.condition !== "removed";
      if (fires) w.resolve({ StatusCode: code, Error: error ? { Message: error } : null });
      else keep.push(w);
    }
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  // ---------------------------------------------------------------- stop / kill

  /** Errors are Docker's; the API wraps them as "cannot kill container: <ref>: …". */
  async kill(ref: string, signal = "SIGKILL"): Promise<void> {
    // The signal is checked before the container is looked up, as moby does.
    const sig = signalNumber(signal);
    const c = this.get(ref);
    if (!c.State.Running) throw conflict(`container ${c.Id} is not running`);
    if (sig === 9 || sig === 15) c.stoppedByUser = true;
    // moby's Kill: after SIGKILL the answer waits for the exit, so a `docker start` right
    // after `docker kill` finds the container stopped (and does not race its exit).
    const exited = sig === 9 ? new Promise<void>((resolve) => this.onExit(c.Id, resolve)) : undefined;
    await this.runtimeOf(c.Id).kill(c.Id, sig).catch((err) => {
      if (!this.records.get(c.Id)?.State.Running) return; // it ended meanwhile
      throw err;
    });
    if (sig === 9 || sig === parseSignal(c.Config.StopSignal || "SIGTERM")) await this.thawForSignal(c);
    this.emit(c, "kill", { signal: String(sig) });
    if (exited && this.records.get(c.Id)?.State.Running) await Promise.race([exited, delay(10_000)]);
  }

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const sig = parseSignal(opts.signal || this.get(ref).Config.StopSignal || "SIGTERM");
    if (sig === undefined) throw invalidParameter(`Invalid signal: ${opts.signal}`);
    // Decided under the container's lock: a restart the policy already began finishes first,
    // so the user's stop either cancels a pending restart or stops the restarted process,
    // and no restart can begin after it.
    const { c, waiting } = await this.withLock(this.get(ref).Id, async () => {
      const c = this.get(ref);
      if (!c.State.Running && c.State.Restarting) {
        c.stoppedByUser = true;
        this.cancelRestart(c);
        await this.records.put(c.Id, c);
        return { c, waiting: false };
      }
      if (!c.State.Running) throw notModified();
      c.stoppedByUser = true;
      await this.records.put(c.Id, c);
      return { c, waiting: true };
    });
    if (!waiting) {
      this.emit(c, "stop");
      return;
    }
    const timeout = opts.timeout ?? c.Config.StopTimeout ?? 10;
    const exited = new Promise<void>((resolve) => this.onExit(c.Id, resolve));
    // The stop signal first even with -t 0 (moby's containerStop): a process that handles it
    // may still end on its own before the SIGKILL, and `docker events` shows both kills.
    await this.runtimeOf(c.Id).kill(c.Id, sig).catch(() => {});
    await this.thawForSignal(c);
    this.emit(c, "kill", { signal: String(sig) });
    if (timeout < 0) {
      await exited;
    } else {
      const timedOut = await Promise.race([exited.then(() => false), delay(timeout * 1000).then(() => true)]);
      if (timedOut) {
        await this.runtimeOf(c.Id).kill(c.Id, 9, true).catch(() => {});
        await this.thawForSignal(c);
        this.emit(c, "kill", { signal: "9" });
        await exited;
      }
    }
    this.emit(c, "stop");
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    if (c.State.Running) await this.stop(c.Id, opts).catch((e) => { if (!(e instanceof PierError && e.kind === "NotModified")) throw e; });
    await this.start(c.Id);
    this.emit(c, "restart");
  }

  // ---------------------------------------------------------------- remove

  /**
   * `autoRemove`: the removal a --rm container gets when it ends. Its "removing" mark needs no
   * fsync: until the record file is deleted it still says running, and a crash in between
   * finds a --rm container that ended, which the next start removes (container/restore.ts).
   */
  async remove(ref: string, opts: { force?: boolean; removeVolumes?: boolean; autoRemove?: boolean }): Promise<void> {
    const c = this.get(ref);
    if (c.State.Restarting && !c.State.Running) {
      if (!opts.force) throw conflict(`cannot remove container "${c.Name}": container is restarting: stop the container before removing or force remove`);
      this.cancelRestart(c);
    }
    if (c.State.Running) {
      if (!opts.force) {
        if (c.State.Paused) throw conflict(`cannot remove container "${c.Name}": container is paused: unpause and then stop the container before removing or force remove`);
        throw conflict(`cannot remove container "${c.Name}": container is running: stop the container before removing or force remove`);
      }
      const exited = new Promise<void>((resolve) => this.onExit(c.Id, resolve));
      await this.runtimeOf(c.Id).kill(c.Id, 9, true).catch(() => {});
      await this.thawForSignal(c);
      await Promise.race([exited, delay(10_000)]);
    }
    if (opts.force) this.creating.get(c.Id)?.abort(conflict(`container ${c.Id} was removed while it was being created`));
    await this.withLock(c.Id, async () => {
      const cur = this.records.get(c.Id);
      if (!cur) return;
      if (cur.State.Running) throw conflict(`cannot remove container "${c.Name}": could not kill it`);
      this.health.stop(cur); // no timer may outlive the container
      cur.State = { ...cur.State, Status: "removing" };
      // Durable first: a crash from here on finishes the removal at the next start.
      if (opts.autoRemove) this.records.set(cur.Id, cur);
      else await this.records.put(cur.Id, cur);
      // Gone for the API at once (name free, waiters answered); the host objects follow.
      this.records.hide(cur.Id);
      if (this.names.get(cur.Name) === cur.Id) this.names.delete(cur.Name);
      if (opts.removeVolumes) await this.discardVolumes(cur.anonymousVolumes);
      this.emit(cur, "destroy");
      this.notifyWaiters(cur.Id, "removed", cur.State.ExitCode, "");
      // Nothing keyed by the ID may outlive the container in a long-running daemon.
      this.exitListeners.delete(cur.Id);
      this.restartDelay.delete(cur.Id);
      this.execs.forgetContainer(cur.Id);
      await this.removeHostObjects(cur.Id);
    });
  }

  /** Everything a removed container had on the host, then its record. */
  private async removeHostObjects(id: string): Promise<void> {
    await this.released(id);
    await this.runtimeOf(id).delete(id).catch(() => {});
    await this.o.networks.forget(id);
    await this.o.rootfs.removeContainer(id);
    await fsp.rm(path.join(this.o.execRoot, "containers", id), { recursive: true, force: true });
    await fsp.rm(path.join(this.o.dataRoot, id), { recursive: true, force: true });
    await this.records.delete(id);
  }

  private async discardVolumes(names: string[]): Promise<void> {
    for (const v of names) {
      if (this.usingVolume(v).length > 0) continue;
      await this.o.volumes.remove(v, [], true).catch((e) => this.o.log.warn("volume removal failed", { volume: v, err: e }));
    }
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    if (!newName) throw invalidParameter("Neither old nor new names may be empty");
    // moby's order and words: canonical name, same-name check, then reserveName's checks
    // wrapped as "Error when allocating new name: …" (compose scripts match on that prefix).
    const name = newName.startsWith("/") ? newName : `/${newName}`;
    if (name === c.Name) throw invalidParameter(`Renaming a container with the same name as its current name`);
    const allocating = "Error when allocating new name: ";
    if (!VALID_NAME.test(name.slice(1))) throw invalidParameter(`${allocating}Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const holder = this.names.get(name);
    if (holder) throw conflict(`${allocating}Conflict. The container name "${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    const old = c.Name;
    this.names.set(name, c.Id);
    this.names.delete(old);
    c.Name = name;
    await this.records.put(c.Id, c);
    await this.o.networks.rename(c.Id, name);
    this.emit(c, "rename", { oldName: old });
  }

  async prune(filter: (c: ContainerRecord) => boolean): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.all()) {
      // A restarting container counts as running (moby's IsRunning): pruning it failed the
      // whole prune with "container is restarting".
      if (c.State.Running || c.State.Paused || c.State.Restarting || !filter(c)) continue;
      const size = this.o.rootfs.containerRwSize?.(c.Id) ?? 0;
      try {
        await this.remove(c.Id, {});
      } catch (err) {
        // As moby: one container that cannot go (started meanwhile) is skipped, not fatal.
        this.o.log.warn("prune: cannot remove container", { id: c.Id, err });
        continue;
      }
      deleted.push(c.Id);
      reclaimed += size;
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ---------------------------------------------------------------- pause, update, files

  async pause(ref: string): Promise<void> {
    const id = this.get(ref).Id;
    await this.withLock(id, async () => {
      const c = this.get(id);
      if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
      if (c.State.Paused) throw conflict(`Container ${c.Id} is already paused`);
      if (c.State.Restarting) throw conflict(`Container ${c.Id} is restarting, wait until the container is running`);
      await this.runtimeOf(c.Id).pause(c.Id).catch((err) => { throw systemError(`Cannot pause container ${c.Id}: ${(err as Error).message}`, err); });
      c.State = { ...c.State, Status: "paused", Paused: true };
      this.health.update(c);
      await this.records.put(c.Id, c);
      this.emit(c, "pause");
    });
  }

  async unpause(ref: string): Promise<void> {
    const id = this.get(ref).Id;
    await this.withLock(id, async () => {
      const c = this.get(id);
      if (!c.State.Paused) throw conflict(`Container ${c.Id} is not paused`);
      await this.runtimeOf(c.Id).resume(c.Id).catch((err) => { throw systemError(`Cannot unpause container ${c.Id}: ${(err as Error).message}`, err); });
      c.State = { ...c.State, Status: "running", Paused: false };
      this.health.update(c);
      await this.records.put(c.Id, c);
      this.emit(c, "unpause");
    });
  }

  /** A frozen container cannot act on a stop signal: thaw it after sending one (moby does). */
  private async thawForSignal(c: ContainerRecord): Promise<void> {
    if (!c.State.Paused) return;
    await this.runtimeOf(c.Id).resume(c.Id).catch(() => {});
    await this.withLock(c.Id, async () => {
      // It may have ended already (handleExit clears Paused): only a live one is "running".
      const cur = this.records.get(c.Id);
      if (!cur?.State.Paused) return;
      cur.State = { ...cur.State, Status: cur.State.Running ? "running" : cur.State.Status, Paused: false };
      this.health.update(cur);
      await this.records.put(cur.Id, cur).catch(() => {});
    });
  }

  /** POST /containers/{id}/update: resources (applied to a running container) and restart policy. */
  async update(ref: string, body: UpdateRequest): Promise<{ Warnings: string[] }> {
    const id = this.get(ref).Id;
    return this.withLock(id, () => updateContainer(this.get(id), body, {
      apply: (c, flags) => this.runtimeOf(c.Id).update(c.Id, flags),
      save: (c) => this.records.put(c.Id, c),
      emit: (c) => this.emit(c, "update"),
    }));
  }

  private readonly rootfsUsers = new Map<string, number>();

  /**
   * The container's root filesystem for a file operation (cp, export): mounted for the call
   * when the container is not running, unmounted by release() if it still is not.
   */
  async acquireRootfs(ref: string, opts: { volumes?: boolean } = {}): Promise<{ c: ContainerRecord; rootfs: string; release: () => Promise<void> }> {
    const id = this.get(ref).Id;
    return this.withLock(id, async () => {
      const c = this.get(id);
      if (c.State.Status === "removing") throw conflict(`container ${c.Id} is marked for removal`);
      if (c.State.Dead) throw conflict(`container ${c.Id} is dead`);
      await this.released(id);
      const rootfs = await this.o.rootfs.mountContainer(c.Id, this.o.images.chainIDOf(c.Image));
      // docker cp sees a volume's device as a run does: dockerd mounts the volumes for the
      // copy (a stopped container's bind volume gets the files in its host directory).
      const volumeHolder = opts.volumes ? `files:${newID()}` : undefined;
      if (volumeHolder) {
        try {
          await mountContainerVolumes(this.o.volumes, c, volumeHolder);
        } catch (err) {
          if (!c.State.Running && !this.rootfsUsers.get(id)) await this.o.rootfs.unmountContainer(id).catch(() => {});
          throw err;
        }
      }
      this.rootfsUsers.set(id, (this.rootfsUsers.get(id) ?? 0) + 1);
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        if (volumeHolder) await unmountContainerVolumes(this.o.volumes, c, volumeHolder).catch((e) => this.o.log.warn("volume unmount failed", { id, err: e }));
        await this.withLock(id, async () => {
          const n = (this.rootfsUsers.get(id) ?? 1) - 1;
          if (n > 0) return void this.rootfsUsers.set(id, n);
          this.rootfsUsers.delete(id);
          const cur = this.records.get(id);
          if (cur && !cur.State.Running) await this.o.rootfs.unmountContainer(id).catch(() => {});
        });
      };
      return { c, rootfs, release };
    });
  }

  /** GraphDriver.Data of the container's inspect: its overlay dirs ({} when the driver has none to show). */
  graphDriverData(c: ContainerRecord): Record<string, string> {
    return this.o.rootfs.containerGraphData?.(c.Id, this.o.images.chainIDOf(c.Image)) ?? {};
  }

  /**
   * SizeRw and SizeRootFs (what ?size=1 asks for): the bytes the container wrote, and those
   * plus its image's. A walk of the container's upper dir, which is why clients must ask.
   */
  sizes(c: ContainerRecord, imageSize: (imageID: string) => number): ContainerSizes {
    const rw = this.o.rootfs.containerRwSize?.(c.Id) ?? 0;
    let image = 0;
    try {
      image = imageSize(c.Image);
    } catch {
      // The image was removed by force: only the container's own bytes are left to count.
    }
    return { SizeRw: rw, SizeRootFs: rw + image };
  }

  /** The container's overlay upper dir and its image's layer dirs (top first), for diff and commit. */
  layerDirs(ref: string): { upper: string; lowers: string[] } {
    const c = this.get(ref);
    const { containerUpperDir, lowerDirs } = this.o.rootfs;
    if (!containerUpperDir || !lowerDirs) throw notImplemented("this storage driver cannot list a container's changes");
    const chain = this.o.images.chainIDOf(c.Image);
    return { upper: containerUpperDir.call(this.o.rootfs, c.Id), lowers: chain ? lowerDirs.call(this.o.rootfs, chain) : [] };
  }

  // ---------------------------------------------------------------- helpers

  emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    const attrs: Record<string, string> = { ...(c.Config.Labels ?? {}), image: c.Config.Image ?? "", name: c.Name.slice(1), ...extra };
    this.o.events.publish({ Type: "container", Action: action, ID: c.Id, Attributes: attrs });
  }

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(id, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === next) this.locks.delete(id);
    }
  }
}

function parseWantedPlatform(spec: string): Platform {
  try {
    return parsePlatformSpecifier(spec);
  } catch (err) {
    throw invalidParameter((err as Error).message);
  }
}

function mergeImageConfig(c: ContainerConfig, img: ImageConfig["config"] & object): ContainerConfig {
  const out: ContainerConfig = { ...c };
  // Env (Docker's runconfig Merge): the request's, in its order, then the image's variables
  // the request does not set.
  if (!c.Env || c.Env.length === 0) {
    out.Env = [...(img.Env ?? [])];
  } else {
    const keys = new Set(c.Env.map((e) => e.split("=")[0]!));
    out.Env = [...c.Env, ...(img.Env ?? []).filter((e) => !keys.has(e.split("=")[0]!))];
  }
  // Docker's order: merge (an explicit entrypoint drops the image's Cmd unless Cmd is also
  // given; an empty list keeps the image's Cmd but not its entrypoint), then reset [""] —
  // what the CLI sends for `--entrypoint ""` — to no entrypoint. So `--entrypoint "" img`
  // has no command at all, as with Docker, and `--entrypoint "" img echo hi` runs echo.
  if (c.Entrypoint && c.Entrypoint.length > 0) {
    out.Entrypoint = c.Entrypoint.length === 1 && c.Entrypoint[0] === "" ? null : c.Entrypoint;
    out.Cmd = c.Cmd && c.Cmd.length > 0 ? c.Cmd : [];
  } else if (c.Entrypoint && c.Entrypoint.length === 0 && Array.isArray(c.Entrypoint)) {
    out.Entrypoint = null;
    out.Cmd = c.Cmd && c.Cmd.length > 0 ? c.Cmd : img.Cmd ?? [];
  } else {
    out.Entrypoint = img.Entrypoint ?? null;
    out.Cmd = c.Cmd && c.Cmd.length > 0 ? c.Cmd : img.Cmd ?? null;
  }
  out.WorkingDir = c.WorkingDir || img.WorkingDir || "";
  out.User = c.User || img.User || "";
  out.Labels = { ...(img.Labels ?? {}), ...(c.Labels ?? {}) };
  out.StopSignal = c.StopSignal || img.StopSignal;
  if (!out.StopSignal) delete out.StopSignal;
  out.ExposedPorts = { ...(img.ExposedPorts ?? {}), ...(c.ExposedPorts ?? {}) };
  if (Object.keys(out.ExposedPorts).length === 0) delete out.ExposedPorts;
  // runconfig Merge: the image's VOLUMEs join the request's (inspect's Config.Volumes shows both).
  const volumes = { ...(c.Volumes ?? {}), ...(img.Volumes ?? {}) };
  out.Volumes = Object.keys(volumes).length > 0 ? volumes : null;
  out.Healthcheck = mergeHealthcheck(c.Healthcheck, img.Healthcheck);
  if (!out.Healthcheck) delete out.Healthcheck;
  if (!out.OnBuild) out.OnBuild = null;
  out.Domainname = c.Domainname ?? "";
  out.AttachStdin = !!c.AttachStdin;
  out.AttachStdout = !!c.AttachStdout;
  out.AttachStderr = !!c.AttachStderr;
  out.Tty = !!c.Tty;
  out.OpenStdin = !!c.OpenStdin;
  out.StdinOnce = !!c.StdinOnce;
  return out;
}

/**
 * HostConfig as Docker stores it after create (daemon adaptContainerSettings and the create
 * route): defaults filled in, "unset" sentinels normalised, so inspect shows what Docker shows.
 */
function withHostConfigDefaults(hc: HostConfig): HostConfig {
  const memory = (hc.Memory as number) || 0;
  const privileged = !!hc.Privileged;
  const pids = hc.PidsLimit as number | null | undefined;
  const swappiness = hc.MemorySwappiness as number | null | undefined;
  return {
    ...hc,
    // 0 and negative pids limits mean "unlimited": Docker stores no limit.
    PidsLimit: pids !== undefined && pids !== null && pids > 0 ? pids : null,
    MemorySwappiness: swappiness === undefined || swappiness === null || swappiness === -1 ? null : swappiness,
    // With a memory limit and no swap limit, the swap limit is twice the memory.
    MemorySwap: memory > 0 && !hc.MemorySwap ? memory * 2 : ((hc.MemorySwap as number) ?? 0),
    IpcMode: (hc.IpcMode as string) || "private",
    CgroupnsMode: (hc.CgroupnsMode as string) || defaultCgroupnsMode(),
    MaskedPaths: (hc.MaskedPaths as string[] | null | undefined) ?? (privileged ? null : [...DEFAULT_MASKED_PATHS]),
    ReadonlyPaths: (hc.ReadonlyPaths as string[] | null | undefined) ?? (privileged ? null : [...DEFAULT_READONLY_PATHS]),
    Runtime: (hc.Runtime as string) || "runc",
    Binds: hc.Binds ?? null,
    LogConfig: hc.LogConfig?.Type ? hc.LogConfig : { Type: "json-file", Config: {} },
    RestartPolicy: hc.RestartPolicy?.Name !== undefined ? hc.RestartPolicy : { Name: "no", MaximumRetryCount: 0 },
    AutoRemove: !!hc.AutoRemove,
    PortBindings: hc.PortBindings ?? {},
    ShmSize: (hc.ShmSize as number) || 67108864,
    Privileged: !!hc.Privileged,
    ReadonlyRootfs: !!hc.ReadonlyRootfs,
  };
}

const RESTART_POLICIES = new Set(["", "no", "always", "unless-stopped", "on-failure"]);

/**
 * What Docker checks when a container is created (daemon verifyContainerSettings), so a bad
 * setting fails `create` and leaves nothing behind, instead of failing every start. Returns
 * Docker's warnings for settings this host cannot honour.
 */
function validateHostConfig(hc: HostConfig): string[] {
  const rp = hc.RestartPolicy;
  if (rp && !RESTART_POLICIES.has(rp.Name)) throw invalidParameter(`invalid restart policy: unknown policy '${rp.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if (rp && rp.Name !== "on-failure" && (rp.MaximumRetryCount ?? 0) > 0) throw invalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (rp && (rp.MaximumRetryCount ?? 0) < 0) throw invalidParameter(`invalid restart policy: maximum retry count cannot be negative`);
  if (hc.AutoRemove && rp && rp.Name !== "" && rp.Name !== "no") throw invalidParameter(`can't create 'AutoRemove' container with restart policy`);
  const mem = (hc.Memory as number) ?? 0;
  if (mem < 0) throw invalidParameter("invalid memory limit");
  if (mem > 0 && mem < 6 * 1024 * 1024) throw invalidParameter("Minimum memory limit allowed is 6MB");
  const swap = (hc.MemorySwap as number) ?? 0;
  if (mem > 0 && swap > 0 && swap < mem) throw invalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage");
  if (mem === 0 && swap > 0) throw invalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage");
  const nano = (hc.NanoCpus as number) ?? 0;
  const ncpu = navigatorCpus();
  if (nano < 0 || nano > ncpu * 1e9) throw invalidParameter(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  if (nano > 0 && (hc.CpuQuota as number) > 0) throw invalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (nano > 0 && (hc.CpuPeriod as number) > 0) throw invalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  const shm = (hc.ShmSize as number) ?? 0;
  if (shm < 0) throw invalidParameter("SHM size can not be less than 0");
  for (const field of ["CapAdd", "CapDrop"] as const) {
    try {
      normalizeCapabilities((hc[field] as string[] | null | undefined) ?? []);
    } catch (err) {
      throw invalidParameter(`invalid ${field}: ${(err as Error).message}`);
    }
  }
  parseSecurityOpt(hc.SecurityOpt as string[] | null | undefined);
  const badPort = invalidPortBinding(hc.PortBindings as Parameters<typeof invalidPortBinding>[0]);
  if (badPort) throw invalidParameter(badPort);
  // Memory, CPU, cpuset, blkio and pids limits, with the host's capabilities.
  const warnings: string[] = [];
  buildResources(hc as HostConfigInput, (w) => warnings.push(w));
  return warnings;
}

function navigatorCpus(): number {
  return availableParallelism();
}

function etcMounts(etc: { hostnamePath: string; hostsPath: string; resolvConfPath: string }, c: ContainerRecord): OCIMount[] {
  const taken = new Set(c.Mounts.map((m) => m.Destination));
  const ro = c.HostConfig.ReadonlyRootfs ? "ro" : "rw";
  const out: OCIMount[] = [];
  const add = (dest: string, src: string) => {
    if (!taken.has(dest)) out.push({ destination: dest, type: "bind", source: src, options: ["rbind", "rprivate", ro] });
  };
  add("/etc/resolv.conf", etc.resolvConfPath);
  add("/etc/hostname", etc.hostnamePath);
  add("/etc/hosts", etc.hostsPath);
  return out;
}

/** Docker's start error wording, so clients that read it (the CLI maps 126/127) still work. */
function startError(runtimeMessage: string): PierError {
  let msg = `failed to create task for container: failed to create shim task: OCI runtime create failed: ${runtimeMessage}: unknown`;
  // moby translateContainerdStartErr: a bind of a file onto a directory (or back) gets a hint.
  if (/not a directory/i.test(msg)) msg += ": Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type";
  return exitCodeForStartError(msg) === 128 ? systemError(msg) : invalidParameter(msg);
}

/** State.ExitCode after a failed start, as moby sets it: 127 not found, 126 not runnable, else 128. */
function exitCodeForStartError(message: string): number {
  if (/executable file not found|no such file or directory|not a directory/i.test(message)) return 127;
  if (/permission denied|is a directory|exec format error/i.test(message)) return 126;
  return 128;
}

/**
 * moby's signal.ParseSignal plus its ValidSignalForPlatform check: names with or without SIG,
 * numbers; 0 and unknown names are invalid; numbers beyond the platform's signals unsupported.
 */
export function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    if (n === 0) throw invalidParameter(`Invalid signal: ${signal}`);
    if (n > 64) throw invalidParameter(`the linux daemon does not support signal ${n}`);
    return n;
  }
  const sig = parseSignal(signal);
  if (sig === undefined) throw invalidParameter(`Invalid signal: ${signal}`);
  return sig;
}

/**
 * The container's process still runs: its pid exists and is in the container's cgroup. The pid
 * alone says nothing after a pierd restart: a container that ended while pierd was away (its
 * exit file already released) may have had its pid given to another process, and was then
 * restored as running for good — seen with a --rm container whose pierd was killed during its
 * removal (tests/e2e/crash-consistency.test.ts).
 */
function initAlive(c: ContainerRecord): boolean {
  if (!c.State.Pid) return false;
  try {
    return readFileSync(`/proc/${c.State.Pid}/cgroup`, "utf8").includes(c.Id);
  } catch {
    return false;
  }
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
