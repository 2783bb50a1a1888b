/**
 * Peer server: Bun's built-in WebSocket server (Bun.serve), one process.
 * Echo without a subprotocol; the benchmark envelope (peer-protocol.mjs) on
 * the Shoal msgpack subprotocol, and raw pub/sub on the raw-broadcast
 * protocol, both through Bun's native ws.subscribe / server.publish. Plain
 * HTTP: `GET /` answers HTTP_BODY from the fetch handler (the http scenario),
 * anything else 426. With --tls-cert/--tls-key it serves wss:// through
 * Bun.serve's `tls` option.
 *
 *   node_modules/.bin/bun bench/peers/bun-server.ts --port 9001 [--tls-cert cert.pem --tls-key key.pem]
 */
import { HTTP_BODY, MSGPACK_PROTOCOL, handleEnvelope, handleRawPubSub, parsePort, parseTls, readyLine, selectProtocol } from './peer-protocol.mjs';
import type { EnvelopeOps, RawPubSubOps } from './peer-protocol.mjs';

/** The part of Bun's API this peer uses (the project does not depend on bun-types). */
interface BunSocket {
  data: { protocol: string | null };
  send(data: Uint8Array | string, compress?: boolean): number;
  subscribe(topic: string): void;
  close(code?: number, reason?: string): void;
}
interface BunServer {
  port: number;
  upgrade(request: Request, options: { data: { protocol: string | null }; headers?: Record<string, string> }): boolean;
  publish(topic: string, data: Uint8Array): number;
  stop(closeActiveConnections?: boolean): void;
}
interface BunFile {
  readonly size: number;
}
declare const Bun: {
  version: string;
  file(path: string): BunFile;
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: BunFile; key: BunFile };
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      message(socket: BunSocket, message: string | Uint8Array): void;
      perMessageDeflate: boolean;
      maxPayloadLength: number;
      backpressureLimit: number;
      closeOnBackpressureLimit: boolean;
    };
  }): BunServer;
};

let server: BunServer;

const ops: EnvelopeOps<BunSocket> = {
  send: (socket, data) => void socket.send(data),
  subscribe: (socket, topic) => socket.subscribe(topic),
  publish: (topic, data) => void server.publish(topic, data),
  close: (socket, code, reason) => socket.close(code, reason),
};
const rawOps: RawPubSubOps<BunSocket> = {
  sendText: (socket, text) => void socket.send(text),
  subscribe: (socket, topic) => socket.subscribe(topic),
  publish: (topic, data) => void server.publish(topic, data),
  close: (socket, code, reason) => socket.close(code, reason),
};

const tls = parseTls(process.argv.slice(2));

server = Bun.serve({
  hostname: '127.0.0.1',
  port: parsePort(process.argv.slice(2)),
  tls: tls === null ? undefined : { cert: Bun.file(tls.cert), key: Bun.file(tls.key) },
  fetch(request, bunServer) {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      if (request.method === 'GET' && new URL(request.url).pathname === '/') {
        return new Response(HTTP_BODY, { headers: { 'Content-Type': 'text/plain' } });
      }
      return new Response('this endpoint speaks WebSocket only\n', { status: 426, headers: { Upgrade: 'websocket' } });
    }
    const protocol = selectProtocol(request.headers.get('sec-websocket-protocol'));
    const upgraded = bunServer.upgrade(request, {
      data: { protocol },
      headers: protocol === null ? undefined : { 'Sec-WebSocket-Protocol': protocol },
    });
    // Bun refuses upgrades with a missing/invalid key or version; answer like the other servers.
    return upgraded ? undefined : new Response('invalid WebSocket upgrade request\n', { status: 400 });
  },
  websocket: {
    message(socket, message) {
      const { protocol } = socket.data;
      if (protocol === null) socket.send(message);
      else if (protocol !== MSGPACK_PROTOCOL) handleRawPubSub(socket, message, typeof message !== 'string', rawOps);
      else if (typeof message === 'string') socket.close(1003, 'text frame on the msgpack protocol');
      else handleEnvelope(socket, message, ops);
    },
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024 * 1024,
    // Queue rather than drop under backpressure, like ws and Shoal (Bun's default limit is 16 MiB).
    backpressureLimit: 256 * 1024 * 1024,
    closeOnBackpressureLimit: false,
  },
});

console.log(readyLine('bun', server.port, `Bun ${Bun.version} built-in server${tls === null ? '' : ' with tls'}, single process`, tls !== null));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.stop(true);
    process.exit(0);
  });
}
