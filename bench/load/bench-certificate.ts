/**
 * The certificate of a `shoal bench --tls` run: a self-signed ECDSA P-256
 * certificate for localhost and 127.0.0.1, made with the openssl CLI into a
 * temporary directory at the start of the run and removed at its end. The
 * servers serve it; the generator trusts it as its only CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The name the generator asks for (SNI) and checks the certificate against. */
export const BENCH_TLS_SERVERNAME = 'localhost';

/** PEM files in a temporary directory, and the certificate's text for the generator. */
export interface BenchCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  /** Delete the directory (idempotent). */
  remove(): void;
}

/** Make the certificate; throws an Error with a one-line reason when openssl is missing or fails. */
export function makeBenchCertificate(): BenchCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${BENCH_TLS_SERVERNAME}`,
        '-addext', `subjectAltName=DNS:${BENCH_TLS_SERVERNAME},IP:127.0.0.1`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
    );
    return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), remove };
  } catch (error) {
    remove();
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim().split('\n')[0];
    throw new Error(`cannot make the benchmark's TLS certificate with openssl: ${stderr || (error as Error).message}`);
  }
}
