import * as os from "node:os";
import { invalidParameter } from "../../errdefs/index.js";
import type { EngineEvent } from "../../events/index.js";
import { parseTimestamp } from "../../lib/index.js";
import { hostArchitecture } from "../../oci/index.js";
import { filtersParam, sendJSON, checkFilterKeys } from "../http.js";
import { API_VERSION, MIN_API_VERSION, type Router } from "../router.js";
import type { Services } from "../services.js";

export function systemRoutes(r: Router, s: Services): void {
  r.on(["GET", "HEAD"], "/_ping", ({ req, res }) => {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache, no-store, must-revalidate", Pragma: "no-cache", "Content-Length": 2 });
    res.end(req.method === "HEAD" ? undefined : "OK");
  });

  r.on("GET", "/version", ({ res }) => {
    sendJSON(res, 200, versionBody(s));
  });

  r.on("GET", "/info", ({ res }) => {
    sendJSON(res, 200, infoBody(s));
  });

  r.on("GET", "/events", ({ req, res, query }) => {
    const filters = filtersParam(query);
    checkFilterKeys(filters, ["container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret", "service", "type", "volume", "config"]);
    const since = timeParam(query.get("since"), "since");
    const until = timeParam(query.get("until"), "until");
    const match = eventFilter(filters);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    const inWindow = (e: EngineEvent) => (since === undefined || e.timeNano / 1e6 >= since) && (until === undefined || e.timeNano / 1e6 <= until);
    if (since !== undefined) {
      for (const e of s.events.past()) if (inWindow(e) && match(e)) res.write(JSON.stringify(e) + "\n");
    }
    const now = Date.now();
    if (until !== undefined && until <= now) {
      res.end();
      return;
    }
    const off = s.events.subscribe((e) => {
      if (inWindow(e) && match(e)) res.write(JSON.stringify(e) + "\n");
    });
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      off();
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    if (until !== undefined) timer = setTimeout(stop, until - now);
    req.socket.once("close", stop);
  });

  r.on("GET", "/system/df", async ({ res }) => {
    const images = s.images.list({ all: false });
    const volumes = await Promise.all(
      s.volumes.list().map(async (v) => ({
        ...v,
        anonymous: undefined,
        UsageData: { Size: await s.volumes.usage(v.Name), RefCount: s.containers.usingVolume(v.Name).length },
      })),
    );
    const containers = s.containers.all().map((c) => ({
      Id: c.Id,
      Names: [c.Name],
      Image: c.Config.Image,
      ImageID: c.Image,
      Command: [c.Path, ...c.Args].join(" "),
      Created: Math.floor(Date.parse(c.Created) / 1000),
      State: c.State.Status,
      Status: c.State.Status,
      SizeRw: 0,
      SizeRootFs: 0,
      Labels: c.Config.Labels ?? {},
      Mounts: c.Mounts,
    }));
    const layersSize = images.reduce((n, i) => n + (i.Size as number), 0);
    sendJSON(res, 200, {
      LayersSize: layersSize,
      Images: images.map((i) => ({ ...i, Containers: s.containers.usingImage(i.Id as string).length })),
      Containers: containers,
      Volumes: volumes,
      BuildCache: [],
    });
  });
}

function timeParam(v: string | null, name: string): number | undefined {
  if (v === null || v === "") return undefined;
  const t = parseTimestamp(v);
  if (t === undefined) throw invalidParameter(`invalid value for "${name}": ${v}`);
  return t;
}

function eventFilter(f: Record<string, string[]>): (e: EngineEvent) => boolean {
  return (e) => {
    if (f.type && !f.type.includes(e.Type)) return false;
    if (f.event && !f.event.some((ev) => ev === e.Action || e.Action.startsWith(`${ev}:`))) return false;
    const byType = (key: string, type: string) => {
      const want = f[key];
      if (!want) return true;
      if (e.Type !== type) return false;
      return want.some((w) => e.Actor.ID === w || e.Actor.ID.startsWith(w) || e.Actor.Attributes.name === w);
    };
    if (!byType("container", "container") || !byType("volume", "volume") || !byType("network", "network")) return false;
    if (f.image) {
      const a = e.Actor.Attributes;
      if (!f.image.some((i) => a.image === i || e.Actor.ID === i || a.name === i || (e.Type === "image" && e.Actor.ID.replace(/^sha256:/, "").startsWith(i)))) return false;
    }
    if (f.label) {
      const a = e.Actor.Attributes;
      if (!f.label.every((l) => {
        const i = l.indexOf("=");
        return i < 0 ? l in a : a[l.slice(0, i)] === l.slice(i + 1);
      })) return false;
    }
    if (f.scope && !f.scope.includes(e.scope)) return false;
    return true;
  };
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
    Plugins: { Volume: ["local"], Network: ["bridge", "host", "null"], Authorization: null, Log: ["k8s-file"] },
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
    NFd: 0,
    OomKillDisable: s.info.cgroupVersion === "1",
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: s.info.cgroupVersion,
    NEventsListener: 0,
    KernelVersion: s.info.kernelVersion,
    OperatingSystem: s.info.operatingSystem,
    OSVersion: "",
    OSType: "linux",
    Architecture: os.machine(),
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ["127.0.0.0/8"], IndexConfigs: {}, Mirrors: [] },
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
