/**
 * The protocol core's conformance tables, run against the live server over
 * real loopback sockets (the same tables also run in memory against the core).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { HANDSHAKE_CASES, HANDSHAKE_CONFORMANCE_SERVER, parseHttpResponse, responseMismatches } from '../conformance/handshake-cases.ts';
import { RawClient } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    app: fixtureApp('conformance-app.ts'),
    maxHeadBytes: HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes,
    handshakeTimeoutMs: 2000,
  });
});
afterAll(() => server.close());

/** The payload of the first frame in `bytes` (a masked client frame). */
function payloadOf(bytes: Buffer): Buffer {
  let payload: Buffer | null = null;
  const decoder = new FrameDecoder(
    {
      onMessage: (data) => (payload ??= Buffer.from(data)),
      onControl: () => {},
      onError: (error) => {
        throw error;
      },
    },
    { maxMessageBytes: 1 << 20 },
  );
  decoder.push(Buffer.from(bytes));
  if (payload === null) throw new Error('no frame in the expected rest');
  return payload;
}

describe('handshake conformance, live', () => {
  it.each(HANDSHAKE_CASES.map((testCase) => [testCase.id, testCase] as const))('%s', async (_id, testCase) => {
    const client = await RawClient.connect(server.port);
    client.write(Buffer.from(testCase.request, 'latin1'));
    if (testCase.expect.status === 101) {
      await client.waitFor(() => client.received.includes('\r\n\r\n'));
    } else {
      await client.closed;
    }
    const bytes = client.received;
    const end = bytes.indexOf('\r\n\r\n') + 4;
    const response = parseHttpResponse(testCase.expect.status === 101 ? bytes.subarray(0, end) : bytes);
    expect(responseMismatches(testCase, response)).toEqual([]);
    if (testCase.expect.rest !== undefined) {
      client.received = bytes.subarray(end);
      await client.waitFor(() => client.events().length > 0);
      const [echo] = client.events();
      expect(echo.data.equals(payloadOf(Buffer.from(testCase.expect.rest, 'latin1')))).toBe(true);
    }
    client.destroy();
  });
});
