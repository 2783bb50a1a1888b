/**
 * Runs the handshake case table in memory against the protocol core, the way
 * the worker drives it: parser -> validation -> subprotocol choice -> 101, or
 * the HandshakeError's response. Each case runs with the request whole and in
 * 1-byte pieces.
 */
import { describe, expect, it } from 'vitest';
import { HandshakeError } from '../../src/protocol/errors.ts';
import { buildAcceptResponse, handshakeErrorResponse } from '../../src/protocol/handshake-response.ts';
import { HandshakeParser } from '../../src/protocol/handshake-parser.ts';
import { validateUpgradeRequest } from '../../src/protocol/upgrade-request.ts';
import { selectSubprotocol } from '../../src/protocol/subprotocol.ts';
import { HANDSHAKE_CASES, HANDSHAKE_CONFORMANCE_SERVER, parseHttpResponse, responseMismatches } from './handshake-cases.ts';

interface Outcome {
  response: Buffer;
  /** Bytes after the head handed to the frame layer (only for a 101). */
  rest: Buffer;
}

/** Serve one handshake from `chunks`; fails the test if the head never completes. */
function serve(chunks: Buffer[]): Outcome {
  const parser = new HandshakeParser({ maxHeadBytes: HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes });
  try {
    for (let i = 0; i < chunks.length; i++) {
      const head = parser.push(chunks[i]);
      if (head === null) continue;
      const info = validateUpgradeRequest(head);
      const protocol = selectSubprotocol(info.protocols, HANDSHAKE_CONFORMANCE_SERVER.protocols);
      return { response: buildAcceptResponse(info.key, { protocol }), rest: Buffer.concat([parser.rest, ...chunks.slice(i + 1)]) };
    }
  } catch (error) {
    if (error instanceof HandshakeError) return { response: handshakeErrorResponse(error), rest: Buffer.alloc(0) };
    throw error;
  }
  throw new Error('the request head never completed');
}

function onePieceAndBytes(bytes: Buffer): [string, Buffer[]][] {
  const bytewise: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
  return [
    ['whole', [bytes]],
    ['1-byte pieces', bytewise],
  ];
}

describe('opening handshake conformance (in memory)', () => {
  it('has unique case ids', () => {
    const ids = HANDSHAKE_CASES.map((testCase) => testCase.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  describe.each(HANDSHAKE_CASES.map((testCase) => [testCase.id, testCase] as const))('%s', (_id, testCase) => {
    it.each(onePieceAndBytes(Buffer.from(testCase.request, 'latin1')))(`${testCase.title} (%s)`, (_label, chunks) => {
      const outcome = serve(chunks);
      expect(responseMismatches(testCase, parseHttpResponse(outcome.response))).toEqual([]);
      if (testCase.expect.rest !== undefined) {
        expect(outcome.rest.toString('latin1')).toBe(testCase.expect.rest);
      } else if (testCase.expect.status === 101) {
        expect(outcome.rest.length).toBe(0);
      }
    });
  });
});

describe('responseMismatches (the checker itself)', () => {
  const accepted = HANDSHAKE_CASES.find((testCase) => testCase.id === 'accept-rfc-example')!;
  const refused = HANDSHAKE_CASES.find((testCase) => testCase.id === 'host-missing')!;

  it('reports a wrong status, a wrong accept value and a missing protocol', () => {
    const response = parseHttpResponse(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n'));
    expect(responseMismatches(accepted, response)).toEqual([
      'sec-websocket-accept: ["x"], expected "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="',
      'protocol null, expected "chat"',
    ]);
    expect(responseMismatches(refused, response)[0]).toBe('status 101, expected 400');
  });

  it('reports a repeated or empty Sec-WebSocket-Protocol', () => {
    const twice = parseHttpResponse(Buffer.from('HTTP/1.1 101 OK\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n'));
    expect(responseMismatches(accepted, twice)).toContain('Sec-WebSocket-Protocol appears more than once');
    const empty = parseHttpResponse(Buffer.from('HTTP/1.1 101 OK\r\nSec-WebSocket-Protocol:\r\n\r\n'));
    expect(responseMismatches(accepted, empty)).toContain('Sec-WebSocket-Protocol is empty');
  });

  it('reports a Content-Length that does not match the body and a body without the reason', () => {
    const response = parseHttpResponse(
      Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nno'),
    );
    expect(responseMismatches(refused, response)).toEqual(['content-length ["3"] does not match a body of 2 bytes', 'body "no" lacks "Host"']);
  });

  it('refuses a response with bare LF line endings', () => {
    expect(() => parseHttpResponse(Buffer.from('HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n'))).toThrow(/CRLF/);
  });
});
