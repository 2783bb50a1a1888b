/**
 * `--trust-proxy`: the peers (addresses and CIDRs, in a node:net BlockList)
 * whose Forwarded / X-Forwarded-For headers are believed, and the client
 * address they lead to: walking the hops from the nearest, the first one
 * that is not a trusted proxy (the right-most untrusted hop). Headers from
 * any other peer are ignored, so a client cannot choose its own address.
 */
import { BlockList, isIP } from 'node:net';
import { forwardedHops } from '../protocol/forwarded.ts';

/** One `--trust-proxy` entry, checked. */
export interface AddressRange {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`; throws a RangeError naming the entry. */
export function parseAddressRange(entry: string): AddressRange {
  const text = typeof entry === 'string' ? entry.trim() : '';
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  const max = version === 6 ? 128 : 32;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (version === 0 || prefix < 0 || prefix > max) {
    throw new RangeError(`trustProxy entry ${JSON.stringify(entry)} is not an IP address or CIDR such as 10.0.0.0/8 or ::1`);
  }
  return { address, prefix, family: version === 6 ? 'ipv6' : 'ipv4' };
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The trusted proxies of a server. */
export class TrustedProxies {
  readonly #list: BlockList;
  readonly #empty: boolean;

  constructor(entries: readonly string[]) {
    this.#list = new BlockList();
    for (const entry of entries) {
      const range = parseAddressRange(entry);
      this.#list.addSubnet(range.address, range.prefix, range.family);
    }
    this.#empty = entries.length === 0;
  }

  /** True when no proxy is trusted (the socket's peer is always the client). */
  get empty(): boolean {
    return this.#empty;
  }

  /** True when `address` is one of the trusted proxies. */
  trusts(address: string): boolean {
    if (this.#empty) return false;
    const plain = unmapped(address);
    const version = isIP(plain);
    return version !== 0 && this.#list.check(plain, version === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client's address for a request from `peer` with these headers: the
   * right-most hop that is not a trusted proxy. When every hop is trusted
   * the left-most one is the client; a hop that is not an address stops the
   * walk at the last address before it (the proxy that wrote it).
   */
  clientAddress(peer: string, headers: ReadonlyMap<string, readonly string[]>): string {
    if (!this.trusts(peer)) return peer;
    const hops = forwardedHops(headers);
    if (hops === null) return peer;
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i];
      if (hop === null) break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}
