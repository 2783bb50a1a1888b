/**
 * Which `Origin`s may open a WebSocket (RFC 6455 §4.2.2 step 4, §10.2): a
 * list of exact origins and `scheme://*.domain[:port]` wildcards, sans-I/O.
 *
 * RFC 6455 §10.2: "Servers that are not intended to process input from any
 * web page but only for certain sites SHOULD verify the |Origin| field is an
 * origin they expect. If the origin indicated is unacceptable to the server,
 * then it SHOULD respond to the WebSocket handshake with a reply containing
 * HTTP 403 Forbidden status code."
 *
 * Choices where the RFCs leave room:
 * - a request without an Origin header is allowed: browsers always send one
 *   (RFC 6454 §7.2, fetch), and any other client could send whatever it
 *   likes, so the check protects browsers' users, not the server;
 * - the opaque origin `null` (sandboxed frames, file: pages) is refused;
 * - scheme and host compare case-insensitively (RFC 6454 §4 lower-cases
 *   them), and a default port (80 for http/ws, 443 for https/wss) is the
 *   same as none, as browsers serialize it (RFC 6454 §6.2);
 * - `*.` stands for one or more labels: `https://*.example.com` matches
 *   `https://a.example.com` and `https://a.b.example.com`, not
 *   `https://example.com` (list that one too).
 */

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', ws: '80', https: '443', wss: '443' };
const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+|\*\.[a-z0-9.-]+)(?::(\d{1,5}))?$/;
const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

interface ParsedOrigin {
  readonly scheme: string;
  readonly host: string;
  /** '' for the scheme's default port. */
  readonly port: string;
}

function parseOrigin(text: string): ParsedOrigin | null {
  const match = ORIGIN.exec(text.toLowerCase());
  if (match === null) return null;
  const [, scheme, host, port = ''] = match;
  if (port !== '' && (Number(port) > 65535 || (port.length > 1 && port.startsWith('0')))) return null;
  if (!host.startsWith('[')) {
    const labels = (host.startsWith('*.') ? host.slice(2) : host).split('.');
    if (!labels.every((label) => LABEL.test(label))) return null;
  }
  return { scheme, host, port: port === DEFAULT_PORTS[scheme] ? '' : port };
}

function serialize(origin: ParsedOrigin): string {
  return `${origin.scheme}://${origin.host}${origin.port === '' ? '' : `:${origin.port}`}`;
}

/**
 * The canonical form of an allowed-origin entry (lower case, default port
 * dropped). Throws a RangeError naming the entry when it is not an origin
 * (`scheme://host[:port]`, no path) or a `scheme://*.domain[:port]` wildcard.
 */
export function normalizeOriginPattern(pattern: string): string {
  const parsed = typeof pattern === 'string' ? parseOrigin(pattern.trim()) : null;
  if (parsed === null) {
    throw new RangeError(`allowedOrigins entry ${JSON.stringify(pattern)} is not an origin such as https://chat.example.com or https://*.example.com`);
  }
  return serialize(parsed);
}

/** Decides whether an upgrade's Origin header is acceptable. */
export class OriginPolicy {
  readonly #exact: ReadonlySet<string>;
  /** Wildcards as [scheme, ".domain", port]. */
  readonly #wildcards: readonly (readonly [string, string, string])[];

  /** `patterns`: allowed-origin entries (checked and normalized here as well). */
  constructor(patterns: readonly string[]) {
    const exact = new Set<string>();
    const wildcards: [string, string, string][] = [];
    for (const pattern of patterns) {
      const parsed = parseOrigin(normalizeOriginPattern(pattern)) as ParsedOrigin;
      if (parsed.host.startsWith('*.')) wildcards.push([parsed.scheme, parsed.host.slice(1), parsed.port]);
      else exact.add(serialize(parsed));
    }
    this.#exact = exact;
    this.#wildcards = wildcards;
  }

  /** True when a request with this Origin header (null: none) may upgrade. */
  allows(origin: string | null): boolean {
    if (origin === null) return true;
    const parsed = parseOrigin(origin);
    if (parsed === null || parsed.host.startsWith('*')) return false;
    if (this.#exact.has(serialize(parsed))) return true;
    for (const [scheme, suffix, port] of this.#wildcards) {
      if (parsed.scheme === scheme && parsed.port === port && parsed.host.length > suffix.length && parsed.host.endsWith(suffix)) return true;
    }
    return false;
  }
}
