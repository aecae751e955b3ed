export { createApiServer, buildRouter, type ApiListener } from "./server.js";
export { API_VERSION, MIN_API_VERSION } from "./router.js";
export type { Services, DaemonInfo } from "./services.js";
export { STATUS_BY_KIND } from "./errors.js";
