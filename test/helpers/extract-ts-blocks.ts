/**
 * The ```ts blocks of README.md and docs/*.md, read from the Markdown at
 * test time: test/docs/examples.test.ts type-checks them and
 * test/docs/examples-run.test.ts runs them.
 *
 * A block that is deliberately a fragment is opened with ```ts fragment, or
 * preceded by `<!-- not-compiled: reason -->`; keep those few.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CodeBlock {
  /** Markdown file, relative to the repository. */
  readonly file: string;
  /** 1-based line of the block's first code line (after the opening fence). */
  readonly line: number;
  readonly code: string;
  /** Marked as a fragment: not compiled. */
  readonly skipped: string | null;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)\s*(.*)$/;
const NOT_COMPILED = /<!--\s*not-compiled:\s*(.*?)\s*-->/;

/** The ```ts / ```typescript blocks of a Markdown text. */
export function extractTsBlocks(file: string, markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (open === null) continue;
    const [, , fence, lang, info] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end].trim().startsWith(fence)) end++;
    if (lang === 'ts' || lang === 'typescript') {
      let previous = i - 1;
      while (previous >= 0 && lines[previous].trim() === '') previous--;
      const comment = previous >= 0 ? NOT_COMPILED.exec(lines[previous]) : null;
      const skipped = /\bfragment\b/.test(info) ? 'fragment' : comment !== null ? comment[1] : null;
      blocks.push({ file, line: i + 2, code: lines.slice(i + 1, end).join('\n'), skipped });
    }
    i = end;
  }
  return blocks;
}

/** README.md and docs/*.md, relative to the repository. */
export function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs.sort()];
}

/** Every ts block of README.md and docs/*.md. */
export function docsTsBlocks(): CodeBlock[] {
  return markdownFiles().flatMap((file) => extractTsBlocks(file, readFileSync(join(ROOT, file), 'utf8')));
}
