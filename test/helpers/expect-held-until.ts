/**
 * Flow-control checks: a call that must hold its caller returns a promise
 * that stays pending until something else happens (another worker
 * acknowledges, a buffer drains).
 */
import { expect } from 'vitest';

/** Asserts `held` is a promise still pending after a microtask turn, then that it resolves once `release()` has run. */
export async function expectHeldUntil(held: unknown, release: () => void): Promise<void> {
  expect(held).toBeInstanceOf(Promise);
  let done = false;
  void (held as Promise<void>).then(() => (done = true));
  await Promise.resolve();
  expect(done).toBe(false);
  release();
  await held;
  expect(done).toBe(true);
}
