/**
 * A test's own TCP server on 127.0.0.1 (a free port), standing in for a
 * peer: it keeps its sockets so that `close` can destroy them all and wait
 * for the server to close, leaving nothing open after the test.
 */
import net from 'node:net';

export interface LoopbackServer {
  readonly port: number;
  /** Destroys every open socket, then closes the server. */
  close(): Promise<void>;
}

/** Listens on a free loopback port; `onConnection` gets each socket (already tracked, errors its own to handle). */
export async function startLoopbackServer(onConnection: (socket: net.Socket) => void): Promise<LoopbackServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
