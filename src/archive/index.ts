// Layer tars: apply (with whiteouts) into a directory, never escaping it; tar a tree; diff an
// overlay upper dir. Compression is detected from the stream itself.
export { applyLayer, WHITEOUT_PREFIX, WHITEOUT_OPAQUE, OVERLAY_OPAQUE_XATTR } from "./apply.js";
export type { ApplyOptions, ApplyResult } from "./apply.js";
export { tarDirectory, diffOverlay } from "./pack.js";
export type { TarOptions } from "./pack.js";
export { createGunzip, decompressStream, detectCompression } from "./compress.js";
export type { Compression } from "./compress.js";
export { tarStream } from "./pax.js";
export { readTar } from "./tar-reader.js";
export type { TarEntry, TarEntryType, TarHeader } from "./tar-reader.js";
