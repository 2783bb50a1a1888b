/**
 * Subprotocol negotiation, RFC 6455 §1.9, §4.1, §4.2.2 and §11.3.4: read the
 * client's Sec-WebSocket-Protocol offer and pick at most one protocol.
 */
import { HandshakeError } from './errors.ts';
import { isToken, splitList } from './http-syntax.ts';

/**
 * All Sec-WebSocket-Protocol lines of a request as one list, in the client's
 * order. Throws HandshakeError (HS_ERR_INVALID_PROTOCOL, 400) for an element
 * that is not a token or appears twice. Empty list elements are ignored
 * (RFC 9110 §5.6.1), so an empty header offers nothing.
 */
export function parseProtocolList(headerValues: readonly string[]): string[] {
  // RFC 6455 §11.3.4: the header "MAY appear multiple times in an HTTP request
  // (which is logically the same as a single |Sec-WebSocket-Protocol| header
  // field that contains all values)".
  const protocols = splitList(headerValues);
  const seen = new Set<string>();
  for (const protocol of protocols) {
    // RFC 6455 §4.1: "The elements that comprise this value MUST be non-empty
    // strings with characters in the range U+0021 to U+007E not including
    // separator characters as defined in [RFC2616]" (that is, tokens) ...
    if (!isToken(protocol)) {
      throw new HandshakeError('HS_ERR_INVALID_PROTOCOL', 'Invalid Sec-WebSocket-Protocol header: every subprotocol must be a token');
    }
    // ... "and MUST all be unique strings."
    if (seen.has(protocol)) {
      throw new HandshakeError('HS_ERR_INVALID_PROTOCOL', 'Invalid Sec-WebSocket-Protocol header: a subprotocol is offered twice');
    }
    seen.add(protocol);
  }
  return protocols;
}

/**
 * The subprotocol to answer with: the first in the CLIENT's order that the
 * server supports (exact, case-sensitive match), or null when none is, in
 * which case the 101 carries no Sec-WebSocket-Protocol header at all.
 */
export function selectSubprotocol(offered: readonly string[], supported: readonly string[]): string | null {
  if (offered.length === 0 || supported.length === 0) return null;
  // RFC 6455 §4.2.2 step 4: "The value chosen MUST be derived from the
  // client's handshake, specifically by selecting one of the values from the
  // |Sec-WebSocket-Protocol| field that the server is willing to use".
  for (const protocol of offered) {
    // An empty string is never a protocol, whatever `supported` contains:
    // the response must not carry an empty Sec-WebSocket-Protocol header.
    if (protocol.length > 0 && supported.includes(protocol)) return protocol;
  }
  return null;
}
