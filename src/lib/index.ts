export * from "./fsutil.js";
export * from "./ids.js";
export * from "./time.js";
export * from "./stdcopy.js";
export * from "./log.js";
export * from "./names.js";
export * from "./securejoin.js";
export * from "./dockerignore.js";
