/**
 * Subprotocol negotiation and the app's upgrade hook, with the ws client.
 * The fixture app supports chat.v2 and chat.v1 (in that order) and picks a
 * behaviour by path; it answers every message with "<protocol>|<data>".
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RawClient, parseResponse, upgradeRequest } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: fixtureApp('protocols-app.ts') });
});
afterAll(() => server.close());

/** Opens a connection, returns the negotiated protocol and the app's answer to one message. */
async function negotiate(path: string, protocols: string[], headers: Record<string, string> = {}) {
  const ws = new WebSocket(`${server.origin}${path}`, protocols, { headers });
  await once(ws, 'open');
  ws.send('who am i');
  const [answer] = (await once(ws, 'message')) as [Buffer];
  ws.close();
  return { protocol: ws.protocol, answer: answer.toString() };
}

async function refusal(path: string, headers: Record<string, string> = {}) {
  const client = await RawClient.connect(server.port);
  client.write(upgradeRequest(path, headers));
  return parseResponse(await client.responseText());
}

describe('subprotocol selection', () => {
  it('picks the first protocol in the client order that the app supports', async () => {
    expect(await negotiate('/', ['other', 'chat.v1', 'chat.v2'])).toEqual({ protocol: 'chat.v1', answer: 'chat.v1|null' });
  });

  it('selects none when nothing offered is supported, and sends no header', async () => {
    const client = await RawClient.connect(server.port);
    client.write(upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'mqtt, stomp' }));
    await client.waitFor(() => client.received.includes('\r\n\r\n'));
    const head = client.received.toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).not.toMatch(/Sec-WebSocket-Protocol/i);
    client.destroy();
  });

  it('treats repeated Sec-WebSocket-Protocol lines as one list', async () => {
    const client = await RawClient.connect(server.port);
    const request = upgradeRequest('/').replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Protocol: chat.v2\r\n\r\n');
    client.write(request);
    await client.waitFor(() => client.received.includes('\r\n\r\n'));
    expect(client.received.toString('latin1')).toMatch(/\r\nSec-WebSocket-Protocol: chat\.v2\r\n/);
    client.destroy();
  });
});

describe('the upgrade hook', () => {
  it('can override the choice with another offered protocol', async () => {
    expect((await negotiate('/last', ['chat.v2', 'chat.v1'])).protocol).toBe('chat.v1');
  });

  it('can accept without a protocol (a raw client: ws refuses that answer to an offer, as RFC 6455 §4.1 allows)', async () => {
    const client = await RawClient.connect(server.port);
    client.write(upgradeRequest('/none', { 'Sec-WebSocket-Protocol': 'chat.v2' }));
    await client.waitFor(() => client.received.includes('\r\n\r\n'));
    const head = client.received.toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).not.toMatch(/Sec-WebSocket-Protocol/i);
    client.destroy();
  });

  it('can run async and attach data the handlers see', async () => {
    const { answer } = await negotiate('/async', ['chat.v2'], { 'X-User': 'ada' });
    expect(answer).toBe('chat.v2|{"user":"ada","selected":"chat.v2"}');
  });

  it('can refuse with its own status and reason', async () => {
    const response = await refusal('/forbidden');
    expect(response.status).toBe(403);
    expect(response.body).toBe('members only');
  });

  it('answers 500 when the hook throws, for that connection only', async () => {
    const response = await refusal('/throw');
    expect(response.status).toBe(500);
    expect(response.body).toBe('internal error in the upgrade hook');
    expect((await negotiate('/', ['chat.v2'])).protocol).toBe('chat.v2');
  });

  it('answers 500 when the hook picks a protocol the client did not offer', async () => {
    const response = await refusal('/unoffered', { 'Sec-WebSocket-Protocol': 'chat.v2' });
    expect(response.status).toBe(500);
  });
});
