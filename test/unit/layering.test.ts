/**
 * The one-way import rule of src/ (docs/architecture.md, "Folders"): a
 * folder imports only from folders below it, or from itself.
 *
 *   cli, index.ts  ->  server  ->  workers  ->  transport  ->  actors  ->  app  ->  telemetry  ->  codec  ->  protocol
 *
 * `client` stands aside: it may import `codec`, `protocol`, and `app` for
 * types only, and what it loads at run time must hold no Node-only module
 * (it runs in browsers).
 *
 * Imports are read from the text (static `import`/`export ... from`,
 * side-effect `import '...'`, and `import('...')` with a literal
 * specifier); type-only imports count for the layering too.
 */
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** Top to bottom. A folder may import its own rank or a lower one (a higher index). */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'index.ts'],
  ['server'],
  ['workers'],
  ['transport'],
  ['actors'],
  ['app'],
  ['telemetry'],
  ['codec'],
  ['protocol'],
];

/** What `client` may import: these folders, and `app` for types only. */
const CLIENT_MAY_IMPORT = new Set(['client', 'codec', 'protocol']);
const CLIENT_MAY_IMPORT_TYPES = new Set(['app']);

export interface ImportEdge {
  readonly specifier: string;
  /** 1-based line of the import in its file. */
  readonly line: number;
  /** `import type` / `export type`: erased at run time. */
  readonly typeOnly: boolean;
  readonly dynamic: boolean;
}

/**
 * The text with comments and the contents of template literals replaced by
 * spaces (newlines kept, so offsets and line numbers stay), quoted strings
 * kept: specifiers are quoted strings.
 */
function blankComments(text: string): string {
  const out = text.split('');
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (out[i] !== '\n') out[i] = ' ';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      i = j + 1;
    } else if (c === '`') {
      // Template literal: blank its text (not nested ${...} expressions, which are rare here and kept).
      let j = i + 1;
      while (j < text.length && text[j] !== '`') {
        if (text[j] === '\\') j += 2;
        else if (text[j] === '$' && text[j + 1] === '{') {
          let depth = 1;
          j += 2;
          while (j < text.length && depth > 0) {
            if (text[j] === '{') depth++;
            else if (text[j] === '}') depth--;
            j++;
          }
        } else {
          if (text[j] !== '\n') out[j] = ' ';
          j++;
        }
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  return out.join('');
}

const STATIC_FROM = /^[ \t]*(import|export)\s+(type\s+)?(?:[\w*{}\s,$]|\bas\b)*?\bfrom\s*(['"])([^'"\n]+)\3/gm;
const SIDE_EFFECT = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
const DYNAMIC = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every import and export-from of a module's text. */
export function parseImports(text: string): ImportEdge[] {
  const code = blankComments(text);
  const lineOf = (index: number) => code.slice(0, index).split('\n').length;
  const edges: { index: number; edge: ImportEdge }[] = [];
  for (const m of code.matchAll(STATIC_FROM)) {
    const at = (m.index ?? 0) + m[0].length - m[4].length - 1;
    edges.push({ index: at, edge: { specifier: m[4], line: lineOf(at), typeOnly: m[2] !== undefined, dynamic: false } });
  }
  for (const m of code.matchAll(SIDE_EFFECT)) {
    const at = (m.index ?? 0) + m[0].length - m[2].length - 1;
    edges.push({ index: at, edge: { specifier: m[2], line: lineOf(at), typeOnly: false, dynamic: false } });
  }
  for (const m of code.matchAll(DYNAMIC)) {
    const at = (m.index ?? 0) + m[0].indexOf(m[2]);
    edges.push({ index: at, edge: { specifier: m[2], line: lineOf(at), typeOnly: false, dynamic: true } });
  }
  return edges.sort((a, b) => a.index - b.index).map((e) => e.edge);
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** `server` for src/server/x.ts, `index.ts` for src/index.ts; null outside src/. */
function folderOf(file: string): string | null {
  const rel = relative(SRC, file);
  if (rel.startsWith('..')) return null;
  return rel.split(sep)[0];
}

function rankOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

interface ResolvedEdge extends ImportEdge {
  readonly from: string;
  /** Absolute path for a relative specifier, null for a package or builtin. */
  readonly target: string | null;
}

/** Reads a module's text (the file system; the self-tests pass fixtures). */
type Read = (file: string) => string;
const readSource: Read = (file) => readFileSync(file, 'utf8');

function edgesOf(file: string, read: Read): ResolvedEdge[] {
  return parseImports(read(file)).map((edge) => ({
    ...edge,
    from: file,
    target: edge.specifier.startsWith('.') ? resolve(dirname(file), edge.specifier) : null,
  }));
}

const where = (edge: ResolvedEdge) => `${relative(ROOT, edge.from)}:${edge.line} imports '${edge.specifier}'`;

/** Every violation of the layering among the given files, as readable lines. */
export function layeringViolations(files: readonly string[], read: Read = readSource): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const from = folderOf(file) as string;
    for (const edge of edgesOf(file, read)) {
      if (edge.target === null) continue;
      const to = folderOf(edge.target);
      if (to === null) {
        problems.push(`${where(edge)}, outside src/`);
        continue;
      }
      if (to === from) continue;
      if (from === 'client') {
        if (CLIENT_MAY_IMPORT.has(to)) continue;
        if (CLIENT_MAY_IMPORT_TYPES.has(to) && edge.typeOnly) continue;
        problems.push(`${where(edge)}: client may import only ${[...CLIENT_MAY_IMPORT].filter((f) => f !== 'client').join(', ')} (and app for types, with \`import type\`), not ${to}`);
        continue;
      }
      if (to === 'client') {
        problems.push(`${where(edge)}: nothing in src/ imports the client (it is a separate entry, shoal/client)`);
        continue;
      }
      const fromRank = rankOf(from);
      const toRank = rankOf(to);
      if (fromRank === -1 || toRank === -1) {
        problems.push(`${where(edge)}: folder ${fromRank === -1 ? from : to} has no place in the layering (add it to LAYERS in test/unit/layering.test.ts and docs/architecture.md)`);
      } else if (toRank < fromRank) {
        problems.push(`${where(edge)}: ${from} may not import ${to}, which is above it (order: ${LAYERS.map((l) => l.join(' ')).join(' -> ')})`);
      }
    }
  }
  return problems;
}

/** Node-only modules the client's entry loads at run time, with the chain of imports that reaches each. */
export function nodeOnlyImportsFrom(entry: string, read: Read = readSource): string[] {
  const builtins = new Set(builtinModules);
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, chain: readonly string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const edge of edgesOf(file, read)) {
      if (edge.typeOnly) continue; // erased before the module runs
      if (edge.target !== null) {
        visit(edge.target, [...chain, where(edge)]);
      } else if (edge.specifier.startsWith('node:') || builtins.has(edge.specifier) || builtins.has(edge.specifier.split('/')[0])) {
        problems.push([...chain, where(edge)].join(' -> '));
      }
    }
  };
  visit(entry, []);
  return problems;
}

