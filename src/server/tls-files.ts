/**
 * Reads and checks `--tls-cert`, `--tls-key` and the key's passphrase in the
 * primary, at start and on SIGHUP: the workers get PEM text that is known to
 * work, and a bad file is a one-line error (at start: exit 1; on reload: the
 * old certificate stays).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsMaterial } from '../transport/tls-terminator.ts';

/** Where the TLS material comes from. */
export interface TlsSources {
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsPassphraseFile: string | null;
  readonly tlsPassphrase: string | null;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The certificate, key and passphrase, read and checked; throws an Error with a one-line message. */
export function loadTlsMaterial(sources: TlsSources): TlsMaterial {
  const cert = read(sources.tlsCert, 'TLS certificate');
  const key = read(sources.tlsKey, 'TLS key');
  let passphrase = sources.tlsPassphrase ?? undefined;
  // The first line of the file (a trailing newline is not part of the passphrase).
  if (sources.tlsPassphraseFile !== null) passphrase = read(sources.tlsPassphraseFile, 'TLS passphrase file').split(/\r?\n/)[0];
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`TLS certificate ${sources.tlsCert} holds no PEM certificate`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error(`TLS key ${sources.tlsKey} holds no PEM private key`);
  try {
    // Throws for an undecryptable key or a key that does not match the certificate.
    createSecureContext({ cert, key, passphrase });
  } catch (error) {
    const reason = String((error as Error).message).split('\n')[0];
    throw new Error(`TLS key ${sources.tlsKey} does not fit certificate ${sources.tlsCert}: ${reason}`);
  }
  return { cert, key, passphrase };
}

/** 48 random bytes: the session ticket keys every worker of one server shares (RFC 5077 keys, rotated per server start). */
export function newTicketKeys(): Uint8Array {
  return new Uint8Array(randomBytes(48));
}
