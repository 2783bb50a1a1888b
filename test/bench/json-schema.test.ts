import { describe, expect, it } from 'vitest';
import { loadResultSchema, validateJson } from '../../bench/load/json-schema.ts';
import type { Schema } from '../../bench/load/json-schema.ts';

const schema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'items'],
  properties: {
    name: { type: 'string' },
    kind: { enum: ['a', 'b'] },
    version: { const: 1 },
    count: { type: ['integer', 'null'], minimum: 0 },
    items: { type: 'array', items: { $ref: '#/$defs/item' } },
    tags: { type: 'object', additionalProperties: { type: 'number' } },
  },
  $defs: { item: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } } },
};

describe('validateJson (the JSON Schema subset of docs/bench-result.schema.json)', () => {
  it('accepts a valid document', () => {
    expect(validateJson({ name: 'n', kind: 'a', version: 1, count: null, items: [{ x: 1.5 }], tags: { t: 2 } }, schema)).toEqual([]);
  });
  it('reports every problem with its path', () => {
    expect(
      validateJson({ name: 3, kind: 'c', version: 2, count: 1.5, items: [{ y: 1 }, { x: 'no' }], tags: { t: 'x' }, extra: true }, schema),
    ).toEqual([
      '$.name: expected string, got integer',
      '$.kind: "c" is not one of ["a","b"]',
      '$.version: expected 1',
      '$.count: expected integer or null, got number',
      '$.items[0]: missing x',
      '$.items[1].x: expected number, got string',
      '$.tags.t: expected number, got string',
      '$: unexpected property extra',
    ]);
  });
  it('checks minimum and required', () => {
    expect(validateJson({ items: [], count: -1 }, schema)).toEqual(['$: missing name', '$.count: -1 < 0']);
  });
  it('refuses schemas with keywords it does not implement, rather than ignoring them', () => {
    expect(() => validateJson('x', { type: 'string', pattern: '^a' })).toThrow(/keyword pattern/);
  });
  it('loads the result schema, which uses only supported keywords', () => {
    const result = loadResultSchema();
    expect(validateJson({}, result).length).toBeGreaterThan(0);
  });
});
