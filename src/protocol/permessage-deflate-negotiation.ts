/**
 * permessage-deflate negotiation, RFC 7692 §5 and §7.1: read the client's
 * offers (from `parseExtensions`), accept the first acceptable one and build
 * the Sec-WebSocket-Extensions value of the 101 response. Pure: no zlib here;
 * the agreed parameters configure a `PerMessageDeflate` (permessage-deflate.ts).
 *
 * Invalid offers are DECLINED, not refused with 400: RFC 7692 §7 says "A
 * server MUST decline an extension negotiation offer for this extension if
 * ... The negotiation offer contains an extension parameter not defined for
 * use in an offer ... with an invalid value ... multiple extension
 * parameters with the same name". Declining moves on to the client's next
 * offer, or completes the handshake without compression. (The ws package
 * answers 400 instead; a 400 would lock out a client whose preferred offer
 * uses a parameter from a future revision of the extension.) Only header
 * syntax errors, RFC 6455 §9.1, are refused with 400, by `parseExtensions`.
 */
import { formatExtensions } from './extensions.ts';
import type { ExtensionOffer } from './extensions.ts';

/** The registered extension name, RFC 7692 §7. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Smallest and largest LZ77 window, as base-2 logarithms (RFC 7692 §7.1.2). */
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;

/** Server policy for permessage-deflate. */
export interface PerMessageDeflateOptions {
  /** Accept permessage-deflate offers at all. */
  enabled: boolean;
  /** Reset the server's compressor after every message (always agreed, whatever the client offered). */
  serverNoContextTakeover: boolean;
  /** Ask the client to reset its compressor after every message (always agreed). */
  clientNoContextTakeover: boolean;
  /** Largest LZ77 window the server compresses with, 8..15 (the client may ask for less). */
  serverMaxWindowBits: number;
  /** Largest LZ77 window the client may compress with, 8..15, when the client lets the server choose. */
  clientMaxWindowBits: number;
  /** Messages shorter than this many bytes are sent uncompressed (RSV1 clear). */
  thresholdBytes: number;
  /** zlib compression level, 0..9 (0 stores, 1 is fastest, 9 is smallest). */
  level: number;
  /** zlib memLevel, 1..9: memory of the compressor's hash table and buffers while it runs. */
  memLevel: number;
}

/**
 * Defaults, chosen to keep per-connection memory at zero between messages:
 *
 * - disabled, like ws and uWebSockets.js: compression costs CPU on every
 *   message and opens compression side channels (CRIME/BREACH) when secrets
 *   and attacker-chosen text share a message; turn it on knowingly.
 * - both no_context_takeover flags set: each message is compressed and
 *   decompressed on its own, so a connection holds no window between
 *   messages. With context takeover a connection keeps the last
 *   2^window_bits bytes per direction (32 KiB each at 15; see
 *   permessage-deflate.ts for why Shoal keeps a window and not a zlib context).
 * - windows of 15 bits: they only cost memory while one message is being
 *   processed when there is no context takeover.
 * - level 1: on chat-like JSON its output is 13-16% larger than level 6's,
 *   and it is up to 4-5x faster on large messages (128 KiB: ~230 us against
 *   ~1050 us; bench/micro/deflate.ts, docs/permessage-deflate.md).
 * - threshold 1024 bytes, like ws: below it, headers and CPU outweigh the saving.
 */
