import type { ContainerConfigDefaults, HealthConfig } from "../oci/index.js";

/** Config as the create request sends it (ContainerConfig in the API spec). */
export interface ContainerConfig extends ContainerConfigDefaults {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  Healthcheck?: HealthConfig;
}

export interface MountPoint {
  Type: "bind" | "volume" | "tmpfs";
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Only for a container whose healthcheck has run (omitted otherwise, as Docker does). */
  Health?: HealthState;
}

/** One run of a healthcheck (HealthcheckResult in the API spec). */
export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** State.Health (Health in the API spec); "none" is only ever a filter value. */
export interface HealthState {
  Status: "starting" | "healthy" | "unhealthy";
  FailingStreak: number;
  /** The last five results, oldest first. */
  Log: HealthcheckResult[];
}

/** HostConfig as sent by clients: kept verbatim (plus defaults) and returned by inspect. */
export type HostConfig = Record<string, unknown> & {
  Binds?: string[] | null;
  Mounts?: { Type: string; Source?: string; Target: string; ReadOnly?: boolean; BindOptions?: { Propagation?: string; CreateMountpoint?: boolean }; VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> }; TmpfsOptions?: { SizeBytes?: number; Mode?: number } }[] | null;
  Tmpfs?: Record<string, string> | null;
  NetworkMode?: string;
  PortBindings?: Record<string, unknown> | null;
  PublishAllPorts?: boolean;
  AutoRemove?: boolean;
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  Init?: boolean | null;
  LogConfig?: { Type: string; Config: Record<string, string> };
  ReadonlyRootfs?: boolean;
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
};

/** What is stored for one container: the inspect document plus what only the engine needs. */
export interface ContainerRecord {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  HostConfig: HostConfig;
  Mounts: MountPoint[];
  Config: ContainerConfig;
  /** Volumes this engine created for the container (image VOLUMEs, `-v /path`): removed with `rm -v`. */
  anonymousVolumes: string[];
  /** Legacy links (--link on the default bridge) by child ID; HostConfig.Links is shown from these. */
  links?: { id: string; alias: string }[];
  /** Last start's user intent: a user stop disables restart policies until the next start. */
  stoppedByUser?: boolean;
}

export const ZERO_TIME = "0001-01-01T00:00:00Z";

export function initialState(): ContainerState {
  return {
    Status: "created",
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: "",
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
