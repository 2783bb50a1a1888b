/**
 * Micro-benchmark for the server side of the opening handshake: parse,
 * validate, accept key, 101 response, for a minimal head and a browser-like
 * one; and the one-shot crypto.hash() against createHash() for the accept key.
 * Run: npx node bench/micro/handshake.ts
 */
import { createHash } from 'node:crypto';
import { buildAcceptResponse, computeAcceptKey } from '../../src/protocol/handshake-response.ts';
import { HandshakeParser } from '../../src/protocol/handshake-parser.ts';
import { validateUpgradeRequest } from '../../src/protocol/upgrade-request.ts';
import { selectSubprotocol } from '../../src/protocol/subprotocol.ts';

const BUDGET_MS = 300;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const MINIMAL = Buffer.from(
  'GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  'latin1',
);
const BROWSER = Buffer.from(
  'GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nConnection: Upgrade\r\nPragma: no-cache\r\n' +
    'Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: http://example.com\r\nSec-WebSocket-Version: 13\r\n' +
    'Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n' +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Protocol: chat, superchat\r\n` +
    'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
  'latin1',
);
const SUPPORTED = ['superchat', 'chat'];

/** Nanoseconds per call of `fn`, over BUDGET_MS after a warm-up of the same length. */
function measure(fn: () => unknown): number {
  for (const phase of ['warm-up', 'measure']) {
    let calls = 0;
    const deadline = performance.now() + BUDGET_MS;
    const start = process.hrtime.bigint();
    while (performance.now() < deadline) {
      for (let i = 0; i < 1000; i++) fn();
      calls += 1000;
    }
    if (phase === 'measure') return Number(process.hrtime.bigint() - start) / calls;
  }
  return Number.NaN;
}

function handshake(bytes: Buffer): Buffer {
  const head = new HandshakeParser().push(bytes)!;
  const info = validateUpgradeRequest(head);
  return buildAcceptResponse(info.key, { protocol: selectSubprotocol(info.protocols, SUPPORTED) });
}

function bytewise(bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) pieces.push(bytes.subarray(i, i + 1));
  return pieces;
}
const BROWSER_PIECES = bytewise(BROWSER);

const rows: [string, number][] = [
  [`parse, minimal head (${MINIMAL.length} B)`, measure(() => new HandshakeParser().push(MINIMAL))],
  [`parse, browser head (${BROWSER.length} B)`, measure(() => new HandshakeParser().push(BROWSER))],
  [
    `parse, browser head in 1-byte chunks`,
    measure(() => {
      const parser = new HandshakeParser();
      for (const piece of BROWSER_PIECES) parser.push(piece);
    }),
  ],
  ['validate, browser head', (() => {
    const head = new HandshakeParser().push(BROWSER)!;
    return measure(() => validateUpgradeRequest(head));
  })()],
  ['accept key, crypto.hash()', measure(() => computeAcceptKey(KEY))],
  ['accept key, createHash()', measure(() => createHash('sha1').update(KEY + GUID).digest('base64'))],
  ['101 response with protocol', measure(() => buildAcceptResponse(KEY, { protocol: 'chat' }))],
  ['full handshake, minimal head', measure(() => handshake(MINIMAL))],
  ['full handshake, browser head', measure(() => handshake(BROWSER))],
];
console.log('step                                      ns/op');
for (const [label, ns] of rows) console.log(`${label.padEnd(40)}  ${ns.toFixed(0).padStart(6)}`);
