/**
 * pag_files' read-only check (the module's own code, run by the host's Python with the standard library only, before
 * the module) against the module itself, on the same state of a scratch directory: wherever the module would change
 * or fail, the check must not answer; wherever the module finds nothing to change, the check answers with the
 * module's own result. Random states and arguments from a fixed seed, and the cases the check must leave to the
 * module (arguments AnsibleModule would convert, a result that mentions a secret, a unit systemd cannot find).
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ansiblePython } from '../../helpers/ansible-python.js';
import { repoRoot } from '../config/helpers.js';

const exec = promisify(execFile);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Case {
  name: string;
  setup: Json[][];
  args: Record<string, Json>;
  check_mode?: boolean;
  again?: boolean;
}
interface Answer {
  check: { unchanged?: boolean; result?: Record<string, Json>; error?: string };
  module: Record<string, Json> & { changed?: boolean; failed?: boolean };
  /** With the case's `again`: the check and the module once more, on the state the module left. */
  again?: Answer;
}

const user = os.userInfo().username;
let group: string;

async function compare(cases: Case[]): Promise<Answer[]> {
  const child = execFile(ansiblePython(), [path.join(repoRoot, 'test/helpers/pag_files_equivalence.py')], { maxBuffer: 64 * 1024 * 1024 });
  const out = new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`equivalence helper exited ${code}`))));
  });
  child.stdin?.end(
    JSON.stringify({
      library: path.join(repoRoot, 'roles-templates/library/pag_files.py'),
      action: path.join(repoRoot, 'roles-templates/action_plugins/pag_files.py'),
      cases,
    }),
  );
  return JSON.parse(await out) as Answer[];
}

/** The module's result as the check gives it: AnsibleModule adds `invocation` (its arguments), which Ansible drops. */
function withoutInvocation(result: Record<string, Json>): Record<string, Json> {
  const { invocation: _invocation, ...rest } = result;
  return rest;
}

/**
 * What every case must hold: the check never answers where the module changes or fails. With `complete`, it also
 * answers, with the module's result, wherever the module finds nothing to change.
 */
function expectSound(c: Case, a: Answer, complete = true): 'unchanged' | 'handed over' {
  const label = `${c.name}: ${JSON.stringify(a)}`;
  expect({ label, error: a.check.error }).toEqual({ label, error: undefined });
  if (a.module.failed || a.module.changed !== false) {
    expect({ label, unchanged: a.check.unchanged }).toEqual({ label, unchanged: false });
    return 'handed over';
  }
  if (!complete && a.check.unchanged === false) return 'handed over';
  expect({ label, result: a.check.result }).toEqual({ label, result: withoutInvocation(a.module) });
  return 'unchanged';
}

/** A small deterministic generator (mulberry32), so a failure names a case that runs again the same way. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A state of four paths (a directory, a file, a link, a path that must be absent) and the task's wish for them. */
function randomCase(next: () => number, n: number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const setup: Json[][] = [];
  const dir = pick(['same', 'mode', 'missing', 'file'] as const);
  if (dir === 'same') setup.push(['dir', '@ROOT@/d', '0750']);
  if (dir === 'mode') setup.push(['dir', '@ROOT@/d', '0755']);
  if (dir === 'file') setup.push(['file', '@ROOT@/d', 'x', '0644']);
  const file = pick(['same', 'text', 'mode', 'missing'] as const);
  if (file !== 'missing') setup.push(['file', '@ROOT@/f.env', file === 'text' ? 'TOKEN=old\n' : 'TOKEN=s3cret\n', file === 'mode' ? '0644' : '0600']);
  const link = pick(['same', 'other', 'missing'] as const);
  if (link !== 'missing') setup.push(['link', '@ROOT@/current', link === 'same' ? '@ROOT@/f.env' : '@ROOT@/elsewhere']);
  if (pick([true, false])) setup.push(['file', '@ROOT@/stale', 'x', '0644']);
  const secret = pick([true, false]);
  const paths: Json[] = [
    { path: '@ROOT@/d', state: 'directory', owner: user, group, mode: '0750' },
    { path: '@ROOT@/f.env', [secret ? 'secret_content' : 'content']: 'TOKEN=s3cret\n', owner: user, group, mode: pick(['0600', null]) },
    { path: '@ROOT@/current', state: 'link', src: '@ROOT@/f.env', owner: user, group, requires: pick([null, '@ROOT@/f.env', '@ROOT@/nothing*']) },
    { path: '@ROOT@/stale', state: 'absent', changed_mark: pick([null, '@ROOT@/stale.mark']) },
  ];
  return {
    name: `random case ${n} (${dir}, ${file}, ${link})`,
    again: true,
    setup,
    args: {
      find: ['@ROOT@/*.env', '@ROOT@/nothing*'],
      checksums: ['@ROOT@/f.env', '@ROOT@/d'],
      packages: pick([[], ['dpkg', 'pag-no-such-package', 'python3=3.0']]),
      paths: dir === 'missing' ? [paths[0] as Json] : paths,
    },
  };
}

