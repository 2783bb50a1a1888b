/**
 * V8 settings held while a server starts: no optimising compiles and no
 * growth of the young generation until the workers are ready (issue #12,
 * memory at rest; docs/measurements.md, "Memory at rest").
 *
 * Starting a server loads some 150 modules into the primary and as many
 * into each worker, and Node's module loader (path normalisation, URL
 * parsing, realpath) runs often enough in that burst for V8 to optimise it
 * with Maglev and TurboFan. Code that runs once does not need that, and the
 * first optimising compile touches about 7 MiB of the compilers' own
 * machine code in the node binary, which then counts in the process's
 * resident memory for as long as it runs (8-9 MiB of the 98 MiB of an idle
 * `shoal serve --workers 1`). The same burst makes the scavenger see most
 * young objects survive, so each isolate's young generation grows to four
 * times its initial size and stays there (a further 4-5 MiB at rest).
 *
 * `holdStartupFlags()` switches both off (`--no-maglev --no-turbofan
 * --semi-space-growth-factor=1`: V8 reads them at each decision, for every
 * isolate of the process) and `releaseStartupFlags()` restores V8's defaults
 * once every hold is released: from then on hot code is optimised and the
 * young generation grows under load as before (test/unit/server/startup-v8-flags.test.ts
 * checks both, and that a server started by `shoal serve` holds them until
 * its ready line). Holds nest: `bin/shoal.js` holds before it loads the
 * command, `server.listen()` holds until its workers are ready, and the
 * command releases after `listen()`. The flags are the process's: a
 * `listen()` in a process that already runs other work (a second server, an
 * embedding app) pauses new optimisations there too for as long as the start
 * takes (typically under a second); code optimised before stays optimised.
 *
 * Left alone (nothing set, nothing restored) when the command line or
 * NODE_OPTIONS mentions any of these flags (the user's choice wins), on a
 * V8 whose defaults were not checked, or on an architecture where V8 does
 * not enable Maglev by default.
 */
import { setFlagsFromString } from 'node:v8';
import { commandLineFlags, isKnownV8, namesV8Flag } from '../transport/v8-flags.ts';

/** Flags for the start: no optimising tier, a young generation that keeps its size. */
const HOLD_FLAGS: readonly string[] = ['--no-maglev', '--no-turbofan', '--semi-space-growth-factor=1'];

/** V8's defaults for the same flags (V8 13, x64 and arm64: `node --v8-options`). */
const RELEASE_FLAGS: readonly string[] = ['--maglev', '--turbofan', '--semi-space-growth-factor=2'];

/** Architectures where V8 enables Maglev by default. */
const MAGLEV_ARCHS: readonly string[] = ['x64', 'arm64'];

/** Command-line flags (name prefixes) that choose the compilers or the young generation's growth: with one of them, hands off. */
const USER_FLAGS: readonly string[] = ['maglev', 'turbofan', 'opt', 'max-opt', 'jitless', 'lite-mode', 'always-', 'semi-space-growth-factor', 'max-semi-space-size', 'min-semi-space-size'];

let holds = 0;
let held = false;

/**
 * True when the flags may be set here: a known V8 on an architecture with
 * Maglev, and none of the flags on the command line (`execArgv` and the words
 * of NODE_OPTIONS).
 */
export function shouldHoldStartupFlags(v8Version: string, arch: string, args: readonly string[]): boolean {
  return isKnownV8(v8Version) && MAGLEV_ARCHS.includes(arch) && !namesV8Flag(args, USER_FLAGS);
}

/** Takes a hold: the first one sets HOLD_FLAGS (when allowed). */
export function holdStartupFlags(): void {
  holds += 1;
  if (holds > 1) return;
  if (!shouldHoldStartupFlags(process.versions.v8, process.arch, commandLineFlags())) return;
  for (const flag of HOLD_FLAGS) setFlagsFromString(flag);
  held = true;
}

/** Releases a hold (no-op without one): the last one restores V8's defaults. */
export function releaseStartupFlags(): void {
  if (holds === 0) return;
  holds -= 1;
  if (holds > 0 || !held) return;
  for (const flag of RELEASE_FLAGS) setFlagsFromString(flag);
  held = false;
}
