import { matchPattern, splitPattern, type PatternInventory } from '../../../src/ansible/host-pattern.js';

const inv: PatternInventory = {
  hosts: ['pag-server', 'pag-worker-1', 'pag-worker-2', 'gpu-07'],
  groups: new Map([
    ['all', ['pag-server', 'pag-worker-1', 'pag-worker-2', 'gpu-07']],
    ['ungrouped', []],
    ['prefect_server', ['pag-server']],
    ['prefect_workers', ['pag-worker-1', 'pag-worker-2', 'gpu-07']],
  ]),
};
const hosts = (p: string) => matchPattern(p, inv)?.hosts;

it.each([
  ['all', ['pag-server', 'pag-worker-1', 'pag-worker-2', 'gpu-07']],
  ['*', ['pag-server', 'pag-worker-1', 'pag-worker-2', 'gpu-07']],
  ['pag-worker-1', ['pag-worker-1']],
  ['prefect_server', ['pag-server']],
  ['pag-worker-*', ['pag-worker-1', 'pag-worker-2']],
  ['pag-worker-?', ['pag-worker-1', 'pag-worker-2']],
  ['pag-worker-[!1]', ['pag-worker-2']],
  ['pag-worker-[2-9]', []], // a subscript for Ansible too: the 3rd to 10th host named pag-worker-
  ['pag-server,gpu-07', ['pag-server', 'gpu-07']],
  ['pag-server:gpu-07', ['pag-server', 'gpu-07']],
  ['prefect_workers:!gpu-07', ['pag-worker-1', 'pag-worker-2']],
  ['!prefect_workers', ['pag-server']],
  ['prefect_workers:&pag-worker-*', ['pag-worker-1', 'pag-worker-2']],
  ['prefect_workers[0]', ['pag-worker-1']],
  ['prefect_workers[1:2]', ['pag-worker-2', 'gpu-07']],
  ['prefect_workers[-1]', ['gpu-07']],
  ['~pag-w.*2', ['pag-worker-2']],
  ['nothing,pag-server', ['pag-server']],
  ['pag-wroker-1', []],
  ['prefect_workers:!prefect_workers', []],
  ['prefect_server:&gpu-07', []],
])('%s selects %j', (pattern, expected) => {
  expect(hosts(pattern)).toEqual(expected);
});

it('suggests the nearest host or group for a term that matches nothing', () => {
  expect(matchPattern('pag-wroker-1', inv)?.unmatched).toEqual([{ term: 'pag-wroker-1', suggestion: 'pag-worker-1' }]);
  expect(matchPattern('prefect_worker', inv)?.unmatched).toEqual([{ term: 'prefect_worker', suggestion: 'prefect_workers' }]);
  expect(matchPattern('zzzzzzzz', inv)?.unmatched).toEqual([{ term: 'zzzzzzzz' }]);
});

it('leaves @file patterns to Ansible', () => {
  expect(matchPattern('@retry.txt', inv)).toBeUndefined();
});

it('splits on commas first, else on colons outside subscripts', () => {
  expect(splitPattern('a:b[1:2],c')).toEqual(['a:b[1:2]', 'c']);
  expect(splitPattern('a:b[1:2]:!c')).toEqual(['a', 'b[1:2]', '!c']);
});
