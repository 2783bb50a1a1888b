/**
 * The Shoal subprotocols over loopback with real clients (`ws`), against a
 * server with 2 workers: negotiation, every envelope type in both codecs,
 * and every bad-input path with its close code or error reply.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RawClient, parseResponse, upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { EnvelopeClient, JSON_PROTOCOL, MSGPACK_PROTOCOL } from './shoal-helpers.ts';

const TEST_APP = fileURLToPath(new URL('./apps/shoal-test-app.ts', import.meta.url));
const RPC_APP = fileURLToPath(new URL('../../examples/rpc/app.ts', import.meta.url));

let server: TestServer;
let rpcServer: TestServer;
const open: EnvelopeClient[] = [];

beforeAll(async () => {
  [server, rpcServer] = await Promise.all([startServer({ app: TEST_APP, workers: 2 }), startServer({ app: RPC_APP, workers: 2 })]);
});
afterAll(async () => {
  for (const client of open) client.close();
  await Promise.all([server.close(), rpcServer.close()]);
});

async function client(protocols: string | string[] = MSGPACK_PROTOCOL): Promise<EnvelopeClient> {
  const connection = await EnvelopeClient.open(`${server.origin}/`, protocols);
  open.push(connection);
  // Every connection of the test app starts with a welcome event.
  await connection.next((message) => Array.isArray(message) && message[1] === 'welcome');
  return connection;
}

describe('negotiation (RFC 6455 §4.2.2, spec §1)', () => {
  it('selects the first offered protocol the server supports, in the client order', async () => {
    expect((await client(['mqtt', JSON_PROTOCOL, MSGPACK_PROTOCOL])).protocol).toBe(JSON_PROTOCOL);
    expect((await client(['mqtt', MSGPACK_PROTOCOL, JSON_PROTOCOL])).protocol).toBe(MSGPACK_PROTOCOL);
  });

  it('answers with exactly one Sec-WebSocket-Protocol header', async () => {
    const raw = await RawClient.connect(server.port);
    raw.write(upgradeRequest('/', { 'Sec-WebSocket-Protocol': `x, ${JSON_PROTOCOL}, ${MSGPACK_PROTOCOL}` }));
    await raw.waitFor(() => raw.received.includes('\r\n\r\n'));
    const head = raw.received.toString('latin1').split('\r\n\r\n')[0];
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head.match(/^sec-websocket-protocol:.*$/gim)).toEqual([`Sec-WebSocket-Protocol: ${JSON_PROTOCOL}`]);
    raw.destroy();
  });

  it("gives a client that offers no subprotocol the app's raw onMessage", async () => {
    const ws = new WebSocket(`${server.origin}/`);
    await once(ws, 'open');
    expect(ws.protocol).toBe('');
    ws.send('plain text');
    const [reply, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    expect([reply.toString(), isBinary]).toEqual(['plain text', false]);
    ws.close();
  });

  it('refuses a client without a subprotocol with 400 and the list when the app has no onMessage', async () => {
    const raw = await RawClient.connect(rpcServer.port);
    raw.write(upgradeRequest('/'));
    const response = parseResponse(await raw.responseText());
    expect(response.status).toBe(400);
    expect(response.body).toContain(MSGPACK_PROTOCOL);
    expect(response.body).toContain(JSON_PROTOCOL);
  });
});

describe.each([
  ['msgpack', MSGPACK_PROTOCOL],
  ['JSON', JSON_PROTOCOL],
])('every envelope type on the %s protocol (spec §4)', (_name, protocol) => {
  it('request -> reply', async () => {
    const c = await client(protocol);
    expect(await c.call(1, 'add', { a: 2, b: 40 })).toEqual([2, 1, 42]);
    expect(await c.call(2, 'echo', { nested: [1, 'two', null, true] })).toEqual([2, 2, { nested: [1, 'two', null, true] }]);
  });

  it('event -> event', async () => {
    const c = await client(protocol);
    c.send([0, 'note', { hi: 1 }]);
    expect(await c.next()).toEqual([0, 'noted', { hi: 1 }]);
  });

  it('request -> error reply (UNKNOWN_METHOD), and the connection stays open', async () => {
    const c = await client(protocol);
    expect(await c.call(3, 'nope', null)).toEqual([3, 3, { code: 'UNKNOWN_METHOD', message: 'unknown method "nope"' }]);
    expect(await c.call(4, 'add', { a: 1, b: 1 })).toEqual([2, 4, 2]);
  });

  it('$subscribe -> reply, then publications', async () => {
    const c = await client(protocol);
    expect(await c.call(5, '$subscribe', `t-${protocol}`)).toEqual([2, 5, null]);
    expect(await c.call(6, 'publish', { topic: `t-${protocol}`, data: { n: 1 } })).toEqual([2, 6, 1]);
    expect(await c.next((m) => Array.isArray(m) && m[0] === 4)).toEqual([4, `t-${protocol}`, { n: 1 }]);
    expect(await c.call(7, '$unsubscribe', `t-${protocol}`)).toEqual([2, 7, true]);
  });

  it('unknown event -> $error event', async () => {
    const c = await client(protocol);
    c.send([0, 'mystery', 1]);
    expect(await c.next()).toEqual([0, '$error', { code: 'UNKNOWN_EVENT', message: 'unknown event "mystery"', data: { event: 'mystery' } }]);
  });
});

describe('handler failures (spec §6): error replies, the connection stays open', () => {
  it('a throwing handler -> HANDLER_ERROR without the error text', async () => {
    const c = await client();
    const reply = await c.call(1, 'boom', null);
    expect(reply).toEqual([3, 1, { code: 'HANDLER_ERROR', message: 'internal error in the handler' }]);
    expect(JSON.stringify(reply)).not.toContain('secret');
    expect(await c.call(2, 'add', { a: 1, b: 2 })).toEqual([2, 2, 3]);
  });

  it('an AppError -> its code, message and data', async () => {
    const c = await client();
    expect(await c.call(1, 'refuse', null)).toEqual([3, 1, { code: 'NOT_ALLOWED', message: 'you may not', data: { why: 'test' } }]);
  });

  it('a handler that never answers -> TIMEOUT after its timeoutMs, and later requests are served', async () => {
    const c = await client();
    expect(await c.call(1, 'never', null)).toEqual([3, 1, { code: 'TIMEOUT', message: 'method "never" did not answer within 300 ms' }]);
    expect(await c.call(2, 'add', { a: 1, b: 2 })).toEqual([2, 2, 3]);
  });

  it('timed-out handlers fill the per-connection limit -> TOO_MANY_REQUESTS', async () => {
    const c = await client();
    for (let id = 1; id <= 4; id++) expect(((await c.call(id, 'never', null)) as unknown[])[2]).toMatchObject({ code: 'TIMEOUT' });
    expect(await c.call(5, 'add', { a: 1, b: 2 })).toEqual([3, 5, { code: 'TOO_MANY_REQUESTS', message: 'more than 4 requests in flight' }]);
  });

  it('a throwing event handler -> $error event HANDLER_ERROR', async () => {
    const c = await client();
    c.send([0, 'explode', null]);
    expect(await c.next()).toEqual([0, '$error', { code: 'HANDLER_ERROR', message: 'internal error in the handler', data: { event: 'explode' } }]);
  });

  it('a subscription the app refuses -> FORBIDDEN; a bad topic -> BAD_REQUEST', async () => {
    const c = await client();
    expect(await c.call(1, '$subscribe', 'forbidden:x')).toEqual([3, 1, { code: 'FORBIDDEN', message: 'subscription to "forbidden:x" refused' }]);
    expect(((await c.call(2, '$subscribe', 12)) as unknown[])[2]).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('past maxSubscriptions -> TOO_MANY_SUBSCRIPTIONS', async () => {
    const c = await client();
    for (let i = 0; i < 8; i++) expect(await c.call(i, '$subscribe', `many-${i}`)).toEqual([2, i, null]);
    expect(((await c.call(8, '$subscribe', 'many-8')) as unknown[])[2]).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS' });
  });

  it('CPU methods run on the pool; one that spins past its timeout is aborted with TIMEOUT', async () => {
    const c = await client();
    expect(await c.call(1, 'fib', 25)).toEqual([2, 1, 75025]);
    expect(await c.call(2, 'spin', null)).toEqual([3, 2, { code: 'TIMEOUT', message: 'method "spin" did not answer within 300 ms' }]);
    expect(await c.call(3, 'fib', 10)).toEqual([2, 3, 55]);
  });
});

describe('bad input (spec §6): the connection is failed with a close code and reason', () => {
  it('a text message on the msgpack protocol -> 1003', async () => {
    const c = await client(MSGPACK_PROTOCOL);
    c.ws.send('[1,1,"add",null]');
    expect(await c.closed).toEqual({ code: 1003, reason: 'text message on the msgpack protocol' });
  });

  it('a binary message on the JSON protocol -> 1003', async () => {
    const c = await client(JSON_PROTOCOL);
    c.ws.send(Buffer.from('[1,1,"add",null]'));
    expect(await c.closed).toEqual({ code: 1003, reason: 'binary message on the JSON protocol' });
  });

  it('bytes that are not msgpack -> 1007', async () => {
    const c = await client(MSGPACK_PROTOCOL);
    c.ws.send(Buffer.from([0x94, 0x01]));
    expect(await c.closed).toEqual({ code: 1007, reason: 'message is not one valid msgpack value' });
  });

  it('text that is not JSON -> 1007', async () => {
    const c = await client(JSON_PROTOCOL);
    c.ws.send('[1, 1, "add"');
    expect(await c.closed).toEqual({ code: 1007, reason: 'message is not one valid JSON value' });
  });

  it.each([
    ['a map', { method: 'add' }],
    ['a reply from the client', [2, 1, null]],
    ['a request with a fractional id', [1, 1.5, 'add', null]],
    ['a request without data', [1, 1, 'add']],
  ])('valid msgpack but not an envelope (%s) -> 1007', async (_what, value) => {
    const c = await client(MSGPACK_PROTOCOL);
    c.send(value);
    const closed = await c.closed;
    expect(closed.code).toBe(1007);
    expect(closed.reason.length).toBeGreaterThan(0);
  });

  it('a failed connection does not disturb the others', async () => {
    const bystander = await client();
    const bad = await client();
    bad.ws.send('not msgpack');
    await bad.closed;
    expect(await bystander.call(1, 'add', { a: 1, b: 1 })).toEqual([2, 1, 2]);
  });

  it('a handler may close its own connection with a code and reason', async () => {
    const c = await client();
    c.send([1, 1, 'closeMe', { code: 4001, reason: 'bye' }]);
    expect(await c.closed).toEqual({ code: 4001, reason: 'bye' });
  });
});
