import { once } from 'node:events';
import { connect, createServer, Socket } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { adoptSocket } from '../../../src/transport/adopt-socket.ts';

describe('adoptSocket', () => {
  it('re-wraps a transferred socket: the new one reads and writes, the received one is inert', async () => {
    const { port1, port2 } = new MessageChannel();
    const server = createServer({ pauseOnConnect: true }, (socket) => port1.postMessage({ socket }, [socket as never]));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    const [{ socket: received }] = (await once(port2, 'message')) as [{ socket: Socket }];
    const adopted = adoptSocket(received);
    expect(adopted).not.toBe(received);
    adopted.on('data', (chunk: Buffer) => adopted.end(`echo:${chunk}`));
    client.write('hello');
    const [reply] = (await once(client, 'data')) as [Buffer];
    expect(reply.toString()).toBe('echo:hello');
    expect((received as unknown as { _handle: unknown })._handle).toBeNull();
    client.destroy();
    port1.close();
    server.close();
  });

  it('returns the socket itself when it has no handle to take', () => {
    const socket = new Socket();
    expect(adoptSocket(socket)).toBe(socket);
  });
});

describe('adoptSocket with a bare handle', () => {
  it('wraps a TCP handle in a socket that reads and writes', async () => {
    const server = createServer({ pauseOnConnect: true }, (socket) => {
      const handle = (socket as unknown as { _handle: unknown })._handle;
      (socket as unknown as { _handle: unknown })._handle = null;
      const adopted = adoptSocket(handle as never);
      expect(adopted).toBeInstanceOf(Socket);
      adopted.on('data', (chunk: Buffer) => adopted.end(`handle:${chunk}`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    client.write('hi');
    const [reply] = (await once(client, 'data')) as [Buffer];
    expect(reply.toString()).toBe('handle:hi');
    client.destroy();
    server.close();
  });
});
