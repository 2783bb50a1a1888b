/**
 * The protocol core's conformance tables, run against the live server over
 * real loopback sockets (the same tables also run in memory against the core).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { FRAME_CASES, FRAME_CONFORMANCE_SERVER, outcomeMismatches, summarizeServerFrames } from '../conformance/frame-cases.ts';
import { HANDSHAKE_CASES, HANDSHAKE_CONFORMANCE_SERVER, parseHttpResponse, responseMismatches } from '../conformance/handshake-cases.ts';
import { RawClient } from '../helpers/raw-socket.ts';
import { runLiveCase } from '../helpers/run-live-case.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
/** Frame-table servers by message size limit (the table's default and each limit a case asks for). */
const frameServers = new Map<number, TestServer>();

beforeAll(async () => {
  server = await startServer({
    app: fixtureApp('conformance-app.ts'),
    workers: 1,
    maxHeadBytes: HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes,
    handshakeTimeoutMs: 2000,
  });
  const limits = new Set(FRAME_CASES.map((testCase) => testCase.maxMessageBytes ?? FRAME_CONFORMANCE_SERVER.maxMessageBytes));
  for (const maxMessageBytes of limits) {
    frameServers.set(maxMessageBytes, await startServer({ app: FRAME_CONFORMANCE_SERVER.app, workers: 1, maxMessageBytes }));
  }
});
afterAll(async () => {
  await server.close();
  for (const frameServer of frameServers.values()) await frameServer.close();
});

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

describe('frame conformance, live', () => {
  it.each(FRAME_CASES.map((testCase) => [testCase.id, testCase.title, testCase] as const))('%s %s', async (_id, _title, testCase) => {
    const target = frameServers.get(testCase.maxMessageBytes ?? FRAME_CONFORMANCE_SERVER.maxMessageBytes) as TestServer;
    const client = await RawClient.open(target.port);
    const { frames, rest, withoutProbe, open } = await runLiveCase(client, testCase.input, testCase.expect.close !== undefined);
    expect(rest.length, 'server output ends inside a frame').toBe(0);
    expect(frames.every((f) => !f.masked && f.rsv === 0), 'server frames are unmasked, RSV clear').toBe(true);
    const outcome = { ...summarizeServerFrames(withoutProbe), open };
    expect(outcomeMismatches(testCase, outcome, { echoesMayBeCut: true })).toEqual([]);
    client.destroy();
  });
});
