import { conflict, invalidParameter, unavailable } from "../errdefs/index.js";
import { contains, formatIPv4, formatPrefix, last, type Prefix } from "./ipnet.js";

/**
 * Addresses of one network. Taking an address is synchronous, so concurrent starts in the one
 * event loop can never be handed the same address; the owner (a container ID) is kept with it
 * so a late release from an older attachment never frees someone else's address. Allocation is
 * sequential and wraps (as Docker's), so an address just released is not handed out again at once.
 */
export class AddressPool {
  private readonly used = new Map<number, string>();
  private cursor: number;
  private readonly first: number;
  private readonly end: number;

  constructor(
    readonly subnet: Prefix,
    readonly gateway: number,
    readonly range?: Prefix,
  ) {
    const r = range ?? subnet;
    // Network and broadcast addresses of the subnet are never given (a /31 or /32 has none).
    this.first = Math.max(r.base, subnet.bits <= 30 ? subnet.base + 1 : subnet.base);
    this.end = Math.min(last(r), subnet.bits <= 30 ? last(subnet) - 1 : last(subnet));
    this.cursor = this.first;
  }

  /** An address for `owner`: `want` if given (and free), else the next free one. */
  take(owner: string, want?: number): number {
    if (want !== undefined) {
      if (!contains(this.subnet, want)) throw invalidParameter(`no configured subnet or ip-range contain the IP address ${formatIPv4(want)}`);
      if (want === this.gateway) throw conflict(`Address already in use: ${formatIPv4(want)} is the gateway`);
      const holder = this.used.get(want);
      if (holder !== undefined && holder !== owner) throw conflict(`Address already in use`);
      this.used.set(want, owner);
      return want;
    }
    const count = this.end - this.first + 1;
    for (let i = 0; i < count; i++) {
      const ip = this.cursor;
      this.cursor = ip >= this.end ? this.first : ip + 1;
      if (ip === this.gateway || this.used.has(ip)) continue;
      this.used.set(ip, owner);
      return ip;
    }
    throw unavailable(`no available IPv4 addresses on this network's address pools: ${formatPrefix(this.range ?? this.subnet)}`);
  }

  /** Record an address already handed out (records loaded at start). False if someone else has it. */
  mark(ip: number, owner: string): boolean {
    const holder = this.used.get(ip);
    if (holder !== undefined && holder !== owner) return false;
    this.used.set(ip, owner);
    return true;
  }

  release(ip: number, owner: string): void {
    if (this.used.get(ip) === owner) this.used.delete(ip);
  }

  owner(ip: number): string | undefined {
    return this.used.get(ip);
  }

  get inUse(): number {
    return this.used.size;
  }
}
