/**
 * Sec-WebSocket-Extensions parsing and formatting, RFC 6455 §9.1:
 *
 *   extension-list  = 1#extension
 *   extension       = extension-token *( ";" extension-param )
 *   extension-token = registered-token
 *   extension-param = token [ "=" (token | quoted-string) ]
 *     ; When using the quoted-string syntax variant, the value after
 *     ; quoted-string unescaping MUST conform to the 'token' ABNF.
 *
 * OWS is accepted around ";", "=" and "," (the implied linear whitespace of
 * the RFC 2616 grammar RFC 6455 uses). The parser is one left-to-right pass
 * with no backtracking.
 */
import { HandshakeError } from './errors.ts';
import { isOws, isToken, isTokenChar } from './http-syntax.ts';

/** One offered (or accepted) extension with its parameters; a parameter without a value is `true`. */
export interface ExtensionOffer {
  name: string;
  /** Null-prototype record: a parameter named "__proto__" is an ordinary key. */
  params: Record<string, string | true>;
}

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function malformed(detail: string): HandshakeError {
  return new HandshakeError('HS_ERR_INVALID_EXTENSIONS', `Invalid Sec-WebSocket-Extensions header: ${detail}`);
}

function skipOws(value: string, i: number): number {
  while (i < value.length && isOws(value.charCodeAt(i))) i++;
  return i;
}

function skipToken(value: string, i: number): number {
  while (i < value.length && isTokenChar(value.charCodeAt(i))) i++;
  return i;
}

/** qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4). */
function isQdtext(c: number): boolean {
  return c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

/** quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) (RFC 9110 §5.6.4). */
function isQuotedPairChar(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

/** Parse a quoted-string starting at the opening DQUOTE; returns the unescaped text and the index after the closing DQUOTE. */
function parseQuotedString(value: string, start: number): { text: string; end: number } {
  let text = '';
  let i = start + 1;
  let segment = i;
  for (;;) {
    if (i >= value.length) throw malformed('unterminated quoted string');
    const c = value.charCodeAt(i);
    if (c === DQUOTE) {
      text += value.slice(segment, i);
      return { text, end: i + 1 };
    }
    if (c === BACKSLASH) {
      text += value.slice(segment, i);
      i++;
      if (i >= value.length || !isQuotedPairChar(value.charCodeAt(i))) throw malformed('invalid escape in quoted string');
      text += value[i];
      i++;
      segment = i;
    } else {
      if (!isQdtext(c)) throw malformed('invalid character in quoted string');
      i++;
    }
  }
}

function parseValue(value: string, out: ExtensionOffer[]): void {
  const n = value.length;
  let i = 0;
  for (;;) {
    i = skipOws(value, i);
    if (i >= n) return;
    // RFC 9110 §5.6.1: "a recipient MUST parse and ignore a reasonable number
    // of empty list elements".
    if (value.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    // RFC 6455 §9.1: extension-token = registered-token = token.
    const nameStart = i;
    i = skipToken(value, i);
    if (i === nameStart) throw malformed('expected an extension name');
    const name = value.slice(nameStart, i);
    const params: Record<string, string | true> = Object.create(null);
    i = skipOws(value, i);
    while (i < n && value.charCodeAt(i) === SEMICOLON) {
      // RFC 6455 §9.1: extension-param = token [ "=" (token | quoted-string) ].
      i = skipOws(value, i + 1);
      const paramStart = i;
      i = skipToken(value, i);
      if (i === paramStart) throw malformed(`expected a parameter name in "${name}"`);
      const param = value.slice(paramStart, i);
      let paramValue: string | true = true;
      i = skipOws(value, i);
      if (i < n && value.charCodeAt(i) === EQUALS) {
        i = skipOws(value, i + 1);
        if (i < n && value.charCodeAt(i) === DQUOTE) {
          const quoted = parseQuotedString(value, i);
          // RFC 6455 §9.1: "the value after quoted-string unescaping MUST
          // conform to the 'token' ABNF."
          if (!isToken(quoted.text)) throw malformed(`quoted value of "${param}" is not a token`);
          paramValue = quoted.text;
          i = quoted.end;
        } else {
          const valueStart = i;
          i = skipToken(value, i);
          if (i === valueStart) throw malformed(`expected a value for "${param}"`);
          paramValue = value.slice(valueStart, i);
        }
        i = skipOws(value, i);
      }
      // A parameter given twice has no single meaning; RFC 7692 §7 declines
      // such offers, and a record cannot represent them, so refuse the request.
      if (params[param] !== undefined) throw malformed(`parameter "${param}" repeated in "${name}"`);
      params[param] = paramValue;
    }
    if (i < n && value.charCodeAt(i) !== COMMA) throw malformed('unexpected character after an extension');
    out.push({ name, params });
    i++;
  }
}

/**
 * All Sec-WebSocket-Extensions lines of a request as one offer list, in the
 * client's order (RFC 6455 §9.1, §11.3.2: repeated lines are "logically the
 * same as a single ... header field that contains all values"). Throws
 * HandshakeError (HS_ERR_INVALID_EXTENSIONS, 400) on any syntax error.
 */
export function parseExtensions(headerValues: readonly string[]): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  for (const value of headerValues) parseValue(value, offers);
  return offers;
}

/**
 * The Sec-WebSocket-Extensions value for a response: `name; param;
 * param=value` joined with ", ". Throws TypeError when a name or a value is
 * not a token (RFC 6455 §9.1), since that is a programming error, not input.
 */
export function formatExtensions(list: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const extension of list) {
    if (!isToken(extension.name)) throw new TypeError(`extension name is not a token: ${JSON.stringify(extension.name)}`);
    let part = extension.name;
    for (const [param, value] of Object.entries(extension.params)) {
      if (!isToken(param)) throw new TypeError(`extension parameter name is not a token: ${JSON.stringify(param)}`);
      if (value === true) {
        part += `; ${param}`;
      } else {
        if (typeof value !== 'string' || !isToken(value)) {
          throw new TypeError(`value of extension parameter "${param}" is not a token: ${JSON.stringify(value)}`);
        }
        part += `; ${param}=${value}`;
      }
    }
    parts.push(part);
  }
  return parts.join(', ');
}
