import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, Socket } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { acceptHandles, dropConnection, toSocket, type TcpHandle } from '../../../src/transport/accept-handles.ts';
import { adoptSocket } from '../../../src/transport/adopt-socket.ts';

async function listening() {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

describe('acceptHandles', () => {
  it('delivers accepted connections as bare handles that transfer to another port and serve there', async () => {
    const { server, port } = await listening();
    const { port1, port2 } = new MessageChannel();
    let sockets = 0;
    server.on('connection', () => sockets++);
    expect(acceptHandles(server, (handle) => port1.postMessage(handle, [handle as never]))).toBe(true);
    const client = connect(port, '127.0.0.1');
    const [handle] = (await once(port2, 'message')) as [TcpHandle];
    expect(handle).not.toBeInstanceOf(Socket);
    const served = adoptSocket(handle);
    served.on('data', (chunk: Buffer) => served.end(`echo:${chunk}`));
    client.write('hello');
    const [reply] = (await once(client, 'data')) as [Buffer];
    expect(reply.toString()).toBe('echo:hello');
    expect(sockets).toBe(0);
    client.destroy();
    port1.close();
    server.close();
  });

  it('lets the primary answer on a handle itself (toSocket) and close one unanswered (dropConnection)', async () => {
    const { server, port } = await listening();
    const handles: TcpHandle[] = [];
    acceptHandles(server, (handle) => handles.push(handle));
    const answered = connect(port, '127.0.0.1');
    await once(answered, 'connect');
    while (handles.length < 1) await new Promise((resolve) => setImmediate(resolve));
    toSocket(handles[0] as TcpHandle).end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
    const [reply] = (await once(answered, 'data')) as [Buffer];
    expect(reply.toString()).toMatch(/^HTTP\/1\.1 503/);
    const dropped = connect(port, '127.0.0.1');
    await once(dropped, 'connect');
    while (handles.length < 2) await new Promise((resolve) => setImmediate(resolve));
    dropConnection(handles[1] as TcpHandle);
    dropped.resume();
    await once(dropped, 'close');
    answered.destroy();
    server.close();
  });

  it.runIf(process.platform === 'linux')('hands over handles with TCP_NODELAY set (on Linux inherited from the listening socket)', async () => {
    const { server, port } = await listening();
    const handles: TcpHandle[] = [];
    acceptHandles(server, (handle) => handles.push(handle));
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    while (handles.length < 1) await new Promise((resolve) => setImmediate(resolve));
    const fd = (handles[0] as unknown as { fd: number }).fd;
    // The accepted descriptor's option, read from outside this process (pidfd_getfd, then getsockopt).
    const script = [
      'import ctypes, os, socket, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'local = libc.syscall(438, os.pidfd_open(int(sys.argv[1])), int(sys.argv[2]), 0)',
      "if local < 0: sys.exit('pidfd_getfd: ' + os.strerror(ctypes.get_errno()))",
      'print(socket.socket(fileno=local).getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))',
    ].join('\n');
    const noDelay = execFileSync('python3', ['-c', script, String(process.pid), String(fd)], { encoding: 'utf8', timeout: 30_000 }).trim();
    expect(noDelay).toBe('1');
    dropConnection(handles[0] as TcpHandle);
    client.destroy();
    server.close();
  });

  it('changes nothing and answers false before the server listens', () => {
    const server = createServer();
    expect(acceptHandles(server, () => {})).toBe(false);
  });
});
