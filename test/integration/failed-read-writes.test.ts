/**
 * A connection that fails in the middle of a read (a protocol error after a
 * message whose reply is being written) while its client does not read:
 * the read's replies are written by reference from the worker's buffers
 * (the message's assembly buffer, the write slab with the close frame) and
 * the kernel takes only part of them. Those buffers must not be reused
 * until libuv has written everything: another client's reply coalesced into
 * the slab would otherwise be sent to the failing client in place of its
 * close frame (found in review: the read's end took the early write of the
 * failing connection's replies for a complete one).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until } from '../helpers/until.ts';
import { clientFrame, RawClient } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const SIZE = 16 * 1024 * 1024;
let server: TestServer;

beforeAll(async () => {
  // The built-in echo app (it borrows its messages: replies by reference); a send buffer that holds the echo.
  server = await startServer({ workers: 1, maxMessageBytes: 32 * 1024 * 1024, maxBackpressureBytes: 256 * 1024 * 1024 });
});
afterAll(() => server.close());

it('a client that fails while its reply is queued gets its own bytes and its close frame, nothing of another client', async () => {
  const failing = await RawClient.open(server.port);
  failing.socket.pause();
  // A 16 MiB message, then a frame with a reserved opcode (RFC 6455 §5.2: fail the connection, 1002).
  failing.write(clientFrame(0x2, Buffer.alloc(SIZE, 0x41)));
  failing.write(clientFrame(0x3, ''));
  // The echo is counted when it is sent, in the read that also fails the connection.
  await until(() => (server.server.stats?.messagesOut ?? 0) >= 1, 'the echo of the large message', 30_000);
  const other = await RawClient.open(server.port);
  other.write(clientFrame(0x1, 'B'.repeat(120)));
  await other.waitFor(() => other.events().some((event) => event.type === 'text'), 10_000);
  expect(other.events()[0]).toMatchObject({ type: 'text', data: Buffer.from('B'.repeat(120)) });
  failing.socket.resume();
  await failing.closed;
  const events = failing.events();
  expect(events.map((event) => event.type)).toEqual(['binary', 'close']);
  expect(events[0].data.length).toBe(SIZE);
  expect(events[0].data.every((byte) => byte === 0x41)).toBe(true);
  expect(events[1]).toMatchObject({ code: 1002 });
  other.destroy();
}, 60_000);
