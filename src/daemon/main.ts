import { promises as fsp, constants as fsc } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createApiServer, type ApiListener, type DaemonInfo, type Services } from "../api/index.js";
import { ContainerService } from "../container/index.js";
import { Builder } from "../builder/index.js";
import { EventBus } from "../events/index.js";
import { startIdleGC } from "./idle-gc.js";
import { socketServed } from "./socket-owner.js";
import { deferTierUpUntilBusy } from "./tier-up.js";
import { ContentStore } from "../content/index.js";
import { ImageService } from "../image/index.js";
import { NetworkService } from "../network/index.js";
import { Snapshotter } from "../snapshot/index.js";
import { VolumeService } from "../volume/index.js";
import { createLogger, newID, writeFileAtomic, type Logger } from "../lib/index.js";
import { bundledMonitor, lowMemoryNotification, mallocTrim, monitorName, run } from "../sys/index.js";
import { loadConfig, USAGE, type DaemonConfig } from "./config.js";
import { PIER_VERSION } from "./version.js";
import { containerBuildRunner } from "./build-runner.js";

export async function main(argv: string[]): Promise<void> {
  let cfg: DaemonConfig | "help" | "version";
  try {
    cfg = await loadConfig(argv);
  } catch (err) {
    process.stderr.write(`pierd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (cfg === "help") {
    process.stdout.write(USAGE);
    return;
  }
  if (cfg === "version") {
    process.stdout.write(`Pier version ${PIER_VERSION}\n`);
    return;
  }
  const log = createLogger(cfg.logLevel);
  try {
    await startDaemon(cfg, log);
  } catch (err) {
    log.error("pierd failed to start", { err: (err as Error).message });
    process.stderr.write(`pierd: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

export async function startDaemon(cfg: DaemonConfig, log: Logger): Promise<{ close(): Promise<void> }> {
  // First, so that no start-up work (restoring many containers) reaches TurboFan while quiet.
  const tierUp = deferTierUpUntilBusy({
    eager: process.env.PIER_V8_TIER_UP === "eager",
    onBusy: (why) => log.debug("busy: V8's optimizing compiler on from now", { why }),
  });
  await fsp.mkdir(cfg.dataRoot, { recursive: true, mode: 0o711 });
  await fsp.mkdir(cfg.execRoot, { recursive: true, mode: 0o711 });
  await lockDataRoot(cfg.dataRoot);

  const events = new EventBus();
  const content = new ContentStore(path.join(cfg.dataRoot, "content"));
  const snapshots = new Snapshotter(path.join(cfg.dataRoot, "overlay2"));
  const images = new ImageService({ root: path.join(cfg.dataRoot, "image"), content, snapshots, events });
  const volumes = new VolumeService(path.join(cfg.dataRoot, "volumes"), events);
  const n = cfg.network;
  const networks = new NetworkService({
    root: path.join(cfg.dataRoot, "network"),
    execRoot: cfg.execRoot,
    events,
    log,
    ...(n.bridge !== undefined ? { bridgeName: n.bridge } : {}),
    ...(n.bip ? { bip: n.bip } : {}),
    ...(n.defaultAddressPools ? { defaultAddressPools: n.defaultAddressPools } : {}),
    iptables: n.iptables,
    ipForward: n.ipForward,
    userlandProxy: n.userlandProxy,
  });
  await content.init();
  await snapshots.init();
  await images.init();
  await volumes.init();
  await networks.init();
  const runtimePath = await which(cfg.runtimePath);
  const monitorPath = await chooseMonitor(cfg.monitorPath, log);
  // What /info shows, asked of runc and the monitor while the containers are restored (each
  // is a process start: they would otherwise delay the socket after a restart).
  const versions = Promise.all([firstLineVersion(runtimePath, ["--version"]), firstLineVersion(monitorPath, ["--version"]), osName()]);
  versions.catch(() => {});
  const initPath = cfg.initPath ?? (await firstExisting(["/usr/bin/tini-static", "/usr/bin/catatonit", "/usr/libexec/podman/catatonit"]));
  const containers = new ContainerService({
    dataRoot: path.join(cfg.dataRoot, "containers"),
    execRoot: cfg.execRoot,
    runtimePath,
    monitorPath,
    initPath,
    defaultUlimits: cfg.defaultUlimits,
    logConfig: cfg.logConfig,
    createTimeoutMs: cfg.createTimeoutMs || undefined,
    images: {
      resolve: (ref) => images.resolve(ref),
      imageConfig: (id) => images.imageConfig(id),
      chainIDOf: (id) => images.chainIDOf(id),
    },
    rootfs: snapshots,
    volumes,
    networks,
    events,
    log,
  });
  await containers.init();
  await networks.restore((id) => containers.find(id)?.State.Running ?? false);
  // Restart policies and --rm at daemon start, before the API is served (as moby's restore);
  // a start that hangs must not keep the socket closed for good: after 30 s, serve anyway.
  const policies = containers.applyDaemonStartPolicies();
  const slow = await Promise.race([policies.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 30_000).unref())]);
  if (slow) log.warn("restarts at daemon start still running after 30 s; serving the API meanwhile");
  const builder = new Builder({ root: path.join(cfg.dataRoot, "builder"), images, snapshots, runner: containerBuildRunner(containers), log });
  await builder.init();
  // Layers of a force-deleted image outlive it while a container sits on them; once such a
  // container is removed they can go.
  events.subscribe((e) => {
    if (e.Type !== "container" || e.Action !== "destroy") return;
    const inUse = containers.all().map((c) => images.chainIDOf(c.Image)).filter((c): c is string => !!c);
    images.collectOrphanLayers(inUse).catch((err) => log.warn("layer collection failed", { err }));
  });

  const info: DaemonInfo = {
    id: await daemonID(cfg.dataRoot),
    name: os.hostname(),
    version: PIER_VERSION,
    dataRoot: cfg.dataRoot,
    execRoot: cfg.execRoot,
    runtimePath,
    runtimeVersion: (await versions)[0],
    monitorName: monitorName(monitorPath),
    monitorPath,
    monitorVersion: (await versions)[1],
    initPath,
    loggingDriver: cfg.logConfig.Type,
    kernelVersion: os.release(),
    operatingSystem: (await versions)[2],
    cgroupVersion: (await fsp.stat("/sys/fs/cgroup/cgroup.controllers").then(() => true, () => false)) ? "2" : "1",
    startedAt: Date.now(),
  };
  const services: Services = { containers, images, volumes, networks, events, info, builder };
  const v8gc = (globalThis as { gc?: (o?: object) => void }).gc;
  const idleGC = startIdleGC({
    collect: v8gc && (() => {
      const before = process.memoryUsage.rss();
      const t0 = performance.now();
      // V8's LowMemoryNotification (native addon): full collections that also shrink the
      // heap, the young generation back to its minimum and fragmented old-space pages
      // compacted, pages returned. Not gc({ type: "major", ... }): in Node 20's V8 (11.3) that
      // runs a young-generation collection only (measured: 21.9 MiB of old-space garbage left
      // by it; the "last-resort" flavor likewise); plain gc() collects but keeps the pages.
      if (!lowMemoryNotification()) v8gc();
      const afterGC = process.memoryUsage.rss();
      // What the collection freed, and what the burst left free in malloc's arenas (V8's
      // compiler zones, Node's buffers), stays resident until trimmed: ~2 MiB here.
      mallocTrim();
      const ms = +(performance.now() - t0).toFixed(1);
      const mib = (n: number) => +(n / 1048576).toFixed(1);
      log.debug("idle collection", { ms, rssBeforeMiB: mib(before), rssAfterGCMiB: mib(afterGC), rssAfterTrimMiB: mib(process.memoryUsage.rss()) });
    }),
  });
  const touch = () => {
    idleGC.touch();
    tierUp.touch();
  };
  events.subscribe(touch);
  const servers: ApiListener[] = [];
  // PIER_API_FAST_PATH=0 serves every request through node:http alone (to compare the two).
  const fastPath = process.env.PIER_API_FAST_PATH !== "0";
  for (const host of cfg.hosts) {
    const server = createApiServer(services, log, { fastPath, onActivity: touch });
    await listen(server, host);
    servers.push(server);
    log.info("API listening", { host });
  }

  const close = async () => {
    idleGC.stop();
    tierUp.stop();
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    containers.close();
    await networks.close().catch((e) => log.warn("network shutdown failed", { err: (e as Error).message }));
    await fsp.rm(path.join(cfg.dataRoot, "pierd.pid"), { force: true });
  };
  const onSignal = (sig: string) => {
    log.info("shutting down; containers keep running", { signal: sig });
    void close().finally(() => process.exit(0));
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  // A fault in one request must not take the daemon (and every client) down.
  process.on("uncaughtException", (err) => log.error("uncaught exception", { err: err.message, stack: err.stack }));
  process.on("unhandledRejection", (err) => log.error("unhandled rejection", { err: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack }));
  return { close };
}

/**
 * One pierd per data root: a pid file names the owner; a live owner means refuse.
 * (A stale file from a crash names a dead pid, or a pid that is no longer pierd.)
 */
async function lockDataRoot(dataRoot: string): Promise<void> {
  const pidFile = path.join(dataRoot, "pierd.pid");
  try {
    const fh = await fsp.open(pidFile, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
    await fh.writeFile(String(process.pid));
    await fh.close();
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const owner = Number((await fsp.readFile(pidFile, "utf8")).trim());
  if (owner && owner !== process.pid && (await isPierd(owner))) {
    throw new Error(`another pierd (pid ${owner}) is already using data root ${dataRoot}; stop it first`);
  }
  await writeFileAtomic(pidFile, String(process.pid));
}

async function isPierd(pid: number): Promise<boolean> {
  try {
    const cmdline = await fsp.readFile(`/proc/${pid}/cmdline`, "utf8");
    return /pierd/.test(cmdline);
  } catch {
    return false;
  }
}

async function listen(server: ApiListener, host: string): Promise<void> {
  if (!host.startsWith("unix://")) throw new Error(`unsupported host ${host}: only unix:// sockets are served (TCP needs mutual TLS, not supported yet)`);
  const sock = host.slice("unix://".length);
  await fsp.mkdir(path.dirname(sock), { recursive: true, mode: 0o711 });
  if (await socketServed(sock)) throw new Error(`${sock} is in use by another daemon`);
  await fsp.rm(sock, { force: true });
  // The socket is created 0660: the umask is set around bind so no moment exists in which
  // it is reachable by others.
  const old = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(sock, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(old);
  }
  const docker = await groupID("docker");
  if (docker !== undefined) await fsp.chown(sock, 0, docker).catch(() => {});
}

async function groupID(name: string): Promise<number | undefined> {
  try {
    const line = (await fsp.readFile("/etc/group", "utf8")).split("\n").find((l) => l.startsWith(`${name}:`));
    return line ? Number(line.split(":")[2]) : undefined;
  } catch {
    return undefined;
  }
}

async function which(bin: string): Promise<string> {
  if (bin.includes("/")) return bin;
  for (const dir of (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = path.join(dir, bin);
    if (await fsp.access(p, fsc.X_OK).then(() => true, () => false)) return p;
  }
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin"]) {
    const p = path.join(dir, bin);
    if (await fsp.access(p, fsc.X_OK).then(() => true, () => false)) return p;
  }
  throw new Error(`${bin} not found in PATH: install it (apt-get install ${bin})`);
}

/** The configured monitor, else Pier's own, else (not built) conmon from PATH. */
async function chooseMonitor(configured: string | undefined, log: Logger): Promise<string> {
  if (configured) return which(configured);
  const own = bundledMonitor();
  if (own) return own;
  log.warn("pier-monitor was not built (npm ci builds it); using conmon");
  return which("conmon");
}

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) if (await fsp.access(p).then(() => true, () => false)) return p;
  return undefined;
}

async function firstLineVersion(bin: string, args: string[]): Promise<string> {
  const res = await run(bin, args, { allowFailure: true });
  return /version\s+(\S+)/.exec(res.stdout)?.[1] ?? "unknown";
}

async function osName(): Promise<string> {
  try {
    const text = await fsp.readFile("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}

async function daemonID(dataRoot: string): Promise<string> {
  const file = path.join(dataRoot, "engine-id");
  try {
    return (await fsp.readFile(file, "utf8")).trim();
  } catch {
    const id = newID();
    await writeFileAtomic(file, id);
    return id;
  }
}
