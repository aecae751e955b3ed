export * from "./exec.js";
export * from "./monitor.js";
export * from "./runc.js";
export * from "./native.js";
export * from "./nsexec.js";
export * from "./net.js";
export * from "./spawn.js";
export * from "./startshim.js";
