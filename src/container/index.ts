export * from "./record.js";
export * from "./service.js";
export * from "./views.js";
export * from "./logfile.js";
export { planMounts, parseBind } from "./mounts.js";
