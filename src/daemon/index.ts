export { main, startDaemon } from "./main.js";
export { loadConfig } from "./config.js";