describe('parseImports', () => {
  it('finds static, multi-line, side-effect, re-export and dynamic imports, with their lines', () => {
    const text = [
      "import { a } from './a.ts';", // 1
      'import type { B } from "../b.ts";', // 2
      'import {', // 3
      '  c,', // 4
      '  type D,', // 5
      "} from '../c/d.ts';", // 6
      "import './side.ts';", // 7
      "export * from './e.ts';", // 8
      "export type { F } from './f.ts';", // 9
      "// import { no } from './commented.ts';", // 10
      "/* import { no } from './block.ts'; */", // 11
      "const s = `import { no } from './template.ts'`;", // 12
      "const m = await import('../g.ts');", // 13
      "const h = import(url);", // 14: not a literal specifier, not an edge
    ].join('\n');
    expect(parseImports(text)).toEqual([
      { specifier: './a.ts', line: 1, typeOnly: false, dynamic: false },
      { specifier: '../b.ts', line: 2, typeOnly: true, dynamic: false },
      { specifier: '../c/d.ts', line: 6, typeOnly: false, dynamic: false },
      { specifier: './side.ts', line: 7, typeOnly: false, dynamic: false },
      { specifier: './e.ts', line: 8, typeOnly: false, dynamic: false },
      { specifier: './f.ts', line: 9, typeOnly: true, dynamic: false },
      { specifier: '../g.ts', line: 13, typeOnly: false, dynamic: true },
    ]);
  });
});

describe('layering of src/', () => {
  const files = tsFilesUnder(SRC);

  it('knows every folder of src/', () => {
    const folders = new Set(files.map((file) => folderOf(file) as string));
    const known = new Set([...LAYERS.flat(), 'client']);
    expect([...folders].filter((folder) => !known.has(folder))).toEqual([]);
    expect(files.length).toBeGreaterThan(50);
  });

  it('imports only downward or within a folder; the client only codec, protocol and types of app', () => {
    expect(layeringViolations(files)).toEqual([]);
  });

  it('loads no Node-only module from the client entry (shoal/client runs in browsers)', () => {
    expect(nodeOnlyImportsFrom(join(SRC, 'client', 'index.ts'))).toEqual([]);
  });

  it('reports an upward import, a client import of app values, and a Node module reached from the client, naming file and import', () => {
    // The same checks on fixture modules placed (virtually) in src/.
    const fixtures: Record<string, string> = {
      'protocol/low.ts': "import { createServer } from '../server/server.ts';\nexport const low = 1;",
      'app/mid.ts': "import { low } from '../protocol/low.ts';\nexport { type Foo } from '../app/other.ts';",
      'client/entry.ts': [
        "import type { AppSchema } from '../app/define-app.ts';",
        "import { AppError } from '../app/define-app.ts';",
        "import { helper } from './helper.ts';",
      ].join('\n'),
      'client/helper.ts': "import { low } from '../protocol/low.ts';\nexport const helper = await import('../codec/fake.ts');",
      'codec/fake.ts': "import { inflateRawSync } from 'node:zlib';\nimport type { Socket } from 'node:net';",
    };
    const read: Read = (file) => fixtures[relative(SRC, file).split(sep).join('/')] ?? '';
    const paths = Object.keys(fixtures).map((name) => join(SRC, ...name.split('/')));
    expect(layeringViolations(paths, read)).toEqual([
      "src/protocol/low.ts:1 imports '../server/server.ts': protocol may not import server, which is above it (order: cli index.ts -> server -> workers -> transport -> actors -> app -> telemetry -> codec -> protocol)",
      "src/client/entry.ts:2 imports '../app/define-app.ts': client may import only codec, protocol (and app for types, with `import type`), not app",
    ]);
    expect(nodeOnlyImportsFrom(join(SRC, 'client', 'entry.ts'), read)).toEqual([
      "src/client/entry.ts:3 imports './helper.ts' -> src/client/helper.ts:2 imports '../codec/fake.ts' -> src/codec/fake.ts:1 imports 'node:zlib'",
    ]);
  });
});
