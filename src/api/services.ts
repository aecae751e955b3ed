import type { ContainerService } from "../container/index.js";
import type { ImageService } from "../image/index.js";
import type { VolumeService } from "../volume/index.js";
import type { NetworkService } from "../network/index.js";
import type { EventBus } from "../events/index.js";
import type { Builder } from "../builder/index.js";

/** Facts about the daemon that /info and /version report. */
export interface DaemonInfo {
  id: string;
  name: string;
  version: string;
  dataRoot: string;
  execRoot: string;
  runtimePath: string;
  runtimeVersion: string;
  /** The container monitor: "pier-monitor" or "conmon", its path and version. */
  monitorName: string;
  monitorPath: string;
  monitorVersion: string;
  initPath?: string;
  /** Containers' default logging driver (daemon.json log-driver, pierd --log-driver). */
  loggingDriver: string;
  kernelVersion: string;
  operatingSystem: string;
  cgroupVersion: "1" | "2";
  startedAt: number;
}

/** Everything the API layer calls into; the daemon wires it. */
export interface Services {
  containers: ContainerService;
  images: ImageService;
  volumes: VolumeService;
  networks: NetworkService;
  events: EventBus;
  info: DaemonInfo;
  builder?: Builder;
}
