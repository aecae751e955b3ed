export const PIER_VERSION = "0.1.0";
