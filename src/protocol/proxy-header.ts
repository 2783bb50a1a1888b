/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
 * that a load balancer sends before anything else on a connection, read
 * chunk by chunk, sans-I/O, strictly: anything that is not a complete, valid
 * header is a ProxyHeaderError, and the caller closes the connection.
 *
 *   v1: "PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n"   (at most 107 bytes)
 *   v2: \r\n\r\n\0\r\nQUIT\n, ver/cmd, fam/proto, length (16 bits), addresses, TLVs
 *
 * Choices where the specification leaves room (each at the line applying it):
 * - v1 ports are decimal without leading zeros; addresses must match the
 *   family named (TCP4 / TCP6); `UNKNOWN` keeps the socket's own address;
 * - v2 LOCAL (a health check by the proxy itself), AF_UNSPEC and AF_UNIX
 *   keep the socket's own address; UDP is refused (this is a TCP server);
 * - v2 TLVs are skipped, but their lengths must tile the rest of the header
 *   exactly; a v2 header longer than `maxBytes` is refused.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The v2 signature (proxy-protocol.txt §2.2). */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** proxy-protocol.txt §2.1: "a receiver may wait for at most 107 characters" (CRLF included). */
const V1_MAX_BYTES = 107;
const V2_FIXED_BYTES = 16;

/** A malformed or unsupported PROXY header. */
export class ProxyHeaderError extends Error {
  constructor(reason: string) {
    super(`PROXY protocol: ${reason}`);
    this.name = 'ProxyHeaderError';
  }
}

/** A complete header. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /** The original client (source) address, or null when the header carries none to use (LOCAL, UNKNOWN, UNSPEC, UNIX). */
  readonly sourceAddress: string | null;
  readonly sourcePort: number | null;
  readonly destinationAddress: string | null;
  readonly destinationPort: number | null;
}

const EMPTY = Buffer.alloc(0);

/** Reads one PROXY header from the start of a byte stream. */
export class ProxyHeaderParser {
  readonly maxBytes: number;
  #buffered: Buffer;
  #header: ProxyHeader | null;
  #rest: Buffer;
  #error: ProxyHeaderError | null;

