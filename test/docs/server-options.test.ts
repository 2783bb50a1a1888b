/**
 * docs/server.md's options table and `shoal serve`'s flags (src/cli/args.ts
 * SERVE_FLAGS) name the same flags: a flag added to one and not the other
 * fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVE_FLAGS } from '../../src/cli/args.ts';

const SERVER_MD = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');

/** The flags of the table's rows: lines that open with a cell holding `--flag`. */
function documentedFlags(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `--([a-z][a-z-]*)` \|/gm)].map((match) => match[1]);
}

describe("docs/server.md's options table", () => {
  it('reads the rows of a table', () => {
    expect(documentedFlags('| flag | default |\n| `--port` | 9001 |\n| `--tls-key` | |\ntext `--not-a-row`\n')).toEqual(['port', 'tls-key']);
  });

  it('lists every flag of shoal serve once, and no other', () => {
    const documented = documentedFlags(SERVER_MD);
    expect(documented.length).toBe(new Set(documented).size);
    expect([...documented].sort()).toEqual(SERVE_FLAGS.map((spec) => spec.flag).sort());
  });
});
