// Peer server: uWebSockets.js, one process (uWS is single-threaded per App).
// Echo without a subprotocol; the benchmark envelope (peer-protocol.mjs) on the
// Shoal msgpack subprotocol, and raw pub/sub on the raw-broadcast protocol, both
// through uWS's native ws.subscribe / app.publish.
//
// Plain JavaScript: the only uWS builds that load on this platform may need an
// older Node than the one that runs the rest of the bench (no type stripping).
// It tries the installed builds in order and uses the first native one that loads:
//   1. @btc-vision/uwebsockets.js          (needs glibc >= 2.38)
//   2. @trufflesuite/uws-js-unofficial     (native binaries for Node ABI 93/108/115, i.e. Node <= 20)
// The trufflesuite package silently falls back to a ws-based JavaScript imitation when
// its binary does not load; that would not be uWS, so its binary is loaded directly.
// When nothing loads it prints one "peer-error: <reasons>" line and exits with code 2.
// Plain HTTP: `GET /` answers HTTP_BODY (the http scenario), anything else 426.
// With --tls-cert/--tls-key it runs an SSLApp (wss://).
//
//   /usr/bin/node bench/peers/uws-server.mjs --port 9001 [--tls-cert cert.pem --tls-key key.pem]
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { HTTP_BODY, MSGPACK_PROTOCOL, handleEnvelope, handleRawPubSub, parsePort, parseTls, readyLine, selectProtocol } from './peer-protocol.mjs';

const require = createRequire(import.meta.url);

function loadBtcVision() {
  const uws = require('@btc-vision/uwebsockets.js');
  const { version } = require('@btc-vision/uwebsockets.js/package.json');
  return { uws, description: `@btc-vision/uwebsockets.js ${version}` };
}

function loadTrufflesuite() {
  const main = require.resolve('@trufflesuite/uws-js-unofficial');
  const root = path.resolve(path.dirname(main), '..');
  const prefix = `uws_${process.platform}_${process.arch}_`;
  const binary = path.join(root, 'binaries', `${prefix}${process.versions.modules}.node`);
  const shipped = readdirSync(path.join(root, 'binaries')).filter((name) => name.startsWith(prefix));
  if (!shipped.includes(path.basename(binary))) {
    const abis = shipped.map((name) => Number(name.slice(prefix.length, -'.node'.length))).sort((a, b) => a - b);
    throw new Error(`no native binary for Node ABI ${process.versions.modules}; it ships ABI ${abis.join(', ')} (process.versions.modules)`);
  }
  const uws = require(binary);
  const { version } = require(path.join(root, 'package.json'));
  return { uws, description: `@trufflesuite/uws-js-unofficial ${version} (native ${path.basename(binary)})` };
}

function load() {
  const reasons = [];
  for (const [name, loader] of [
    ['@btc-vision/uwebsockets.js', loadBtcVision],
    ['@trufflesuite/uws-js-unofficial', loadTrufflesuite],
  ]) {
    try {
      return loader();
    } catch (error) {
      const lines = String(error && error.message ? error.message : error).split('Require stack:')[0].split('\n');
      reasons.push(`${name}: ${lines.filter((line) => line.trim() !== '').pop()}`);
    }
  }
  console.log(`peer-error: no uWebSockets.js build loads on Node ${process.version} (${process.platform}-${process.arch}): ${reasons.join('; ')}`);
  process.exit(2);
}

const { uws, description } = load();
let app;
const ops = {
  send: (socket, data) => socket.send(data, true),
  subscribe: (socket, topic) => socket.subscribe(topic),
  publish: (topic, data) => app.publish(topic, data, true),
  close: (socket, code, reason) => socket.end(code, reason),
};
const rawOps = {
  sendText: (socket, text) => socket.send(text, false),
  subscribe: (socket, topic) => socket.subscribe(topic),
  publish: (topic, data) => app.publish(topic, data, true),
  close: (socket, code, reason) => socket.end(code, reason),
};

const tls = parseTls(process.argv.slice(2));
app = tls === null ? uws.App() : uws.SSLApp({ cert_file_name: tls.cert, key_file_name: tls.key });
app.ws('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 64 * 1024 * 1024,
  // Queue rather than drop under backpressure, like ws and Shoal (uWS's default is 64 KiB, then drop).
  maxBackpressure: 256 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const key = req.getHeader('sec-websocket-key');
    const version = req.getHeader('sec-websocket-version');
    // Same answer as the other servers for a bad upgrade (RFC 6455 §4.2.1: key is base64 of 16 bytes, version 13).
    if (!/^[A-Za-z0-9+/]{22}==$/.test(key) || version !== '13') {
      res.writeStatus('400 Bad Request').end('invalid WebSocket upgrade request\n');
      return;
    }
    const protocol = selectProtocol(req.getHeader('sec-websocket-protocol'));
    res.upgrade({ protocol }, key, protocol ?? '', req.getHeader('sec-websocket-extensions'), context);
  },
  message: (socket, message, isBinary) => {
    const { protocol } = socket.getUserData();
    if (protocol === null) socket.send(message, isBinary);
    else if (protocol !== MSGPACK_PROTOCOL) handleRawPubSub(socket, new Uint8Array(message), isBinary, rawOps);
    else if (!isBinary) socket.end(1003, 'text frame on the msgpack protocol');
    else handleEnvelope(socket, new Uint8Array(message), ops);
  },
});
app.get('/', (res, req) => {
  // This route is more specific than the ws route '/*': hand upgrades on to it.
  if (req.getHeader('upgrade') !== '') req.setYield(true);
  else res.writeHeader('Content-Type', 'text/plain').end(HTTP_BODY);
});
app.any('/*', (res, req) => {
  // uWS routes an upgrade without a valid key here rather than to `upgrade`: answer it as the others do.
  if (req.getHeader('upgrade') !== '') res.writeStatus('400 Bad Request').end('invalid WebSocket upgrade request\n');
  else res.writeStatus('426 Upgrade Required').writeHeader('Upgrade', 'websocket').end('this endpoint speaks WebSocket only\n');
});

let listenSocket = null;
app.listen('127.0.0.1', parsePort(process.argv.slice(2)), (token) => {
  if (!token) {
    console.log('peer-error: uWS could not listen on the requested port');
    process.exit(2);
  }
  listenSocket = token;
  const kind = tls === null ? 'App' : 'SSLApp';
  console.log(readyLine('uws', uws.us_socket_local_port(token), `${description} ${kind} on Node ${process.version}, single process`, tls !== null));
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (listenSocket) uws.us_listen_socket_close(listenSocket);
    process.exit(0);
  });
}
