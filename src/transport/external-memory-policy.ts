/**
 * V8's policy for memory outside the JavaScript heap (ArrayBuffer backing
 * stores: every socket read, every message buffer), set once for the whole
 * process before the connection workers start.
 *
 * By default V8 starts a full mark-compact each time about 64 MB of external
 * memory has been allocated since the last one, whatever the JavaScript heap
 * holds. A worker echoing 16 KiB messages allocates a read buffer per socket
 * read and a buffer per message that spans reads: several hundred MB/s, so
 * four full collections a second of a heap of 8-11 MB, each 5-15 ms of pause
 * plus incremental steps (--trace-gc; `--cpu-prof` put the garbage collector
 * at a fifth of the worker's busy time). With
 * `--external-memory-accounted-in-global-limit` external memory counts
 * against the heap's global limit instead: the buffers, which die young, are
 * freed by the scavenges that collect their JavaScript objects, and full
 * collections stop. Measured with the server's CPU time per message
 * (`echo:size=16384:inflight=4`, 1 worker, old and new alternated in one
 * invocation): 18.4 us before, 12.0 us after; 44 and 37 mark-compacts in
 * 4 s before, 7 and 10 (mostly at start-up) after; peak RSS the same.
 *
 * The global limit then starts from the old generation's initial limit,
 * which V8 sizes for a small heap: the buffers of large messages in flight
 * (50 connections with four 64 KiB echoes each: tens of MB, written to
 * sockets that drain at the client's pace) keep crossing it, and each
 * crossing starts a full collection (35 mark-compacts in 6 s, 2-39 ms
 * pauses, concurrent marking and sweeping 15% of the process's CPU under
 * `perf`). `--initial-old-space-size` raises that starting limit to
 * INITIAL_OLD_SPACE_MB: no mark-compact in 18 s of 16 KiB, 64 KiB and 1 MiB
 * echo. It reserves nothing (the heap grows as before, RSS at rest is the
 * same); what it changes is how much the heap may hold before its first full
 * collection. Set for the worker isolates only (the primary's heap exists
 * already when the pool starts).
 *
 * The flags exist in the V8 of Node 24 (13.x); V8 prints an error for a flag
 * it does not know, so they are set only there. A flag given on the command
 * line (either way) is left as it is.
 */
import { setFlagsFromString } from 'node:v8';
import { commandLineFlags, isKnownV8, namesV8Flag } from './v8-flags.ts';

export const EXTERNAL_MEMORY_FLAG = 'external-memory-accounted-in-global-limit';

/** The old generation's initial limit in workers, in MB (V8's `--initial-old-space-size`). */
export const INITIAL_OLD_SPACE_MB = 128;

/** Command-line flags that size the heap's start; with one of them given, the initial limit is left alone. */
const INITIAL_SIZE_FLAGS: readonly string[] = ['initial-old-space-size', 'initial-heap-size'];

let applied = false;

/**
 * True when the policy should be set here: a V8 known to have the flag and
 * no mention of it on the command line (`node --no-external-memory-...`).
 */
export function shouldApplyExternalMemoryPolicy(v8Version: string, args: readonly string[]): boolean {
  return isKnownV8(v8Version) && !namesV8Flag(args, [EXTERNAL_MEMORY_FLAG]);
}

/**
 * Sets the flag for this process (isolates created afterwards, the workers,
 * follow it too). Idempotent; returns whether the flag is set by this call
 * or an earlier one.
 */
export function applyExternalMemoryPolicy(): boolean {
  if (applied) return true;
  const args = commandLineFlags();
  if (!shouldApplyExternalMemoryPolicy(process.versions.v8, args)) return false;
  setFlagsFromString(`--${EXTERNAL_MEMORY_FLAG}`);
  if (shouldRaiseInitialOldSpace(args)) setFlagsFromString(`--initial-old-space-size=${INITIAL_OLD_SPACE_MB}`);
  applied = true;
  return true;
}

/** True unless the command line sizes the heap's start itself. */
export function shouldRaiseInitialOldSpace(args: readonly string[]): boolean {
  return !namesV8Flag(args, INITIAL_SIZE_FLAGS);
}
