/**
 * The import graph of src/: no file may reach itself through its imports (type-only imports included: they
 * are still a dependency a reader has to follow), and the ground-floor files import nothing from src/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Relative specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
function localImports(file: string, text: string): string[] {
  const found = new Set<string>();
  const patterns = [/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const spec = m[1] as string;
      if (!spec.startsWith('.')) continue;
      found.add(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  }
  return [...found];
}

function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

const rel = (f: string) => path.relative(srcDir, f);
const graph = new Map(tsFiles(srcDir).map((f) => [f, localImports(f, readFileSync(f, 'utf8'))]));

it('finds a cycle when there is one (the checker itself works)', () => {
  const cyclic = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  expect(findCycles(cyclic)).toEqual([['a', 'b', 'c', 'a']]);
  expect(localImports('/x/src/cli/main.ts', "import type { A } from '../commands/run.js';\nexport { B } from './b.js';\nawait import('./c.js');")).toEqual([
    '/x/src/commands/run.ts',
    '/x/src/cli/b.ts',
    '/x/src/cli/c.ts',
  ]);
});

it('src/ has no import cycle', () => {
  expect(graph.size).toBeGreaterThan(20);
  expect(findCycles(graph).map((c) => c.map(rel).join(' -> '))).toEqual([]);
});

it('every relative import resolves to a file of src/', () => {
  const missing = [...graph.entries()].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${rel(f)} -> ${rel(d)}`));
  expect(missing).toEqual([]);
});

it('the ground floor (errors, the Diagnostic type, util) imports only from the ground floor', () => {
  const ground = (f: string) => ['errors.ts', 'diagnostic.ts'].includes(rel(f)) || rel(f).startsWith('util/');
  const upward = [...graph.entries()].filter(([f]) => ground(f)).flatMap(([f, deps]) => deps.filter((d) => !ground(d)).map((d) => `${rel(f)} -> ${rel(d)}`));
  expect(upward).toEqual([]);
  expect(graph.has(path.join(srcDir, 'errors.ts'))).toBe(true);
});
