import type { ContainerConfigDefaults, HealthConfig } from "../oci/index.js";

/** One layer of an image as stored: the blob kept in the content store and its diff ID. */
export interface LayerRecord {
  /** sha256 of the uncompressed layer tar (the config's rootfs.diff_ids entry). */
  diffID: string;
  /** Digest of the blob in the content store: equal to diffID when kept uncompressed. */
  digest: string;
  mediaType: string;
  /** Size of the blob in bytes. */
  size: number;
  /** Size of the uncompressed tar (= size when the blob is uncompressed). */
  uncompressedSize: number;
}

/** What the image service persists per image (one JSON record per image). */
export interface ImageRecord {
  /** "sha256:…" = sha256 of the exact config bytes. */
  id: string;
  /** Familiar form: "busybox:latest", "localhost:5000/a:1". */
  repoTags: string[];
  /** Familiar form: "busybox@sha256:…". */
  repoDigests: string[];
  /** RFC 3339 from the config ("" when the config has none). */
  created: string;
  /** Sum of the layers' (extracted) sizes. */
  size: number;
  /** Top chain ID; undefined for an image without layers. */
  chainID?: string;
  /** RFC 3339; undefined when never tagged locally (shown as Go's zero time). */
  lastTagTime?: string;
  /** Parent image ID for images built or committed locally. */
  parent?: string;
  layers: LayerRecord[];
  /** Manifest blobs (in the content store) that describe this image, e.g. after a pull. */
  manifests?: string[];
}

// ---- Docker Engine API v1.45 wire shapes ----

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  /** Only for API < 1.44. */
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

/** container.Config as Docker marshals it inside image inspect. */
export interface ApiImageConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[];
  [extra: string]: unknown;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created?: string;
  /** Only for API < 1.45. */
  Container?: string;
  /** Only for API < 1.45. */
  ContainerConfig?: ApiImageConfig;
  DockerVersion: string;
  Author: string;
  Config: ApiImageConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  /** Only for API < 1.44. */
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers?: string[] };
  Metadata: { LastTagTime: string };
}

export interface HistoryResponseItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[];
  Size: number;
  Comment: string;
}

export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagesPruneReport {
  ImagesDeleted: ImageDeleteResponseItem[];
  SpaceReclaimed: number;
}

/** A container that uses an image, as the container service reports it. */
export interface ImageUser {
  id: string;
  running: boolean;
}

/**
 * Tells which containers use an image. Plain strings are container IDs of containers that
 * are not running (a soft conflict, which force overrides).
 */
export type UsedBy = (imageID: string) => Array<string | ImageUser>;

export type { ContainerConfigDefaults };
