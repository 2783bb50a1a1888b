/**
 * The CLI's TLS wiring (issue #10), on the real `shoal serve` process
 * (`node bin/shoal.js serve --tls-cert … --tls-key …`) with certificates made
 * at test time: SIGHUP after the files were replaced gives new TLS connections
 * the new certificate (compared by fingerprint) while an open WebSocket stays
 * open; a bad file + SIGHUP keeps the old certificate and says why on stderr;
 * a missing certificate file at start is one line on stderr and exit code 1.
 * Every process is stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeReloadCertificates, testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { until } from '../helpers/until.ts';

const BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));

/** `shoal serve` with its output collected; `exited` resolves with the exit code. */
interface Serve {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function serve(args: string[]): Serve {
  const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--workers', '1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Stop by pid (SIGTERM: the graceful path), SIGKILL if it has not exited within 20 s. */
async function stop(server: Serve): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  process.kill(server.child.pid!, 'SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
  await server.exited;
  clearTimeout(timer);
}

function fingerprintOf(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256;
}

/** The SHA-256 fingerprint of the certificate a new TLS connection gets. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // The fingerprint is what is checked, so the chain is not verified here.
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

function echoOnce(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

let certs: TestCertificates;
let first: { cert: string; key: string };
let second: { cert: string; key: string };
let live: { cert: string; key: string };

beforeAll(() => {
  certs = testCertificates();
  ({ first, second, live } = makeReloadCertificates(certs));
});

afterAll(() => certs?.remove());

describe('shoal serve --tls-cert/--tls-key and SIGHUP', () => {
  let server: Serve;
  let port: number;
  let open: WebSocket;
  let openClosed = false;

  beforeAll(async () => {
    server = serve(['--tls-cert', live.cert, '--tls-key', live.key]);
    await until(() => /listening on wss:\/\/127\.0\.0\.1:\d+\//.test(server.stdout()) || server.child.exitCode !== null, 'the listening line', 60_000);
    const match = /listening on wss:\/\/127\.0\.0\.1:(\d+)\//.exec(server.stdout());
    if (match === null) throw new Error(`shoal serve did not start: ${server.stdout()} ${server.stderr()}`);
    port = Number(match[1]);
    open = new WebSocket(`wss://localhost:${port}/`, { ca: readFileSync(first.cert, 'utf8') });
    await once(open, 'open');
    open.on('close', () => (openClosed = true));
  }, 90_000);

  afterAll(async () => {
    open?.terminate();
    if (server !== undefined) await stop(server);
  }, 30_000);

  it('serves the first certificate', async () => {
    expect(fingerprintOf(first.cert)).not.toBe(fingerprintOf(second.cert));
    expect(await servedFingerprint(port)).toBe(fingerprintOf(first.cert));
    expect(await echoOnce(open, 'before')).toBe('before');
  });

  it('SIGHUP after the files were replaced: new connections get the new certificate, the open WebSocket stays open', async () => {
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    process.kill(server.child.pid!, 'SIGHUP');
    await until(() => server.stdout().includes('shoal: SIGHUP: TLS certificate and key reloaded'), 'the reload line');
    // The primary has read the files; the worker takes them with its next message.
    const wanted = fingerprintOf(second.cert);
    await until(async () => (await servedFingerprint(port)) === wanted, 'the new certificate on a new connection');
    expect(await echoOnce(open, 'still open')).toBe('still open');
    expect(openClosed).toBe(false);
    expect(server.child.exitCode).toBeNull();
  }, 60_000);

  it('a bad file + SIGHUP keeps the old certificate and logs why', async () => {
    const stderrBefore = server.stderr().length;
    // A certificate that does not fit the key on disk (the second key is still there).
    copyFileSync(first.cert, live.cert);
    process.kill(server.child.pid!, 'SIGHUP');
    await until(() => server.stderr().includes('keeping the old TLS certificate', stderrBefore), 'the refusal on stderr');
    const refusal = server.stderr().slice(stderrBefore).trim();
    expect(refusal).toMatch(/^shoal: SIGHUP: keeping the old TLS certificate: TLS key .*live\.key\.pem does not fit certificate .*live\.cert\.pem: /);
    expect(refusal.split('\n')).toHaveLength(1);
    // Not PEM at all: refused too.
    writeFileSync(live.cert, 'not a certificate\n');
    process.kill(server.child.pid!, 'SIGHUP');
    await until(() => /holds no PEM certificate/.test(server.stderr().slice(stderrBefore)), 'the second refusal');
    expect(await servedFingerprint(port)).toBe(fingerprintOf(second.cert));
    expect(await echoOnce(open, 'after the bad reloads')).toBe('after the bad reloads');
    expect(openClosed).toBe(false);
    expect(server.child.exitCode).toBeNull();
  }, 60_000);
});

describe('shoal serve with a missing certificate file', () => {
  it('one line on stderr and exit code 1', async () => {
    const missing = join(certs.dir, 'missing.cert.pem');
    const server = serve(['--tls-cert', missing, '--tls-key', first.key]);
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 60_000);
    const code = await server.exited;
    clearTimeout(timer);
    expect(code).toBe(1);
    const lines = server.stderr().split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^shoal: cannot read TLS certificate .*missing\.cert\.pem: ENOENT$/);
    expect(server.stdout()).not.toMatch(/listening/);
  }, 90_000);
});
