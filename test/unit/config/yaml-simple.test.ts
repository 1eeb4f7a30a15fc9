/**
 * The simple reader (src/config/yaml-simple.ts) against the full one: on every document it accepts, it must give
 * the same data (types and digits included) and the same plain source texts, and the full reader must have had
 * nothing to report. Documents are generated from a grammar of block YAML with scalars chosen for their traps.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parseFully } from '../../../src/config/yaml-full.js';
import { parseYamlSource, type PathSegment } from '../../../src/config/yaml-source.js';
import { readSimpleYaml } from '../../../src/config/yaml-simple.js';
import { writeSyntheticInventory } from '../../../scripts/gen-inventory.mjs';
import { repoRoot } from './helpers.js';

/** Every path to a node of `data`, the root included. */
function pathsOf(data: unknown, prefix: PathSegment[] = []): PathSegment[][] {
  const found: PathSegment[][] = [prefix];
  if (Array.isArray(data)) data.forEach((v, i) => found.push(...pathsOf(v, [...prefix, i])));
  else if (data !== null && typeof data === 'object' && Object.getPrototypeOf(data) === Object.prototype) {
    for (const [k, v] of Object.entries(data)) found.push(...pathsOf(v, [...prefix, k]));
  }
  return found;
}

/** Asserts the two readers agree on `text`; returns whether the simple reader accepted it. */
function agree(text: string): boolean {
  const simple = readSimpleYaml(text);
  if (!simple) return false;
  const full = parseFully(text, 'f.yml');
  expect({ text, diagnostics: full.diagnostics }).toEqual({ text, diagnostics: [] });
  expect(simple.data).toStrictEqual(full.data);
  // Every path of the document (some 400 spread over a big one), and absent keys and items below each, where the
  // nearest ancestor answers.
  const all = pathsOf(full.data);
  const paths = all.filter((_, i) => i % Math.ceil(all.length / 400) === 0);
  for (const p of [...paths, ...paths.flatMap((p) => [[...p, 'absent'], [...p, 0], [...p, 9]]), ['absent'], [0], ['all', 'absent', 0]]) {
    expect({ text, path: p, plain: simple.plainTextOf(p) }).toEqual({ text, path: p, plain: full.plainTextOf(p) });
    for (const part of ['key', 'value'] as const) {
      expect({ text, path: p, part, at: simple.positionOf(p, part) }).toEqual({ text, path: p, part, at: full.positionOf(p, part) });
    }
  }
  return true;
}

// Names and scalars an inventory is made of, and traps: each of the latter is refused or read alike.
const KEYS = ['all', 'vars', 'hosts', 'a', 'w-1', 'node01.site.org', '10.0.0.1', 'x_y'];
const TRAP_KEYS = ['yes', 'null', '1', '0x1F', '1.5', '2001-01-01', '<<', '__proto__', 'a:b', 'a b', '"q"', '-a', '~'];
const SCALARS = [
  'text', 'two words', 'a, b', '(x)', 'a - b', '08', '010', '1_000', '0:3', '1e3', '1.0', '-1', '-.5', '.inf', '12345678901234567890',
  '~', 'null', 'yes', 'No', 'on', 'y', 'true', '2001-12-14', 'http://10.0.0.1:4200/api', 'a:b', '"quoted"', '"a #b"', '""', "'single'",
  '[a, 0, yes]', '[]', '[ ]', '', '# only a comment', '!unsafe "x"', '!unsafe "{{ x }}"', "!unsafe 'y'", '!unsafe x', '!unsafe 010', '!unsafe yes',
];
const TRAP_SCALARS = [
  '0o7', '0b101', '0b_', '0x_', '0x1F', '1.0e+3', '190:20:30', '-.Inf', '.NaN', 'Null', '2001-12-14 21:59:43.10 -5', '2001-13-45', '=', '<<',
  'a: b', 'a:', 'a #c', 'a#b', "'it''s'", '"esc\\n"', '[a,,b]', '[a, [b]]', '[a, "b"]', '{a: 1}', '-', '- x', '&x 1', '*x', '!unsafe', '!unsafe [a]', '!unsafe "a\\n"', '!unsafex', '!unsafe  ~', '!!str x', '!vault x',
  '|', '>', '@x', '%x', '`x`', 'é', 'a\tb', '"a\u00a0b"',
];
const key = fc.oneof({ arbitrary: fc.constantFrom(...KEYS), weight: 12 }, { arbitrary: fc.constantFrom(...TRAP_KEYS), weight: 1 });
const scalar = fc.oneof({ arbitrary: fc.constantFrom(...SCALARS), weight: 12 }, { arbitrary: fc.constantFrom(...TRAP_SCALARS), weight: 1 });