  /** `maxBytes`: the largest header accepted (v2 headers may carry TLVs up to 64 KiB; v1 is at most 107). */
  constructor(maxBytes: number = 4096) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 232) throw new RangeError(`maxBytes must be an integer >= 232, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    this.#buffered = EMPTY;
    this.#header = null;
    this.#rest = EMPTY;
    this.#error = null;
  }

  /** The bytes after the header, once push() has returned it. */
  get rest(): Buffer {
    return this.#rest;
  }

  /** Feed bytes: null while the header is incomplete, else the header. Throws ProxyHeaderError (and again on later calls). */
  push(chunk: Buffer): ProxyHeader | null {
    if (this.#error !== null) throw this.#error;
    if (this.#header !== null) throw new Error('ProxyHeaderParser: the header is complete; pass further bytes on');
    const bytes = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    try {
      const header = this.#parse(bytes);
      if (header === null) {
        // Copy: the chunk belongs to the socket's read.
        this.#buffered = Buffer.from(bytes);
        return null;
      }
      this.#buffered = EMPTY;
      this.#header = header;
      return header;
    } catch (error) {
      if (error instanceof ProxyHeaderError) {
        this.#error = error;
        this.#buffered = EMPTY;
      }
      throw error;
    }
  }

  #parse(bytes: Buffer): ProxyHeader | null {
    const first = bytes[0];
    if (first === V1_PREFIX[0]) return this.#parseV1(bytes);
    if (first === PROXY_V2_SIGNATURE[0]) return this.#parseV2(bytes);
    throw new ProxyHeaderError('the connection does not start with a PROXY header');
  }

  #parseV1(bytes: Buffer): ProxyHeader | null {
    const prefix = Math.min(bytes.length, V1_PREFIX.length);
    if (bytes.compare(V1_PREFIX, 0, prefix, 0, prefix) !== 0) throw new ProxyHeaderError('the connection does not start with a PROXY header');
    const limit = Math.min(bytes.length, V1_MAX_BYTES);
    let end = -1;
    for (let i = 0; i < limit; i++) {
      const c = bytes[i];
      if (c === 0x0d) {
        end = i;
        break;
      }
      // proxy-protocol.txt §2.1: printable US-ASCII and single spaces only.
      if (c < 0x20 || c > 0x7e) throw new ProxyHeaderError('v1 header with a byte that is not printable ASCII');
    }
    if (end === -1) {
      if (bytes.length >= V1_MAX_BYTES) throw new ProxyHeaderError(`v1 header without CRLF in its first ${V1_MAX_BYTES} bytes`);
      return null;
    }
    if (end + 1 >= bytes.length) return null;
    if (bytes[end + 1] !== 0x0a) throw new ProxyHeaderError('v1 header line must end with CRLF');
    this.#rest = bytes.subarray(end + 2);
    const fields = bytes.toString('latin1', 0, end).split(' ');
    // "PROXY UNKNOWN" may be followed by anything up to the CRLF (§2.1): the receiver ignores it.
    if (fields[1] === 'UNKNOWN') return { version: 1, sourceAddress: null, sourcePort: null, destinationAddress: null, destinationPort: null };
    if (fields.length !== 6) throw new ProxyHeaderError('v1 header must be "PROXY TCP4|TCP6 source destination sport dport"');
    const [, family, source, destination, sourcePort, destinationPort] = fields;
    const isFamily = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : null;
    if (isFamily === null) throw new ProxyHeaderError(`v1 protocol must be TCP4, TCP6 or UNKNOWN, got ${JSON.stringify(family)}`);
    if (!isFamily(source) || !isFamily(destination)) throw new ProxyHeaderError(`v1 ${family} header with an address that is not ${family === 'TCP4' ? 'IPv4' : 'IPv6'}`);
    return {
      version: 1,
      sourceAddress: source,
      sourcePort: v1Port(sourcePort),
      destinationAddress: destination,
      destinationPort: v1Port(destinationPort),
    };
  }

  #parseV2(bytes: Buffer): ProxyHeader | null {
    const prefix = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
    if (bytes.compare(PROXY_V2_SIGNATURE, 0, prefix, 0, prefix) !== 0) throw new ProxyHeaderError('the connection does not start with a PROXY header');
    if (bytes.length < V2_FIXED_BYTES) return null;
    const versionCommand = bytes[12];
    // §2.2: the high nibble is the version (2), the low one the command: 0 LOCAL, 1 PROXY.
    if (versionCommand >> 4 !== 2) throw new ProxyHeaderError(`v2 header with version ${versionCommand >> 4}`);
    const command = versionCommand & 0x0f;
    if (command > 1) throw new ProxyHeaderError(`v2 header with unknown command ${command}`);
    const familyProtocol = bytes[13];
    const length = bytes.readUInt16BE(14);
    const total = V2_FIXED_BYTES + length;
    if (total > this.maxBytes) throw new ProxyHeaderError(`v2 header of ${total} bytes, over the limit of ${this.maxBytes}`);
    if (bytes.length < total) return null;
    this.#rest = bytes.subarray(total);
    const block = bytes.subarray(V2_FIXED_BYTES, total);
    let addressBytes: number;
    let header: ProxyHeader;
    switch (familyProtocol) {
      case 0x11: // TCP over IPv4: 4 + 4 + 2 + 2 bytes.
        addressBytes = 12;
        header = v2TcpHeader(block, length, 4, ipv4, 'TCP4');
        break;
      case 0x21: // TCP over IPv6: 16 + 16 + 2 + 2 bytes.
        addressBytes = 36;
        header = v2TcpHeader(block, length, 16, ipv6, 'TCP6');
        break;
      case 0x00: // AF_UNSPEC: no address; the receiver uses the connection's own.
        addressBytes = 0;
        header = { version: 2, sourceAddress: null, sourcePort: null, destinationAddress: null, destinationPort: null };
        break;
      case 0x31: // UNIX stream: 108 + 108 bytes of paths, no IP address to use.
        addressBytes = 216;
        if (length < addressBytes) throw new ProxyHeaderError('v2 UNIX header shorter than its addresses');
        header = { version: 2, sourceAddress: null, sourcePort: null, destinationAddress: null, destinationPort: null };
        break;
      default:
        throw new ProxyHeaderError(`v2 header with unsupported family/transport 0x${familyProtocol.toString(16).padStart(2, '0')} (TCP over IPv4/IPv6, UNIX stream or UNSPEC only)`);
    }
    // §2.2.7: the rest are TLVs (type 1 byte, length 2 bytes, value); skipped, but they must fit exactly.
    let at = addressBytes;
    while (at < length) {
      if (length - at < 3) throw new ProxyHeaderError('v2 header with a truncated TLV');
      const valueLength = block.readUInt16BE(at + 1);
      at += 3 + valueLength;
      if (at > length) throw new ProxyHeaderError('v2 TLV longer than the header');
    }
    // §2.2: with LOCAL "the receiver must accept this connection as valid and must use the real connection endpoints".
    if (command === 0) return { version: 2, sourceAddress: null, sourcePort: null, destinationAddress: null, destinationPort: null };
    return header;
  }
}

function v1Port(text: string): number {
  // §2.1: ports are "in decimal", 0..65535; leading zeros refused (one spelling per port).
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw new ProxyHeaderError(`v1 header with an invalid port ${JSON.stringify(text)}`);
  return Number(text);
}

/** The addresses of a v2 TCP header: source, destination (`size` bytes each), then the two ports. */
function v2TcpHeader(block: Buffer, length: number, size: number, address: (bytes: Buffer, at: number) => string, name: string): ProxyHeader {
  if (length < 2 * size + 4) throw new ProxyHeaderError(`v2 ${name} header shorter than its addresses`);
  return {
    version: 2,
    sourceAddress: address(block, 0),
    destinationAddress: address(block, size),
    sourcePort: block.readUInt16BE(2 * size),
    destinationPort: block.readUInt16BE(2 * size + 2),
  };
}

function ipv4(bytes: Buffer, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

function ipv6(bytes: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(at + i).toString(16));
  // The canonical text form (RFC 5952) via the WHATWG URL parser: [::1] rather than 0:0:0:0:0:0:0:1.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
