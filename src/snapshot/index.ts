export { Snapshotter } from "./snapshotter.js";
export type { ApplyLayerResult } from "./snapshotter.js";
