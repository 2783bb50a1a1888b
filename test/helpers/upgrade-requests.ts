/**
 * Upgrade requests for the handshake unit tests: a valid request and ways
 * to alter it, the head parser driven over chunkings, and refusal checks.
 */
import { expect } from 'vitest';
import { HandshakeError } from '../../src/protocol/errors.ts';
import type { HandshakeErrorCode } from '../../src/protocol/errors.ts';
import { HandshakeParser } from '../../src/protocol/handshake-parser.ts';
import type { RequestHead } from '../../src/protocol/request-head.ts';
import { chunkings } from './chunkings.ts';

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Bytes of a head: each line + CRLF, then the empty line, then `after`. */
export function head(lines: string[], after = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + after, 'latin1');
}

export const VALID_LINES = [
  'GET /chat?room=1 HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`,
  'Sec-WebSocket-Version: 13',
];

/** The valid upgrade request with header lines removed (by name) and raw lines added. */
export function upgrade(options: { requestLine?: string; omit?: string[]; add?: string[] } = {}): Buffer {
  const omit = new Set((options.omit ?? []).map((name) => name.toLowerCase()));
  const lines = VALID_LINES.slice(1).filter((line) => !omit.has(line.slice(0, line.indexOf(':')).toLowerCase()));
  return head([options.requestLine ?? VALID_LINES[0], ...lines, ...(options.add ?? [])]);
}

/** Whole, 1-byte pieces, EVERY two-piece split and seeded random splits. */
export function everyChunking(bytes: Buffer): [string, Buffer[]][] {
  return chunkings(bytes, { maxTwoPieceSplits: Number.POSITIVE_INFINITY }).map(({ name, chunks }) => [name, chunks]);
}

/** Push chunks until the head completes; returns the head and every byte after it. */
export function parseChunks(chunks: Buffer[], options?: { maxHeadBytes?: number }): { head: RequestHead; rest: Buffer } {
  const parser = new HandshakeParser(options);
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]);
    if (result !== null) return { head: result, rest: Buffer.concat([parser.rest, ...chunks.slice(i + 1)]) };
  }
  throw new Error('head incomplete');
}

export function parse(bytes: Buffer, options?: { maxHeadBytes?: number }): RequestHead {
  return parseChunks([bytes], options).head;
}

export function refusal(run: () => unknown): HandshakeError {
  try {
    run();
  } catch (error) {
    if (error instanceof HandshakeError) return error;
    throw error;
  }
  throw new Error('expected a HandshakeError');
}

export function expectRefusal(run: () => unknown, code: HandshakeErrorCode, status: number): HandshakeError {
  const error = refusal(run);
  expect(error.code).toBe(code);
  expect(error.status).toBe(status);
  return error;
}
