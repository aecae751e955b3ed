import { invalidParameter } from "../errdefs/index.js";

// IPv4 addresses as unsigned 32-bit numbers, and CIDR prefixes over them.

export interface Prefix {
  /** The network address (host bits zero). */
  base: number;
  bits: number;
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]!.startsWith("0"))) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * "172.17.0.0/16" → prefix. `strict` refuses host bits (Docker: "invalid subnet … : it should be
 * 172.17.0.0/16"); otherwise they are cleared.
 */
export function parsePrefix(s: string, what = "subnet", strict = false): Prefix {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  const ip = m ? parseIPv4(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(bits >= 0 && bits <= 32)) {
    if (s.includes(":")) throw invalidParameter(`IPv6 ${what} ${s} is not supported: this engine has no IPv6 networking`);
    throw invalidParameter(`invalid ${what} ${s}: not a CIDR IPv4 prefix`);
  }
  const base = (ip & mask(bits)) >>> 0;
  if (strict && base !== ip) throw invalidParameter(`invalid ${what} ${s}: it should be ${formatPrefix({ base, bits })}`);
  return { base, bits };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIPv4(p.base)}/${p.bits}`;
}

export function size(p: Prefix): number {
  return 2 ** (32 - p.bits);
}

export function last(p: Prefix): number {
  return p.base + size(p) - 1;
}

export function contains(p: Prefix, ip: number): boolean {
  return ip >= p.base && ip <= last(p);
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.base <= last(b) && b.base <= last(a);
}

/** 02:42 followed by the address, as Docker made MACs: one IP, one MAC, so no stale ARP. */
export function macForIP(ip: number): string {
  const b = [0x02, 0x42, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

export interface AddressPool {
  base: string;
  size: number;
}

/** Docker's default-address-pools: 172.17–31.0.0/16, then 192.168.0.0/16 in /20s. */
export const DEFAULT_ADDRESS_POOLS: AddressPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: "192.168.0.0/16", size: 20 },
];

/** Every subnet the pools offer, in order. */
export function* poolSubnets(pools: AddressPool[]): Generator<Prefix> {
  for (const pool of pools) {
    const base = parsePrefix(pool.base, "address pool");
    if (pool.size < base.bits || pool.size > 30) throw invalidParameter(`invalid address pool ${pool.base} size ${pool.size}`);
    const step = 2 ** (32 - pool.size);
    for (let n = base.base; n <= last(base); n += step) yield { base: n, bits: pool.size };
  }
}
