/**
 * Polling for a condition in tests that cannot await an event: checks every
 * 10 ms (an async check: 10 ms after its answer) and fails with what it
 * waited for once the deadline passes, instead of hanging until the test's
 * own timeout says nothing useful.
 */

/** Resolves once `condition()` holds; rejects after `timeoutMs` naming `what`. */
export async function until(condition: () => boolean | Promise<boolean>, what = 'the condition', timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
