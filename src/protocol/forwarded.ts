/**
 * The hops a request went through, as proxies record them: the `for=`
 * parameters of `Forwarded` (RFC 7239) or the list of `X-Forwarded-For`
 * (the de-facto form), sans-I/O. Which hop is the client is decided by the
 * caller, who knows which proxies it trusts (transport/trusted-proxies.ts).
 */
import { isIP } from 'node:net';

/**
 * The hop addresses of a request, nearest the client first, or null when
 * the request carries neither header. `Forwarded` wins when both are
 * present (RFC 7239 §7.5 leaves the mix to the server; it is the standard
 * one). A hop that is not an IP address (`unknown`, an obfuscated name,
 * garbage) is null in the list.
 */
export function forwardedHops(headers: ReadonlyMap<string, readonly string[]>): (string | null)[] | null {
  const forwarded = headers.get('forwarded');
  if (forwarded !== undefined) return forwarded.flatMap(forwardedFor);
  const xff = headers.get('x-forwarded-for');
  if (xff !== undefined) return xff.flatMap((line) => line.split(',').map((hop) => ipOf(hop.trim())));
  return null;
}

/**
 * The `for=` node of each forwarded-element of one Forwarded line (RFC 7239
 * §4: `Forwarded = 1#forwarded-element`, elements are `;`-separated pairs,
 * values a token or a quoted-string). An element without `for=` is null.
 */
function forwardedFor(line: string): (string | null)[] {
  const hops: (string | null)[] = [];
  let hop: string | null = null;
  let i = 0;
  while (i <= line.length) {
    // One pair: name "=" value, up to ";" or ",".
    let end = i;
    let quoted = false;
    while (end < line.length) {
      const c = line[end];
      if (c === '"') quoted = !quoted;
      else if (c === '\\' && quoted) end++;
      else if (!quoted && (c === ';' || c === ',')) break;
      end++;
    }
    const pair = line.slice(i, end).trim();
    const equals = pair.indexOf('=');
    if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === 'for') hop = nodeAddress(unquote(pair.slice(equals + 1).trim()));
    if (end >= line.length || line[end] === ',') {
      hops.push(hop);
      hop = null;
    }
    i = end + 1;
  }
  return hops;
}

function unquote(value: string): string {
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return value;
  // RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ).
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** RFC 7239 §6: node = nodename [ ":" node-port ]; nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode. */
function nodeAddress(node: string): string | null {
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    return close === -1 ? null : ipOf(node.slice(1, close), 6);
  }
  const colon = node.indexOf(':');
  return ipOf(colon === -1 ? node : node.slice(0, colon), 4);
}

/** X-Forwarded-For hops are bare addresses; some proxies add a port to IPv4 ones or bracket IPv6 ones. */
function ipOf(text: string, family?: 4 | 6): string | null {
  let address = text;
  if (family === undefined) {
    if (address.startsWith('[')) return nodeAddress(address);
    if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(address)) address = address.slice(0, address.indexOf(':'));
  }
  const found = isIP(address);
  if (found === 0 || (family !== undefined && found !== family)) return null;
  return address;
}
