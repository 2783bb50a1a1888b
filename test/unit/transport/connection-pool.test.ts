import { describe, expect, it } from 'vitest';
import { pickLane } from '../../../src/transport/connection-pool.ts';

const lane = (active: number, up = true) => ({ up, active });

describe('pickLane (least-connections balancer)', () => {
  it('picks the lane with the fewest connections', () => {
    expect(pickLane([lane(3), lane(1), lane(2)], 10)).toBe(1);
  });

  it('picks the first of equally loaded lanes', () => {
    expect(pickLane([lane(2), lane(1), lane(1)], 10)).toBe(1);
    expect(pickLane([lane(0), lane(0)], 10)).toBe(0);
  });

  it('skips lanes whose worker is not serving yet (starting or replacing a crashed one)', () => {
    expect(pickLane([lane(0, false), lane(5)], 10)).toBe(1);
    expect(pickLane([lane(0, false), lane(0, false)], 10)).toBe(-1);
  });

  it('skips lanes at the per-worker limit and answers -1 when all are full', () => {
    expect(pickLane([lane(10), lane(9)], 10)).toBe(1);
    expect(pickLane([lane(10), lane(10)], 10)).toBe(-1);
    expect(pickLane([], 10)).toBe(-1);
  });
});
