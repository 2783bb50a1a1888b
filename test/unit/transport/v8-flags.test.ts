/**
 * v8-flags.ts: the checks shared by the modules that set V8 flags at run
 * time (the external memory policy, the start-up flags).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { commandLineFlags, isKnownV8, namesV8Flag } from '../../../src/transport/v8-flags.ts';

const savedNodeOptions = process.env.NODE_OPTIONS;

afterEach(() => {
  if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = savedNodeOptions;
});

describe('v8 flags', () => {
  it('knows the V8 of Node 24 only', () => {
    expect(isKnownV8('13.6.233.17-node.40')).toBe(true);
    expect(isKnownV8('12.4.254.21')).toBe(false);
    expect(isKnownV8('14.1.0')).toBe(false);
  });

  it('finds a flag by its name prefix, negated or not, with - or _', () => {
    expect(namesV8Flag(['--initial_old_space_size=64'], ['initial-old-space-size'])).toBe(true);
    expect(namesV8Flag(['--no-maglev'], ['maglev'])).toBe(true);
    expect(namesV8Flag(['--always_turbofan'], ['always-'])).toBe(true);
    expect(namesV8Flag(['--max-old-space-size=512'], ['initial-old-space-size', 'initial-heap-size'])).toBe(false);
    expect(namesV8Flag(['--conditions=shoal-source', 'maglev'], ['maglev'])).toBe(false);
  });

  it('reads NODE_OPTIONS as well as execArgv (execArgv leaves it out)', () => {
    process.env.NODE_OPTIONS = '  --initial-old-space-size=32   --no-maglev ';
    const flags = commandLineFlags();
    expect(flags).toEqual([...process.execArgv, '--initial-old-space-size=32', '--no-maglev']);
    expect(namesV8Flag(flags, ['initial-old-space-size'])).toBe(true);
    delete process.env.NODE_OPTIONS;
    expect(commandLineFlags()).toEqual(process.execArgv);
  });
});