interface Doc {
  kind: 'map' | 'seq';
  entries: { key: string; value: string | Doc; comment: boolean }[];
}

const doc: fc.Memo<Doc> = fc.memo((n) =>
  fc.record({
    kind: fc.constantFrom<'map' | 'seq'>('map', 'map', 'seq'),
    entries: fc.array(
      fc.record({
        key,
        value: n > 1 ? fc.oneof(scalar, doc(n - 1)) : scalar,
        comment: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  }),
);

/** Block YAML of `d`, indented by `step`; a map's sequence may sit at its key's own indentation (`sameIndentSeq`). */
function write(d: Doc, indent: number, step: number, sameIndentSeq: boolean): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const { key, value, comment } of d.entries) {
    const head = d.kind === 'map' ? `${pad}${key}:` : `${pad}-`;
    const tail = comment ? ' # note' : '';
    if (typeof value === 'string') lines.push(`${head} ${value}${tail}`);
    else {
      lines.push(`${head}${tail}`);
      if (comment) lines.push(`${' '.repeat(indent + 1)}# a comment line`);
      const childIndent = d.kind === 'map' && value.kind === 'seq' && sameIndentSeq ? indent : indent + step;
      lines.push(...write(value, childIndent, step, sameIndentSeq));
    }
  }
  return lines;
}

describe('the simple YAML reader reads what the full reader reads', () => {
  test('generated block documents: same data, plain texts and positions whenever the simple reader accepts', () => {
    let accepted = 0;
    let runs = 0;
    fc.assert(
      fc.property(doc(4), fc.constantFrom(1, 2, 4), fc.boolean(), fc.boolean(), (d, step, sameIndentSeq, marker) => {
        runs++;
        const text = `${marker ? '---\n' : ''}${write(d, 0, step, sameIndentSeq).join('\n')}\n`;
        if (agree(text)) accepted++;
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: a fair share of the documents is inside the subset.
    expect(accepted).toBeGreaterThan(runs / 5);
  });

  test('single scalars, one per document, each either refused or read alike', () => {
    const accepted = [...SCALARS, ...TRAP_SCALARS].filter((s) => agree(`k: ${s}\n`) && agree(`- ${s}\n`));
    expect(accepted).toEqual(expect.arrayContaining(['text', '08', '0:3', '1.0', '12345678901234567890', 'yes', '2001-12-14', '"quoted"', '[a, 0, yes]', 'http://10.0.0.1:4200/api', '!unsafe "x"', '!unsafe 010']));
  });

  test('the example inventories, the fixtures and a 2,000-host inventory', async () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(name)) files.push(p);
      }
    };
    walk(path.join(repoRoot, 'test/fixtures/config'));
    files.push(...['inventory.example.yml', 'secrets.example.yml'].map((f) => path.join(repoRoot, f)));
    const accepted = files.filter((f) => agree(readFileSync(f, 'utf8')));
    expect(accepted).toEqual(expect.arrayContaining(['inventory.example.yml', 'secrets.example.yml'].map((f) => path.join(repoRoot, f))));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pag-yaml-simple-'));
    try {
      expect(agree(readFileSync(await writeSyntheticInventory(dir, 2000), 'utf8'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('positions, as the full reader gives them', async () => {
    const source = await parseYamlSource('all:\n  vars:\n    a: 1\n    b: [x, 2]\n', 'f.yml');
    expect(source.positionOf(['all', 'vars', 'b', 1])).toEqual({ line: 4, col: 12 });
    expect(source.positionOf(['all', 'vars', 'a'], 'key')).toEqual({ line: 3, col: 5 });
  });

  test('outside the subset the full reader answers, with its findings', async () => {
    for (const text of ['a: 1\na: 2\n', 'yes: 1\n', 'a: "x\n', 'a: 0b_\n', 'a:\n\t- 1\n']) {
      expect(readSimpleYaml(text)).toBeUndefined();
      expect((await parseYamlSource(text, 'f.yml')).diagnostics).not.toEqual([]);
    }
    for (const text of ['a: &x 1\nb: *x\n', 'a: !unsafe [x]\n', 'a: !unsafe\n  b: 1\n', 'a: |\n  x\n', 'a: {b: 1}\n', 'a: x\n  y\n', '- b: 1\n', '\u00a0a: 1\n', 'a: 1\n# \u2028b: 2\n']) {
      expect(readSimpleYaml(text)).toBeUndefined();
    }
    expect((await parseYamlSource('a: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  61\n', 'f.yml')).isVault(['a'])).toBe(true);
  });
});
