// The image service: image records, tags, load/save/import, list/inspect/history, remove/prune.
export { ImageService, apiConfig } from "./service.js";
export type { ImageServiceOptions, ListOptions, BlobRef, CreateImageOptions, ProgressLine } from "./service.js";
export type {
  ImageRecord,
  LayerRecord,
  ImageSummary,
  ImageInspect,
  ApiImageConfig,
  HistoryResponseItem,
  ImageDeleteResponseItem,
  ImagesPruneReport,
  ImageUser,
  UsedBy,
} from "./types.js";
export { applyChanges, exposedPorts, shellWords } from "./changes.js";
export { imageArchive, imageArchiveChunks } from "./archive-writer.js";
export type { ArchiveImage, ArchiveLayer, ArchiveOptions } from "./archive-writer.js";
export { tarHeader, tarStream, tarPadding, TAR_END } from "./tarwriter.js";
export type { TarEntry, TarBody } from "./tarwriter.js";
