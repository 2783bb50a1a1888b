/**
 * Test certificates made at test time with the openssl CLI (never committed):
 * self-signed ones (which also serve as a CA) and leaves signed by one, for
 * localhost and 127.0.0.1, in a temporary directory that `remove()` deletes;
 * and the pair of certificates a reload test swaps.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory of PEM files. */
export interface TestCertificates {
  readonly dir: string;
  /** Makes `<name>.cert.pem` and `<name>.key.pem` for CN=`name` (and an encrypted key when `passphrase` is given); returns their paths. */
  make(name: string, passphrase?: string): { cert: string; key: string };
  /** Makes `<name>.cert.pem` and `<name>.key.pem` for CN=`name`, a leaf certificate signed by `issuer` (one made by `make`). */
  makeSigned(name: string, issuer: { cert: string; key: string }): { cert: string; key: string };
  remove(): void;
}

export function testCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tls-'));
  return {
    dir,
    make(name, passphrase) {
      const cert = join(dir, `${name}.cert.pem`);
      const key = join(dir, `${name}.key.pem`);
      const encrypt = passphrase === undefined ? ['-nodes'] : ['-passout', `pass:${passphrase}`];
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', ...encrypt,
        '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ], { stdio: 'ignore' });
      return { cert, key };
    },
    makeSigned(name, issuer) {
      const cert = join(dir, `${name}.cert.pem`);
      const key = join(dir, `${name}.key.pem`);
      const request = join(dir, `${name}.csr.pem`);
      execFileSync('openssl', [
        'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', request, '-subj', `/CN=${name}`,
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE',
      ], { stdio: 'ignore' });
      execFileSync('openssl', [
        'x509', '-req', '-in', request, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', String(Date.now()),
        '-days', '2', '-copy_extensions', 'copyall', '-out', cert,
      ], { stdio: 'ignore' });
      return { cert, key };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The certificates of a reload test: what the server is configured with (`live`) and what can be copied over it. */
export interface ReloadCertificates {
  readonly first: { cert: string; key: string };
  readonly second: { cert: string; key: string };
  /** `live.cert.pem` and `live.key.pem`, copies of first's files; the test copies second's (or first's) over them before a reload. */
  readonly live: { cert: string; key: string };
}

/** Makes CN=first and CN=second in `certs` and the `live` files, holding first's. */
export function makeReloadCertificates(certs: TestCertificates): ReloadCertificates {
  const first = certs.make('first');
  const second = certs.make('second');
  const live = { cert: join(certs.dir, 'live.cert.pem'), key: join(certs.dir, 'live.key.pem') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  return { first, second, live };
}
