import { describe, expect, it } from 'vitest';
import { AppError, defineApp, isAppError } from '../../../src/app/define-app.ts';

describe('defineApp', () => {
  it('returns the app object itself', () => {
    const app = { methods: { add: (_ctx: unknown, d: { a: number; b: number }) => d.a + d.b } };
    expect(defineApp<{ methods: { add: { data: { a: number; b: number }; result: number } } }>(app)).toBe(app);
  });

  it.each([
    ['a method name with the reserved prefix', { methods: { $subscribe: () => 1 } }, /reserved prefix/],
    ['an event name with the reserved prefix', { events: { $error: () => {} } }, /reserved prefix/],
    ['an empty method name', { methods: { '': () => 1 } }, /1\.\.256 characters/],
    ['a 257-character event name', { events: { ['e'.repeat(257)]: () => {} } }, /1\.\.256 characters/],
    ['an event that is not a function', { events: { note: 'nope' } }, /must be a function/],
    ['a method without a handler', { methods: { add: { timeoutMs: 5 } } }, /function or \{ handler/],
    ['a zero timeout', { methods: { add: { handler: () => 1, timeoutMs: 0 } } }, /positive integer/],
    ['a fractional timeout', { methods: { add: { handler: () => 1, timeoutMs: 1.5 } } }, /positive integer/],
    ['methods that are not an object', { methods: 5 }, /must be an object/],
  ])('refuses %s with a TypeError naming it', (_what, app, message) => {
    expect(() => defineApp(app as never)).toThrow(TypeError);
    expect(() => defineApp(app as never)).toThrow(message);
  });
});

describe('AppError', () => {
  it('carries a code, a message and data', () => {
    const error = new AppError('NICK_TAKEN', 'taken', { nick: 'ann' });
    expect([error.code, error.message, error.data, error.name]).toEqual(['NICK_TAKEN', 'taken', { nick: 'ann' }, 'AppError']);
    expect(isAppError(error)).toBe(true);
  });

  it('is recognised by name and code when it comes from another copy of the module', () => {
    const foreign = Object.assign(new Error('x'), { name: 'AppError', code: 'X' });
    expect(isAppError(foreign)).toBe(true);
    expect(isAppError(new Error('x'))).toBe(false);
    expect(isAppError({ name: 'AppError', code: 'X' })).toBe(false);
  });
});
