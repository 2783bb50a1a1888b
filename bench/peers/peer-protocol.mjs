// The benchmark envelope for the peer servers, shared by the ws (Node 24), Bun and
// uWebSockets.js (Node 20) peers. Plain JavaScript because the uWS peer runs on a
// Node without type stripping; types are in peer-protocol.d.mts.
//
// Same wire as the Shoal benchmark app (bench/load/wire.ts, docs/subprotocol.md):
//   [1, id, "add", [a, b]]             -> [2, id, a + b]
//   [1, id, "$subscribe", topic]       -> subscribe, then [2, id, null]
//   [1, id, "publish", [topic, data]]  -> [4, topic, data] to every subscriber, then [2, id, null]
//   anything else that is a request    -> [3, id, {code: "UNKNOWN_METHOD", message}]
// A message that is not msgpack or not a request closes the connection with 1007.
//
// Raw pub/sub (raw-broadcast scenario; connections that negotiate RAW_PUBSUB_PROTOCOL):
//   text "sub <topic>"                 -> subscribe, then the same text back
//   binary [n, <topic: n bytes>, ...data] -> data (binary) to every subscriber, then text "ok"
import { Packr } from 'msgpackr';

/** The Shoal msgpack subprotocol name (src/codec/envelope.ts MSGPACK_PROTOCOL). */
export const MSGPACK_PROTOCOL = 'v1.msgpack.shoal.dev';

/** The raw pub/sub protocol of the raw-broadcast scenario (bench/load/wire.ts RAW_PUBSUB_PROTOCOL). */
export const RAW_PUBSUB_PROTOCOL = 'raw-pubsub.bench.shoal.dev';

const packr = new Packr({ useRecords: false });
const textDecoder = new TextDecoder();

/** The protocol to answer for a Sec-WebSocket-Protocol header value: MSGPACK_PROTOCOL or RAW_PUBSUB_PROTOCOL when offered, else null. */
export function selectProtocol(header) {
  if (!header) return null;
  const offered = header.split(',').map((name) => name.trim());
  return offered.includes(MSGPACK_PROTOCOL) ? MSGPACK_PROTOCOL : offered.includes(RAW_PUBSUB_PROTOCOL) ? RAW_PUBSUB_PROTOCOL : null;
}

/**
 * Handle one message of a raw pub/sub connection through the server's `ops`
 * (`ops.publish` gets the data bytes themselves; `ops.sendText` answers).
 */
export function handleRawPubSub(socket, data, isBinary, ops) {
  if (isBinary) {
    const end = 1 + (data[0] ?? 0);
    if (end === 1 || data.length < end) {
      ops.close(socket, 1007, 'publish without a topic');
      return;
    }
    ops.publish(textDecoder.decode(data.subarray(1, end)), data.subarray(end));
    ops.sendText(socket, 'ok');
    return;
  }
  const text = typeof data === 'string' ? data : textDecoder.decode(data);
  if (!text.startsWith('sub ')) {
    ops.close(socket, 1003, 'unknown command');
    return;
  }
  ops.subscribe(socket, text.slice(4));
  ops.sendText(socket, text);
}

/** Handle one binary message of a msgpack connection through the server's `ops`. */
export function handleEnvelope(socket, data, ops) {
  let message;
  try {
    message = packr.unpack(data);
  } catch {
    ops.close(socket, 1007, 'not msgpack');
    return;
  }
  if (!Array.isArray(message) || message.length !== 4 || message[0] !== 1 || typeof message[2] !== 'string') {
    ops.close(socket, 1007, 'not a request envelope');
    return;
  }
  const id = message[1];
  const arg = message[3];
  switch (message[2]) {
    case 'add':
      ops.send(socket, packr.pack([2, id, arg[0] + arg[1]]));
      return;
    case '$subscribe':
      ops.subscribe(socket, String(arg));
      ops.send(socket, packr.pack([2, id, null]));
      return;
    case 'publish':
      ops.publish(String(arg[0]), packr.pack([4, arg[0], arg[1]]));
      ops.send(socket, packr.pack([2, id, null]));
      return;
    default:
      ops.send(socket, packr.pack([3, id, { code: 'UNKNOWN_METHOD', message: `no method ${message[2]}` }]));
  }
}

/** Parse "--port N" (default 0: any free port). */
export function parsePort(argv) {
  const index = argv.indexOf('--port');
  const port = index === -1 ? 0 : Number(argv[index + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${argv[index + 1]}`);
  return port;
}

/**
 * "--tls-cert FILE --tls-key FILE" (both or neither): serve wss:// (and https://)
 * with them; null without.
 */
export function parseTls(argv) {
  const value = (flag) => {
    const index = argv.indexOf(flag);
    return index === -1 ? null : argv[index + 1] ?? null;
  };
  const cert = value('--tls-cert');
  const key = value('--tls-key');
  if ((cert === null) !== (key === null)) throw new Error('--tls-cert and --tls-key go together');
  return cert === null ? null : { cert, key };
}

/** The answer of every server to `GET /` in the http scenario (Shoal: the bench app's http handler). */
export const HTTP_BODY = 'hello from the bench\n';

/** The line the bench harness waits for (wss:// when the peer serves TLS). */
export function readyLine(name, port, detail, secure = false) {
  return `peer ${name} listening on ${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/ (${detail})`;
}
