export * from "./reference.js";
export * from "./image.js";
export * from "./runtime-spec.js";
export * from "./platform.js";
