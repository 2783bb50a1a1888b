import { describe, expect, it } from 'vitest';
import { listHasToken, splitList } from '../../../src/protocol/http-syntax.ts';

describe('listHasToken (RFC 9110 §5.6.1 lists, ASCII case-insensitive)', () => {
  it('finds the token alone, in any ASCII case, with OWS around it', () => {
    expect(listHasToken(['websocket'], 'websocket')).toBe(true);
    expect(listHasToken(['WebSocket'], 'websocket')).toBe(true);
    expect(listHasToken([' \tUPGRADE \t'], 'upgrade')).toBe(true);
  });

  it('finds it anywhere in a list and across repeated lines', () => {
    expect(listHasToken(['keep-alive, Upgrade'], 'upgrade')).toBe(true);
    expect(listHasToken(['Upgrade,keep-alive'], 'upgrade')).toBe(true);
    expect(listHasToken(['keep-alive', 'foo, ,upgrade'], 'upgrade')).toBe(true);
    expect(listHasToken([',,upgrade,,'], 'upgrade')).toBe(true);
  });

  it('matches whole elements only', () => {
    expect(listHasToken(['upgrades'], 'upgrade')).toBe(false);
    expect(listHasToken(['xupgrade'], 'upgrade')).toBe(false);
    expect(listHasToken(['up grade'], 'upgrade')).toBe(false);
    expect(listHasToken(['websocket/13'], 'websocket')).toBe(false);
    expect(listHasToken([''], 'upgrade')).toBe(false);
    expect(listHasToken([], 'upgrade')).toBe(false);
  });

  it('folds ASCII letters only (not the Kelvin sign, not punctuation next to letters)', () => {
    expect(listHasToken(['websoc\u212Aet'], 'websocket')).toBe(false);
    expect(listHasToken(['WEBSOCKET'], 'websocket')).toBe(true);
    // '@' is 0x40, one below 'A': it must not fold to '`'.
    expect(listHasToken(['@'], '`')).toBe(false);
  });

  it('agrees with splitList on every element of a list', () => {
    const values = [' a , B ,, c-d ', 'E'];
    for (const element of splitList(values)) expect(listHasToken(values, element.toLowerCase())).toBe(true);
  });
});