beforeAll(async () => {
  group = (await exec('id', ['-gn'])).stdout.trim();
});

it('never answers where the module would change or fail, and answers with its result where it would not (random states)', async () => {
  const next = random(20261206);
  const cases = Array.from({ length: 40 }, (_, n) => randomCase(next, n));
  const answers = await compare(cases);
  const first = cases.map((c, i) => expectSound(c, answers[i] as Answer));
  // Once the module has converged a state, the check answers for it (but where the module cannot converge it).
  const again = cases.map((c, i) => expectSound({ ...c, name: `${c.name}, again` }, (answers[i] as Answer).again as Answer));
  // Both outcomes are exercised, or this test could not fail.
  expect(first.filter((o) => o === 'handed over').length).toBeGreaterThan(20);
  expect(again.filter((o) => o === 'unchanged').length).toBeGreaterThan(20);
}, 180_000);

it('leaves to the module what AnsibleModule would convert or refuse, an account to change, and a unit systemd cannot find', async () => {
  const converged: Json[][] = [['file', '@ROOT@/f', 'x\n', '0644']];
  const file = { path: '@ROOT@/f', content: 'x\n', owner: user, group, mode: '0644' };
  const home = os.userInfo().homedir;
  const shell = os.userInfo().shell ?? '/bin/sh';
  const cases: Case[] = [
    { name: 'converged', setup: converged, args: { paths: [file] } },
    { name: 'the account as it is', setup: converged, args: { account: { user, group, home, shell }, paths: [file] } },
    { name: 'a mode given as a number', setup: converged, args: { paths: [{ ...file, mode: 420 }] } },
    { name: 'find given as one string', setup: converged, args: { find: '@ROOT@/*', paths: [file] } },
    { name: 'an option the module does not have', setup: converged, args: { paths: [file], colour: 'blue' } },
    { name: 'a path without its path', setup: converged, args: { paths: [{ content: 'x\n' }] } },
    { name: 'a state the module does not know', setup: converged, args: { paths: [{ ...file, state: 'hardlink' }] } },
    { name: 'an owner given as null', setup: converged, args: { paths: [{ ...file, owner: null }] } },
    { name: 'an account whose shell differs', setup: converged, args: { account: { user, group, home, shell: '/bin/pag-other' }, paths: [file] }, check_mode: true },
    { name: 'an account that does not exist', setup: converged, args: { account: { user: 'pag-no-such-user', group, home: '/nonexistent' } }, check_mode: true },
    {
      name: 'a secret that the result mentions',
      setup: [['file', '@ROOT@/f', 's3cret', '0600']],
      args: { paths: [{ path: '@ROOT@/f', secret_content: 's3cret', owner: user, group, mode: '0600', label: 'the s3cret file' }] },
    },
    {
      name: 'a stopped unit systemd cannot find',
      setup: converged,
      args: { paths: [file], services: { names: ['pag-no-such-unit.service'], enabled: false, state: 'stopped' } },
    },
  ];
  const answers = await compare(cases);
  cases.forEach((c, i) => expectSound(c, answers[i] as Answer, false));
  const [plain, account, number, findString, unknown] = answers as [Answer, Answer, Answer, Answer, Answer];
  expect(plain.check.unchanged).toBe(true);
  expect(account.check.unchanged).toBe(true);
  // The module accepts these (with its own conversions); the check does not vouch for them.
  expect(number.check.unchanged).toBe(false);
  expect(findString.check.unchanged).toBe(false);
  expect(unknown.module.failed).toBe(true);
  // AnsibleModule masks a secret wherever its result mentions it; the check leaves that to it.
  const mentioned = answers[10] as Answer;
  expect(JSON.stringify(mentioned.module.results)).toContain('the ******** file');
  expect(mentioned.check.unchanged).toBe(false);
  // The unit: the module's real run fails on it; check mode alone would pass it, the read-only check hands it over.
  expect((answers[11] as Answer).module.failed).toBe(true);
  expect((answers[11] as Answer).check.unchanged).toBe(false);
}, 120_000);
