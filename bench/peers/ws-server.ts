/**
 * Peer server: the `ws` package on Node's http server, one process, one
 * thread. Echo for connections without a subprotocol; the benchmark envelope
 * (peer-protocol.mjs) on the Shoal msgpack subprotocol and raw pub/sub on the
 * raw-broadcast protocol; pub/sub is a loop over the topic's subscribers (ws
 * has no native pub/sub). Plain HTTP: `GET /` answers HTTP_BODY (the http
 * scenario), anything else 426. With --tls-cert/--tls-key it runs on
 * `https.createServer` (wss://).
 *
 *   node bench/peers/ws-server.ts --port 9001 [--tls-cert cert.pem --tls-key key.pem]
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { HTTP_BODY, MSGPACK_PROTOCOL, handleEnvelope, handleRawPubSub, parsePort, parseTls, readyLine, selectProtocol } from './peer-protocol.mjs';
import type { EnvelopeOps, RawPubSubOps } from './peer-protocol.mjs';

const topics = new Map<string, Set<WebSocket>>();

const ops: EnvelopeOps<WebSocket> = {
  send: (socket, data) => socket.send(data, { binary: true }),
  subscribe(socket, topic) {
    let subscribers = topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      topics.set(topic, subscribers);
    }
    subscribers.add(socket);
  },
  publish(topic, data) {
    const subscribers = topics.get(topic);
    if (subscribers !== undefined) for (const socket of subscribers) socket.send(data, { binary: true });
  },
  close: (socket, code, reason) => socket.close(code, reason),
};
const rawOps: RawPubSubOps<WebSocket> = {
  sendText: (socket, text) => socket.send(text),
  subscribe: ops.subscribe,
  publish: ops.publish,
  close: ops.close,
};

const onRequest: http.RequestListener = (req, res) => {
  if (req.method === 'GET' && req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(HTTP_BODY);
    return;
  }
  res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
  res.end('this endpoint speaks WebSocket only\n');
};
const tls = parseTls(process.argv.slice(2));
const server =
  tls === null
    ? http.createServer(onRequest)
    : https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key), ALPNProtocols: ['http/1.1'] }, onRequest);
const wss = new WebSocketServer({
  server,
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: (offered) => selectProtocol([...offered].join(',')) ?? false,
});

wss.on('connection', (socket) => {
  if (socket.protocol === '') {
    socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  } else if (socket.protocol !== MSGPACK_PROTOCOL) {
    socket.on('message', (data, isBinary) => handleRawPubSub(socket, data as Buffer, isBinary, rawOps));
    socket.on('close', () => {
      for (const subscribers of topics.values()) subscribers.delete(socket);
    });
  } else {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) socket.close(1003, 'text frame on the msgpack protocol');
      else handleEnvelope(socket, data as Buffer, ops);
    });
    socket.on('close', () => {
      for (const subscribers of topics.values()) subscribers.delete(socket);
    });
  }
});

server.listen(parsePort(process.argv.slice(2)), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  const transport = tls === null ? 'http.createServer' : 'https.createServer';
  console.log(readyLine('ws', port, `ws ${wsVersion()} on Node ${process.version} ${transport}, single process`, tls !== null));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const socket of wss.clients) socket.terminate();
    server.close(() => process.exit(0));
  });
}

function wsVersion(): string {
  return (createRequire(import.meta.url)('ws/package.json') as { version: string }).version;
}
