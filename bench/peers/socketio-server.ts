/**
 * Peer server for the cross-node scenario: Socket.IO 4 with
 * @socket.io/redis-adapter (ioredis clients, as the adapter's README shows),
 * one process; run two of them on one Redis for a two-node cluster. The
 * generator speaks Engine.IO 4 / Socket.IO 5 packets over a plain WebSocket
 * (bench/load/scenarios/socketio-broadcast.ts):
 *
 *   "sub" (topic, ack)        socket.join(topic), then ack()
 *   "pub" (topic, data, ack)  io.to(topic).emit("m", data) (every node, through Redis), then ack()
 *
 *   node bench/peers/socketio-server.ts --port 9001 --broker redis://127.0.0.1:6379
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { parsePort, readyLine } from './peer-protocol.mjs';

const argv = process.argv.slice(2);
const brokerIndex = argv.indexOf('--broker');
const brokerUrl = brokerIndex === -1 ? undefined : argv[brokerIndex + 1];
if (brokerUrl === undefined || !/^redis:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/\d+)?$/.test(brokerUrl)) {
  console.log(`peer-error: --broker redis://127.0.0.1:PORT is required (loopback only), got ${brokerUrl ?? 'nothing'}`);
  process.exit(2);
}

const pubClient = new Redis(brokerUrl);
const subClient = pubClient.duplicate();
for (const client of [pubClient, subClient]) client.on('error', (error: Error) => console.error(`redis: ${error.message}`));

const httpServer = http.createServer((_req, res) => {
  res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
  res.end('this endpoint speaks Socket.IO over WebSocket only\n');
});
const io = new Server(httpServer, {
  serveClient: false,
  transports: ['websocket'],
  perMessageDeflate: false,
  maxHttpBufferSize: 64 * 1024 * 1024,
  adapter: createAdapter(pubClient, subClient),
});

io.on('connection', (socket) => {
  socket.on('sub', (topic: unknown, ack?: () => void) => {
    socket.join(String(topic));
    ack?.();
  });
  socket.on('pub', (topic: unknown, data: unknown, ack?: () => void) => {
    io.to(String(topic)).emit('m', data);
    ack?.();
  });
});

// The adapter subscribes to its Redis channels when it is created; a PING
// answered on the same connection means Redis has processed those subscriptions.
await subClient.ping();
httpServer.listen(parsePort(argv), '127.0.0.1', () => {
  const { port } = httpServer.address() as { port: number };
  const version = (name: string): string => (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  const detail = `Socket.IO ${version('socket.io')} + @socket.io/redis-adapter ${version('@socket.io/redis-adapter')} (ioredis ${version('ioredis')}) on Node ${process.version}, single process`;
  console.log(readyLine('socketio', port, detail));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    io.close();
    pubClient.disconnect();
    subClient.disconnect();
    process.exit(0);
  });
}
