import { readdirSync, readFileSync } from "node:fs";
import * as os from "node:os";
import { invalidParameter } from "../../errdefs/index.js";
import { eventJSON, eventMatcher } from "../../events/index.js";
import { nowNs, parseTimestampNs } from "../../lib/index.js";
import { hostArchitecture } from "../../oci/index.js";
import { filtersParam, jsonReply, sendJSON, type Reply } from "../http.js";
import { API_VERSION, MIN_API_VERSION, apiVersionString, type Router } from "../router.js";
import { summaryView } from "../../container/index.js";
import type { Services } from "../services.js";

export function systemRoutes(r: Router, s: Services): void {
  // The most frequent request of all (every CLI command begins with it): one reply made once.
  // (A HEAD answer goes without the body, by node:http and by the fast path alike.)
  const ping: Reply = { status: 200, headers: ["Content-Type", "text/plain; charset=utf-8", "Cache-Control", "no-cache, no-store, must-revalidate", "Pragma", "no-cache", "Content-Length", "2"], body: "OK" };
  r.onFast(["GET", "HEAD"], "/_ping", () => ping);

  r.onFast("GET", "/version", () => jsonReply(200, versionBody(s)));

  r.on("GET", "/info", ({ res }) => {
    sendJSON(res, 200, infoBody(s));
  });

  // moby's getEvents: past events in the since/until window first, then (unless until has
  // passed) live ones until `until` or the client goes. Live events are not held back by a
  // `since` in the future, as in moby.
  r.on("GET", "/events", ({ req, res, query }) => {
    // Keys Docker does not know are ignored, as moby's events endpoint does (no 400).
    const filters = filtersParam(query);
    const since = timeParam(query.get("since"), "since");
    const until = timeParam(query.get("until"), "until");
    if (until !== undefined && until < (since ?? 0n)) {
      throw invalidParameter(`\`since\` time (${query.get("since")}) cannot be after \`until\` time (${query.get("until")})`);
    }
    const match = eventMatcher(filters);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    if (since !== undefined || until !== undefined) {
      for (const e of s.events.between(since, until)) if (match(e)) res.write(eventJSON(e) + "\n");
    }
    const now = nowNs();
    if (until !== undefined && until < now) {
      res.end();
      return;
    }
    const off = s.events.subscribe((e) => {
      if (match(e)) res.write(eventJSON(e) + "\n");
    });
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      off();
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    // Timers hold at most 2^31-1 ms (~24 days): a later `until` re-arms.
    const arm = () => {
      const left = Number((until! - nowNs()) / 1_000_000n) + 1;
      timer = left > 0 ? setTimeout(left > 0x7fffffff ? arm : stop, Math.min(left, 0x7fffffff)) : setTimeout(stop, 0);
    };
    if (until !== undefined) arm();
    req.socket.once("close", stop);
  });

  // moby's df: the list's own summaries (sized), images with their container counts and
  // shared sizes, volumes with their usage.
  r.on("GET", "/system/df", async ({ res, version }) => {
    const images = s.images.list({ all: false, sharedSize: true, containerCount: (id) => s.containers.usingImage(id).length, apiVersion: apiVersionString(version) });
    const volumes = await Promise.all(
      s.volumes.list().map(async (v) => ({
        ...v,
        anonymous: undefined,
        UsageData: { Size: await s.volumes.usage(v.Name), RefCount: s.containers.usingVolume(v.Name).length },
      })),
    );
    const imageSize = (id: string) => s.images.resolve(id).size;
    const now = Date.now();
    const containers = s.containers.all().map((c) => summaryView(c, c.Config.Image ?? "", s.networks, now, s.containers.sizes(c, imageSize)));
    sendJSON(res, 200, {
      // Each layer once (summing image sizes counted a shared base once per image).
      LayersSize: s.images.layersSize(),
      Images: images,
      Containers: containers,
      Volumes: volumes,
      BuildCache: [],
    });
  });
}

