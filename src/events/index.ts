export * from "./bus.js";
export * from "./filter.js";
