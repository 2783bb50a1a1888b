/**
 * A validator for the subset of JSON Schema (draft 2020-12) that
 * docs/bench-result.schema.json uses: type, const, enum, minimum, properties,
 * required, additionalProperties, items and local $ref. (No JSON Schema
 * library is a dependency of the project; this covers exactly the keywords
 * of our one schema and rejects any other keyword, so the schema cannot
 * silently grow past what is checked.)
 */
import { readFileSync } from 'node:fs';

/** A JSON Schema node. */
export type Schema = { [keyword: string]: unknown } | boolean;

const KNOWN = new Set([
  '$schema', '$id', '$defs', '$ref', 'title', 'description',
  'type', 'const', 'enum', 'minimum', 'properties', 'required', 'additionalProperties', 'items',
]);

/**
 * The result schema file, docs/bench-result.schema.json (shipped in the package):
 * two levels up from bench/load in the repository, three from dist/bench/load.
 */
export const RESULT_SCHEMA_URL = new URL(
  import.meta.url.endsWith('.ts') ? '../../docs/bench-result.schema.json' : '../../../docs/bench-result.schema.json',
  import.meta.url,
);

/** Load the result schema. */
export function loadResultSchema(): Schema {
  return JSON.parse(readFileSync(RESULT_SCHEMA_URL, 'utf8')) as Schema;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/** Validate `value`; returns the list of problems as "path: message" (empty when valid). */
export function validateJson(value: unknown, root: Schema): string[] {
  const errors: string[] = [];
  const visit = (node: Schema, data: unknown, path: string): void => {
    if (node === true) return;
    if (node === false) {
      errors.push(`${path}: no value is allowed here`);
      return;
    }
    for (const keyword of Object.keys(node)) {
      if (!KNOWN.has(keyword)) throw new Error(`schema keyword ${keyword} at ${path} is not supported by this validator`);
    }
    if (typeof node.$ref === 'string') {
      const match = /^#\/\$defs\/(.+)$/.exec(node.$ref);
      const defs = (root as { $defs?: Record<string, Schema> }).$defs;
      if (match === null || defs?.[match[1]] === undefined) throw new Error(`unresolvable $ref ${node.$ref}`);
      visit(defs[match[1]], data, path);
    }
    if (node.type !== undefined) {
      const types = Array.isArray(node.type) ? (node.type as string[]) : [node.type as string];
      if (!types.some((type) => matchesType(data, type))) {
        errors.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(data)}`);
        return;
      }
    }
    if ('const' in node && data !== node.const) errors.push(`${path}: expected ${JSON.stringify(node.const)}`);
    if (Array.isArray(node.enum) && !node.enum.includes(data)) errors.push(`${path}: ${JSON.stringify(data)} is not one of ${JSON.stringify(node.enum)}`);
    if (typeof node.minimum === 'number' && typeof data === 'number' && data < node.minimum) errors.push(`${path}: ${data} < ${node.minimum}`);
    if (Array.isArray(data) && node.items !== undefined) data.forEach((item, i) => visit(node.items as Schema, item, `${path}[${i}]`));
    if (typeOf(data) === 'object') {
      const record = data as Record<string, unknown>;
      const properties = (node.properties ?? {}) as Record<string, Schema>;
      for (const key of (node.required ?? []) as string[]) if (!(key in record)) errors.push(`${path}: missing ${key}`);
      for (const [key, item] of Object.entries(record)) {
        if (key in properties) visit(properties[key], item, `${path}.${key}`);
        else if (node.additionalProperties === false) errors.push(`${path}: unexpected property ${key}`);
        else if (typeof node.additionalProperties === 'object') visit(node.additionalProperties as Schema, item, `${path}.${key}`);
      }
    }
  };
  visit(root, value, '$');
  return errors;
}
