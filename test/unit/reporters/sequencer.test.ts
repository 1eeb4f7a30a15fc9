/**
 * The integration files run two at a time, longest first (test/integration/sequencer.cjs): every file has a measured
 * cost, so a fresh machine (no durations cached by Jest) still starts the long suites first.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const integrationDir = path.join(root, 'test/integration');
const LongestFirst = createRequire(import.meta.url)(path.join(integrationDir, 'sequencer.cjs')) as {
  new (options: object): { sort(tests: { path: string }[]): { path: string }[] };
  SECONDS: Record<string, number>;
};

const files = readdirSync(integrationDir).filter((f) => f.endsWith('.test.ts'));

it('knows the cost of every integration file', () => {
  expect(Object.keys(LongestFirst.SECONDS).sort()).toEqual([...files].sort());
});

it('orders the files longest first, an unknown file before them all', () => {
  const tests = [...files, 'new-suite.test.ts'].reverse().map((f) => ({ path: path.join(integrationDir, f) }));
  const order = new LongestFirst({}).sort(tests).map((t) => path.basename(t.path));
  expect(order[0]).toBe('new-suite.test.ts');
  const costs = order.slice(1).map((f) => LongestFirst.SECONDS[f] as number);
  expect(costs).toEqual([...costs].sort((a, b) => b - a));
  expect(order[1]).toBe('real-prefect-scale.test.ts');
});
