/**
 * HTTP syntax primitives shared by the handshake modules (RFC 9110 §5.6):
 * tokens, optional whitespace and comma-separated lists. Every function is a
 * single linear pass over its input with table look-ups; no regular
 * expressions, so attacker-controlled header values cost bounded work per byte.
 */

/**
 * tchar lookup for the 7-bit range (RFC 9110 §5.6.2):
 * tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 */
const TCHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** True when `code` is a tchar (RFC 9110 §5.6.2). */
export function isTokenChar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** True when `value` is a token: 1*tchar (RFC 9110 §5.6.2). */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** True for SP and HTAB, the characters of OWS (RFC 9110 §5.6.3). */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** `value[start, end)` without leading and trailing OWS (RFC 9110 §5.6.3). */
export function trimOws(value: string, start = 0, end = value.length): string {
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

/**
 * Split comma-separated list values (RFC 9110 §5.6.1) into trimmed elements,
 * all lines in order as one list. Empty elements are dropped: "a recipient
 * MUST parse and ignore a reasonable number of empty list elements".
 */
export function splitList(values: readonly string[]): string[] {
  const elements: string[] = [];
  for (const value of values) {
    let start = 0;
    while (start <= value.length) {
      let comma = value.indexOf(',', start);
      if (comma === -1) comma = value.length;
      const element = trimOws(value, start, comma);
      if (element.length > 0) elements.push(element);
      start = comma + 1;
    }
  }
  return elements;
}

/**
 * True when `values`, read as one comma list (RFC 9110 §5.6.1), contains
 * `lowerCaseToken` compared ASCII case-insensitively.
 */
export function listHasToken(values: readonly string[], lowerCaseToken: string): boolean {
  // The elements are compared where they lie, without splitting the list into
  // strings: every upgrade checks Upgrade and Connection this way, and the
  // split lists and lower-cased copies were 6% of the bytes a worker
  // allocated in a connection storm (sampling heap profiler).
  for (const value of values) {
    let start = 0;
    while (start <= value.length) {
      let end = value.indexOf(',', start);
      if (end === -1) end = value.length;
      const next = end + 1;
      while (start < end && isOws(value.charCodeAt(start))) start++;
      while (end > start && isOws(value.charCodeAt(end - 1))) end--;
      if (end - start === lowerCaseToken.length && equalsLowerCase(value, start, lowerCaseToken)) return true;
      start = next;
    }
  }
  return false;
}

/** True when `value` from `start` holds `lowerCase`, ASCII letters compared case-insensitively. */
function equalsLowerCase(value: string, start: number, lowerCase: string): boolean {
  for (let i = 0; i < lowerCase.length; i++) {
    const c = value.charCodeAt(start + i);
    const expected = lowerCase.charCodeAt(i);
    // ASCII upper-case letters only (0x41-0x5A): no other character folds, as with toLowerCase() on tokens.
    if (c !== expected && !(c >= 0x41 && c <= 0x5a && c + 0x20 === expected)) return false;
  }
  return true;
}

/**
 * True when `value` is safe as a field value in a response we generate:
 * visible ASCII, SP and HTAB only (RFC 9110 §5.5), so no CR/LF can split the
 * head (response splitting).
 */
export function isSafeFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return true;
}
