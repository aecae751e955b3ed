export * from "./exec.js";
