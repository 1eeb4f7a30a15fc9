import fc from 'fast-check';
import { unifiedDiff } from '../../../src/render/unified-diff.js';

/** Applies a unified diff produced by unifiedDiff to `old`, to prove the hunks are right. */
function applyPatch(old: string, patch: string): string {
  const a = old === '' ? [] : old.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let pos = 0;
  for (const line of patch.split('\n')) {
    const m = /^@@ -(\d+),(\d+) \+\d+,\d+ @@$/.exec(line);
    if (m) {
      const start = Number(m[2]) === 0 ? Number(m[1]) : Number(m[1]) - 1;
      while (pos < start) out.push(a[pos++] as string);
      continue;
    }
    if (line.startsWith('---') || line.startsWith('+++') || line === '') continue;
    if (line[0] === ' ') out.push(a[pos++] as string);
    else if (line[0] === '-') pos++;
    else if (line[0] === '+') out.push(line.slice(1));
  }
  while (pos < a.length) out.push(a[pos++] as string);
  return out.length ? `${out.join('\n')}\n` : '';
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'a', 'b')).toBe('');
  });

  it('shows a changed line with context', () => {
    const d = unifiedDiff('1\n2\n3\n4\n5\n6\n7\n8\n', '1\n2\n3\n4\nX\n6\n7\n8\n', 'a/f', 'b/f');
    expect(d).toBe('--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n');
  });

  it('produces patches that turn old into new (property)', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { maxLength: 30 });
    fc.assert(
      fc.property(lines, lines, (x, y) => {
        const old = x.length ? `${x.join('\n')}\n` : '';
        const neu = y.length ? `${y.join('\n')}\n` : '';
        const patch = unifiedDiff(old, neu, 'a', 'b');
        expect(patch === '' ? old : applyPatch(old, patch)).toBe(neu);
      }),
      { numRuns: 500 },
    );
  });
});
