export * from "./spec.js";
export * from "./seccomp.js";
export * from "./user.js";
