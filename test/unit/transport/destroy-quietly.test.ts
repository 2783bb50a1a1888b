import { once } from 'node:events';
import { connect, createServer, Socket, type Server } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { destroyQuietly } from '../../../src/transport/destroy-quietly.ts';

let server: Server | null = null;
let client: Socket | null = null;

afterEach(() => {
  client?.destroy();
  server?.close();
  client = null;
  server = null;
});

/** A connected pair over loopback: the server's side, after it read `greeting` from the client. */
async function connectedPair(greeting: string): Promise<{ accepted: Socket; client: Socket }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((socket) => socket.once('data', () => resolve(socket)));
  });
  (server as unknown as Server).listen(0, '127.0.0.1');
  await once(server as unknown as Server, 'listening');
  client = connect(((server as unknown as Server).address() as { port: number }).port, '127.0.0.1');
  client.write(greeting);
  return { accepted: await accepted, client };
}

describe('destroyQuietly', () => {
  it('closes the connection and destroys the socket without a close event, keeping its byte counts', async () => {
    const { accepted, client } = await connectedPair('hello');
    accepted.write('bye');
    await turn();
    let closeEvents = 0;
    accepted.on('close', () => closeEvents++);
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    const clientEnded = once(client, 'end');
    expect(destroyQuietly(accepted)).toBe(true);
    expect(accepted.destroyed).toBe(true);
    expect(accepted.bytesRead).toBe(5);
    expect(accepted.bytesWritten).toBe(3);
    // The peer sees what was written, then the FIN of the closed descriptor.
    await clientEnded;
    expect(Buffer.concat(received).toString()).toBe('bye');
    // Turns of the event loop later (libuv frees the handle), still no 'close'.
    for (let i = 0; i < 5; i++) await turn();
    expect(closeEvents).toBe(0);
  });

  it('changes nothing for a socket without a handle', () => {
    const socket = new Socket();
    expect(destroyQuietly(socket)).toBe(false);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });
});
