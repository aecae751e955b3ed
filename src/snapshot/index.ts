export { Snapshotter } from "./snapshotter.js";
export type { ApplyLayerResult, StagedLayer } from "./snapshotter.js";
