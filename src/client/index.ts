export * from "./host.js";
export * from "./errors.js";
export * from "./json-stream.js";
export * from "./client.js";
