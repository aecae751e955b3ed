export { NetworkService, type NetworkServiceOptions, type AttachOptions, type AttachResult, type ConfigureOptions } from "./service.js";
export type { NetworkResource, NetworkContainer, NetworkCreateRequest, EndpointSettings, EndpointSettingsInput, NetworkSettings, PortMap, SummaryPort, IPAMConfigEntry } from "./types.js";
export { DEFAULT_ADDRESS_POOLS, type AddressPool } from "./ipnet.js";
export type { PortBindings } from "./ports.js";
