/**
 * `@shoal-ws/shoal/client` must bundle for browsers: nothing its entry reaches
 * (through relative imports) imports a Node built-in or a package other than
 * those known to ship a browser build. Type-only imports are erased and do not count.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ENTRY = fileURLToPath(new URL('../../src/client/index.ts', import.meta.url));
/** Packages with a browser build (msgpackr: its "browser" export condition). */
const BROWSER_PACKAGES = new Set(['msgpackr']);
const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Module specifiers a source file loads at run time: imports and re-exports (not `import type`/`export type`), literal dynamic imports. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const pattern = /(?:^|[;\n])\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of source.matchAll(pattern)) {
    if (match[3] !== undefined) out.push(match[3]);
    else if (match[1] === undefined) out.push(match[2]!);
  }
  return out;
}

function reachable(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (graph.has(file)) continue;
    const imports = specifiers(readFileSync(file, 'utf8'));
    graph.set(file, imports);
    for (const spec of imports) if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
  }
  return graph;
}

describe('the client entry is browser-safe', () => {
  it('the scanner finds run-time imports and skips type-only ones (it can fail)', () => {
    const source = "import { a } from './a.ts';\nimport type { B } from 'node:net';\nexport { c } from 'node:fs';\nconst x = await import('x');";
    expect(specifiers(source)).toEqual(['./a.ts', 'node:fs', 'x']);
  });

  it('reaches no Node built-in and no package without a browser build', () => {
    const graph = reachable(ENTRY);
    expect(graph.size).toBeGreaterThan(3);
    const offending: string[] = [];
    for (const [file, imports] of graph) {
      for (const spec of imports) {
        if (spec.startsWith('.')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (BUILTINS.has(spec) || !BROWSER_PACKAGES.has(name)) offending.push(`${path.relative(process.cwd(), file)} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
