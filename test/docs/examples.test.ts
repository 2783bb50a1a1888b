/**
 * Every TypeScript code block of README.md and docs/*.md compiles against
 * the sources: the blocks are written to a temporary directory inside the
 * repository, so `node_modules` resolves and `@shoal-ws/shoal` (and its
 * `/client` entry) resolves to the sources by the package's self-reference
 * and the `shoal-source` condition, as for a user it resolves to the
 * installed package; `tsc --noEmit` checks them with the repository's
 * compiler options. An unscoped `shoal` import does not resolve (that name
 * is another package's; docs/install.md). An error names the Markdown file
 * and line. The blocks are read by test/helpers/extract-ts-blocks.ts
 * (fragments: see there); examples-run.test.ts runs them.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { docsTsBlocks, extractTsBlocks, type CodeBlock } from '../helpers/extract-ts-blocks.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

const execFileAsync = promisify(execFile);
/** A block's first line that names its file, as docs/install.md's `// app.ts`. */
const FILE_NAME_LINE = /^\/\/ ([\w.-]+\.ts)\s*$/;

/** tsc's diagnostics for the blocks, each as "<md file>:<line>:<col>: <message>". */
async function compile(blocks: readonly CodeBlock[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const names = new Map<string, CodeBlock>();
  for (const block of blocks) {
    // One folder per Markdown page; a block that opens with its file name (`// app.ts`) is written under
    // that name, so another block of the same page can import it (`./app.ts`), as the page says.
    const page = block.file.replace(/[/.]/g, '_');
    const named = FILE_NAME_LINE.exec(block.code.split('\n', 1)[0]);
    const name = `${page}/${named === null ? `L${block.line}.ts` : named[1]}`;
    if (names.has(name)) throw new Error(`${block.file}:${block.line}: a second block named ${name}`);
    names.set(name, block);
    mkdirSync(join(dir, page), { recursive: true });
    // One module per block (a block with no import or export would otherwise share the global scope).
    writeFileSync(join(dir, name), `${block.code}\nexport {};\n`);
  }
  const fromDir = (path: string) => relative(dir, join(ROOT, path)).split('\\').join('/');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: fromDir('tsconfig.json'),
      include: ['**/*.ts'],
    }),
  );
  const output = await execFileAsync(TSC, ['-p', join(dir, 'tsconfig.json'), '--noEmit', '--pretty', 'false'], { cwd: dir }).then(
    (result) => result.stdout,
    (error: { stdout?: string; stderr?: string; message: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}` || error.message,
  );
  const diagnostics: string[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const at = /^(.+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
    const block = at === null ? undefined : names.get(relative(dir, resolve(dir, at[1])).split('\\').join('/'));
    if (at === null || block === undefined) {
      diagnostics.push(line.replace(`${dir}/`, ''));
    } else {
      diagnostics.push(`${block.file}:${block.line + Number(at[2]) - 1}:${at[3]}: ${at[4]}`);
    }
  }
  return diagnostics;
}

describe('extractTsBlocks', () => {
  it('finds ts blocks with the line of their first code line, and the fragment markers', () => {
    const markdown = [
      '# x', // 1
      '```ts', // 2
      'const a = 1;', // 3
      '```', // 4
      '```sh', // 5
      'npm test', // 6
      '```', // 7
      '<!-- not-compiled: shows one method only -->', // 8
      '', // 9
      '```ts', // 10
      'methods: {}', // 11
      '```', // 12
      '```ts fragment', // 13
      'ctx.send()', // 14
      '```', // 15
      '```typescript', // 16
      'let b = 2;', // 17
      'b++;', // 18
      '```', // 19
    ].join('\n');
    expect(extractTsBlocks('x.md', markdown)).toEqual([
      { file: 'x.md', line: 3, code: 'const a = 1;', skipped: null },
      { file: 'x.md', line: 11, code: 'methods: {}', skipped: 'shows one method only' },
      { file: 'x.md', line: 14, code: 'ctx.send()', skipped: 'fragment' },
      { file: 'x.md', line: 17, code: 'let b = 2;\nb++;', skipped: null },
    ]);
  });
});

describe('TypeScript examples in README.md and docs/', () => {
  const dir = join(ROOT, `.docs-examples-${process.pid}`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const blocks = docsTsBlocks();

  it('has examples, and few marked as fragments', () => {
    expect(blocks.filter((block) => block.skipped === null).length).toBeGreaterThanOrEqual(4);
    expect(blocks.filter((block) => block.skipped !== null).length).toBeLessThanOrEqual(3);
  });

  it('type-checks every example that is not marked as a fragment', { timeout: 120_000 }, async () => {
    expect(await compile(blocks.filter((block) => block.skipped === null), dir)).toEqual([]);
  });

  it("an example importing the unscoped 'shoal' (another package's name) does not compile", { timeout: 120_000 }, async () => {
    const unscoped: CodeBlock = { file: 'docs/unscoped.md', line: 3, code: "import { defineApp } from 'shoal';\n\ndefineApp({});", skipped: null };
    const diagnostics = await compile([unscoped], join(dir, 'unscoped'));
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatch(/^docs\/unscoped\.md:3:\d+: error TS2307: Cannot find module 'shoal'/);
  });

  it('reports an error with the Markdown file and line', { timeout: 120_000 }, async () => {
    const bad: CodeBlock = { file: 'docs/bad.md', line: 40, code: "import { defineApp } from '@shoal-ws/shoal';\n\nconst n: number = 'one';\ndefineApp({});", skipped: null };
    const diagnostics = await compile([bad], join(dir, 'bad'));
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatch(/^docs\/bad\.md:42:7: error TS2322: /);
  });
});
