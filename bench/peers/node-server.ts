/**
 * Peer server: bare Node, no WebSocket library. node:http's 'upgrade' event
 * answers the RFC 6455 opening handshake (§4.2.2) by hand, then a minimal
 * frame loop echoes data frames and answers a close frame with a close frame
 * and the end of the TCP connection (§5.5.1). It is the floor a Node server
 * cannot go below for the `connect` scenario (a connection storm), the
 * reference of issue #12's handshake goal. With --net there is no HTTP
 * parser either: a net server finds the end of the head and the
 * Sec-WebSocket-Key by hand (what issue #12 measured as "bare Node"). No
 * subprotocol, no extension, no fragmentation, no limits: enough for the
 * `connect`, `echo` and `idle` scenarios (`shoal bench --against node`)
 * and bench/handshake-cost.ts, nothing else. Frames are unmasked a byte at
 * a time in JavaScript: a floor for handshakes and small messages, not a
 * reference for large ones.
 *
 *   node bench/peers/node-server.ts --port 9001 [--net]
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { parsePort, readyLine } from './peer-protocol.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A server frame header (FIN set, unmasked) for a payload of `length` bytes (RFC 6455 §5.2). */
function frameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 0x10000) return Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
  const header = Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

/** Unmasks and answers every complete frame in `data`; returns the bytes of an incomplete one. */
function frames(socket: Socket, data: Buffer): Buffer {
  let offset = 0;
  while (data.length - offset >= 6) {
    const opcode = (data[offset] as number) & 0x0f;
    let length = (data[offset + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - offset < 8) break;
      length = data.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (data.length - offset < 14) break;
      length = Number(data.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (data.length - offset < header + 4 + length) break;
    const mask = data.subarray(offset + header, offset + header + 4);
    const payload = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) payload[i] = (data[offset + header + 4 + i] as number) ^ (mask[i & 3] as number);
    offset += header + 4 + length;
    if (opcode === 0x8) {
      // The close frame echoes the client's status code (§5.5.1), then the server closes TCP first (§7.1.1).
      const code = payload.subarray(0, 2);
      socket.end(Buffer.concat([frameHeader(0x8, code.length), code]));
      return Buffer.alloc(0);
    }
    // Data frames are echoed, a ping is answered with a pong carrying its payload (§5.5.2).
    if (opcode === 0x1 || opcode === 0x2 || opcode === 0x9) socket.write(Buffer.concat([frameHeader(opcode === 0x9 ? 0xa : opcode, length), payload]));
  }
  return data.subarray(offset);
}

/** Writes the 101 for `key` (or a 400 without one) and serves frames from `head` on. */
function upgrade(socket: Socket, key: string | undefined, head: Buffer): void {
  if (key === undefined) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let rest = head.length > 0 ? frames(socket, head) : head;
  socket.on('data', (chunk: Buffer) => {
    rest = frames(socket, rest.length === 0 ? chunk : Buffer.concat([rest, chunk]));
  });
}

const KEY_PATTERN = /\r\nsec-websocket-key:[ \t]*([^\r\n]*?)[ \t]*\r\n/i;

const server = process.argv.includes('--net')
  ? net.createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => socket.destroy());
      let head = '';
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onHead);
        upgrade(socket, KEY_PATTERN.exec(head)?.[1], Buffer.from(head.slice(end + 4), 'latin1'));
      };
      socket.on('data', onHead);
    })
  : http
      .createServer({ noDelay: true }, (_req, res) => {
        res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
        res.end('this endpoint speaks WebSocket only\n');
      })
      .on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
        socket.on('error', () => socket.destroy());
        const key = req.headers['sec-websocket-key'];
        upgrade(socket, typeof key === 'string' && req.headers['sec-websocket-version'] === '13' ? key : undefined, head);
      });

server.listen(parsePort(process.argv.slice(2)), '127.0.0.1', () => {
  const port = (server.address() as { port: number }).port;
  process.stdout.write(`${readyLine('node', port, `bare Node ${process.version} (${process.argv.includes('--net') ? 'net, head parsed by hand' : "node:http 'upgrade'"}), single thread`)}\n`);
});