export const DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS: Readonly<PerMessageDeflateOptions> = Object.freeze({
  enabled: false,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: MAX_WINDOW_BITS,
  clientMaxWindowBits: MAX_WINDOW_BITS,
  thresholdBytes: 1024,
  level: 1,
  memLevel: 8,
});

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`permessage-deflate option ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/**
 * The defaults overridden by `options`, validated. Throws RangeError on an
 * out-of-range value (a configuration error, found at startup).
 */
export function resolvePerMessageDeflateOptions(options: Partial<PerMessageDeflateOptions> = {}): PerMessageDeflateOptions {
  // Keys given as undefined keep their defaults.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const resolved: PerMessageDeflateOptions = { ...DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS, ...given };
  checkInteger('serverMaxWindowBits', resolved.serverMaxWindowBits, MIN_WINDOW_BITS, MAX_WINDOW_BITS);
  checkInteger('clientMaxWindowBits', resolved.clientMaxWindowBits, MIN_WINDOW_BITS, MAX_WINDOW_BITS);
  checkInteger('thresholdBytes', resolved.thresholdBytes, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('level', resolved.level, 0, 9);
  checkInteger('memLevel', resolved.memLevel, 1, 9);
  return resolved;
}

/** The parameters both sides agreed on for one connection. */
export interface DeflateAgreement {
  /** The server resets its compressor after every message (RFC 7692 §7.1.1.1). */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message (RFC 7692 §7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** The server compresses with a window of at most 2^bits bytes (RFC 7692 §7.1.2.1). */
  serverMaxWindowBits: number;
  /** The client compresses with a window of at most 2^bits bytes (RFC 7692 §7.1.2.2). */
  clientMaxWindowBits: number;
}

/** An accepted offer: the agreement and the Sec-WebSocket-Extensions value for the 101 response. */
export interface DeflateNegotiation {
  agreement: DeflateAgreement;
  response: string;
}

/** One permessage-deflate offer, read and validated. A window of `true` means "offered without a value". */
interface DeflateOffer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  clientMaxWindowBits: number | true | null;
}

/**
 * RFC 7692 §7.1.2.1: "server-max-window-bits = 1*DIGIT ... This value MUST be
 * an integer in the range 8 to 15 inclusive" (the same for client, §7.1.2.2),
 * with the ABNF `%x38-39 / "1" %x30-35`: no sign, no leading zero.
 */
function parseWindowBits(value: string | true): number | null {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

/** The offer's parameters, or null when RFC 7692 §7 requires declining it. */
function readOffer(params: Record<string, string | true>): DeflateOffer | null {
  const offer: DeflateOffer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  // A repeated parameter never gets here: parseExtensions refuses it with 400
  // (its record cannot hold two values); RFC 7692 §7 would decline the offer.
  for (const name of Object.keys(params)) {
    const value = params[name]!;
    switch (name) {
      case 'server_no_context_takeover':
        // §7.1.1.1: "This parameter has no value."
        if (value !== true) return null;
        offer.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        // §7.1.1.2: "This parameter has no value."
        if (value !== true) return null;
        offer.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // §7.1.2.1: "This parameter has a decimal integer value without
        // leading zeroes between 8 to 15, inclusive".
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        offer.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // §7.1.2.2: "This parameter has no value or a decimal integer value
        // without leading zeroes between 8 to 15 inclusive".
        if (value === true) {
          offer.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        offer.clientMaxWindowBits = bits;
        break;
      }
      default:
        // §7: decline an offer with "an extension parameter not defined for use in an offer".
        return null;
    }
  }
  return offer;
}

/** Accepts a valid offer under the server's policy: the agreement and the response parameters. */
function acceptOffer(offer: DeflateOffer, options: PerMessageDeflateOptions): DeflateNegotiation {
  const response: Record<string, string | true> = {};

  // §7.1.1.1: "A server accepts an extension negotiation offer that includes
  // the 'server_no_context_takeover' extension parameter by including the
  // 'server_no_context_takeover' extension parameter in the corresponding
  // extension negotiation response"; it "MAY include" it unasked.
  const serverNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover;

  // §7.1.2.1: the server accepts an offered server_max_window_bits "by
  // including the 'server_max_window_bits' extension parameter in the
  // extension negotiation response ... with the same or smaller value as the
  // offer", and "MAY include" it when it was not offered. 15 (32 KiB) is what
  // its absence means, so it is left out then.
  let serverMaxWindowBits = options.serverMaxWindowBits;
  let announceServerWindow = serverMaxWindowBits < MAX_WINDOW_BITS;
  if (offer.serverMaxWindowBits !== null) {
    serverMaxWindowBits = Math.min(serverMaxWindowBits, offer.serverMaxWindowBits);
    announceServerWindow = true;
  }

  // §7.1.2.2: "If a received extension negotiation offer doesn't have the
  // 'client_max_window_bits' extension parameter, the corresponding extension
  // negotiation response to the offer MUST NOT include" it: the client may
  // then use a 32 KiB window. When the server wants a smaller one, it asks for
  // client_no_context_takeover instead (which it "MAY include" in any
  // response, §7.1.1.2), so it keeps no window between messages at all.
  let clientNoContextTakeover = offer.clientNoContextTakeover || options.clientNoContextTakeover;
  let clientMaxWindowBits = MAX_WINDOW_BITS;
  if (offer.clientMaxWindowBits === null) {
    if (options.clientMaxWindowBits < MAX_WINDOW_BITS) clientNoContextTakeover = true;
  } else {
    // §7.1.2.2: with a value, the server answers with "a value equal to or
    // smaller than the received value"; without one, any value 8..15.
    const offered = offer.clientMaxWindowBits === true ? MAX_WINDOW_BITS : offer.clientMaxWindowBits;
    clientMaxWindowBits = Math.min(offered, options.clientMaxWindowBits);
  }
  const announceClientWindow = offer.clientMaxWindowBits !== null && clientMaxWindowBits < MAX_WINDOW_BITS;

  if (serverNoContextTakeover) response.server_no_context_takeover = true;
  if (clientNoContextTakeover) response.client_no_context_takeover = true;
  if (announceServerWindow) response.server_max_window_bits = String(serverMaxWindowBits);
  if (announceClientWindow) response.client_max_window_bits = String(clientMaxWindowBits);

  return {
    agreement: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits },
    response: formatExtensions([{ name: PERMESSAGE_DEFLATE, params: response }]),
  };
}

/**
 * Picks the permessage-deflate configuration for a connection from the
 * client's offers (all extensions, in the client's order, as returned by
 * `parseExtensions`). Returns the first acceptable permessage-deflate offer's
 * agreement and the Sec-WebSocket-Extensions response value, or null when
 * compression is disabled or no offer is acceptable: the 101 then carries no
 * Sec-WebSocket-Extensions header and RSV1 stays forbidden.
 *
 * When it returns an agreement, the caller must answer with `response`,
 * create one `PerMessageDeflate` for the connection from `agreement`, and
 * allow RSV1 on the first frame of data messages (RFC 7692 §6).
 */
export function negotiatePerMessageDeflate(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions,
): DeflateNegotiation | null {
  if (!options.enabled) return null;
  // §5: "The order of elements is important as it specifies the client's
  // preference. An element preceding another element has higher preference.
  // It is recommended that a server accepts PMCEs with higher preference if
  // the server supports them."
  for (const extension of offers) {
    if (extension.name !== PERMESSAGE_DEFLATE) continue;
    const offer = readOffer(extension.params);
    // Every valid offer is supported (windows 8..15, either takeover mode),
    // so the first valid one wins.
    if (offer !== null) return acceptOffer(offer, options);
  }
  return null;
}
