export * from "./record.js";
export * from "./service.js";
export * from "./views.js";
export * from "./logfile.js";
export { planMounts, parseBind } from "./mounts.js";
export { nowRFC3339, parseRFC3339Ns, rfc3339FromNs } from "./clock.js";