/** The daemon's open file descriptors (Info.NFd); 0 where /proc cannot tell. */
function openFiles(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

let cachedOSVersion: string | undefined;
/** Info.OSVersion: the host's VERSION_ID from os-release ("12"), as dockerd gives it; "" when unknown. */
function osVersion(): string {
  if (cachedOSVersion === undefined) {
    try {
      cachedOSVersion = /^VERSION_ID="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
    } catch {
      cachedOSVersion = "";
    }
  }
  return cachedOSVersion;
}

/** since/until: unix seconds with a fraction (what clients send), RFC 3339, or a duration ago. */
function timeParam(v: string | null, name: string): bigint | undefined {
  if (v === null || v === "") return undefined;
  const t = parseTimestampNs(v);
  if (t === undefined) throw invalidParameter(`invalid value for "${name}": ${v}`);
  return t;
}

function versionBody(s: Services) {
  const arch = hostArchitecture();
  return {
    Platform: { Name: "Pier Engine" },
    Components: [
      { Name: "Engine", Version: s.info.version, Details: { ApiVersion: API_VERSION, Arch: arch, BuildTime: "", Experimental: "false", GitCommit: "", GoVersion: `node${process.versions.node}`, KernelVersion: s.info.kernelVersion, MinAPIVersion: MIN_API_VERSION, Os: "linux" } },
      { Name: "runc", Version: s.info.runtimeVersion, Details: { GitCommit: "" } },
      { Name: s.info.monitorName, Version: s.info.monitorVersion, Details: { GitCommit: "", Path: s.info.monitorPath } },
    ],
    Version: s.info.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "",
    GoVersion: `node${process.versions.node}`,
    Os: "linux",
    Arch: arch,
    KernelVersion: s.info.kernelVersion,
    BuildTime: "",
  };
}

function infoBody(s: Services) {
  const all = s.containers.all();
  const count = (st: string) => all.filter((c) => c.State.Status === st).length;
  return {
    ID: s.info.id,
    Containers: all.length,
    ContainersRunning: count("running"),
    ContainersPaused: count("paused"),
    ContainersStopped: all.length - count("running") - count("paused"),
    Images: s.images.list({ all: false }).length,
    Driver: "overlay2",
    DriverStatus: [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"], ["Native Overlay Diff", "true"], ["userxattr", "false"]],
    Plugins: { Volume: ["local"], Network: ["bridge", "host", "null"], Authorization: null, Log: ["json-file", "local", "none"] },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemoryTCP: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: false,
    NFd: openFiles(),
    OomKillDisable: s.info.cgroupVersion === "1",
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: s.info.loggingDriver,
    CgroupDriver: "cgroupfs",
    CgroupVersion: s.info.cgroupVersion,
    NEventsListener: 0,
    KernelVersion: s.info.kernelVersion,
    OperatingSystem: s.info.operatingSystem,
    OSVersion: osVersion(),
    OSType: "linux",
    Architecture: os.machine(),
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ["127.0.0.0/8"], IndexConfigs: { "docker.io": { Name: "docker.io", Mirrors: [], Secure: true, Official: true } }, Mirrors: [] },
    NCPU: os.availableParallelism(),
    MemTotal: os.totalmem(),
    GenericResources: null,
    DockerRootDir: s.info.dataRoot,
    HttpProxy: "",
    HttpsProxy: "",
    NoProxy: "",
    Name: s.info.name,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: s.info.version,
    Runtimes: { runc: { path: s.info.runtimePath } },
    DefaultRuntime: "runc",
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: "",
    InitBinary: s.info.initPath ?? "",
    ContainerdCommit: { ID: "", Expected: "" },
    RuncCommit: { ID: "", Expected: "" },
    InitCommit: { ID: "", Expected: "" },
    SecurityOptions: ["name=seccomp,profile=builtin"],
    Warnings: [],
  };
}
