import { describe, expect, it } from 'vitest';
import { resolvePerMessageDeflate, resolveServerOptions } from '../../../src/server/options.ts';
import { workerConfigFrom } from '../../../src/server/worker-config.ts';

describe('workerConfigFrom', () => {
  it('carries every worker option and the startup parts, and nothing else', () => {
    const options = resolveServerOptions({
      workers: 1,
      maxMessageBytes: 1001,
      maxHeadBytes: 1002,
      handshakeTimeoutMs: 1003,
      idleTimeoutMs: 1004,
      pingIntervalMs: 1005,
      closeTimeoutMs: 1006,
      mailboxSize: 1007,
      mailboxBytes: 1008,
      maxBackpressureBytes: 1009,
      perMessageDeflate: { serverMaxWindowBits: 10 },
      maxBodyBytes: 1010,
      allowedOrigins: ['https://example.com'],
      trustProxy: ['10.0.0.0/8'],
      proxyProtocol: true,
      logRateLimit: { lines: 3, intervalMs: 1011 },
    });
    const broker = { url: 'redis://127.0.0.1:6379', nodeId: 'abc', password: null };
    const tls = { cert: 'C', key: 'K', passphrase: undefined, ticketKeys: new Uint8Array(48) };
    expect(workerConfigFrom(options, { app: '/srv/app.ts', broker, tls, logLevel: 'warn' })).toEqual({
      app: '/srv/app.ts',
      maxMessageBytes: 1001,
      maxHeadBytes: 1002,
      handshakeTimeoutMs: 1003,
      idleTimeoutMs: 1004,
      pingIntervalMs: 1005,
      closeTimeoutMs: 1006,
      mailboxSize: 1007,
      mailboxBytes: 1008,
      maxBackpressureBytes: 1009,
      perMessageDeflate: resolvePerMessageDeflate({ serverMaxWindowBits: 10 }),
      broker,
      maxBodyBytes: 1010,
      allowedOrigins: ['https://example.com'],
      trustProxy: ['10.0.0.0/8'],
      proxyProtocol: true,
      tls,
      logLevel: 'warn',
      logRateLimit: { lines: 3, intervalMs: 1011 },
    });
  });
});
