/**
 * pag_files, the module and action plugin the rendered roles use to converge many paths in one task, run by real
 * ansible-playbook on the controller (connection local) in a scratch directory: per-path results, idempotence,
 * check mode and diff, secrets kept out of every output, `each` entries, `find`, `requires`, `checksums`, and refused
 * path names.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LOCAL_PLAY_HEAD, pagResult, pluginPlayDir, printResultTask, runLocalPlaybook } from '../../helpers/local-playbook.js';

const exec = promisify(execFile);
const SECRET = 'pag-files-s3cret-value';

let dir: string;
let out: string;
const user = os.userInfo().username;
let group: string;

const playbook = (vars: Record<string, unknown>, ...args: string[]) => runLocalPlaybook(dir, vars, args);

interface Converged {
  changed: boolean;
  results: Array<{ path: string; changed: boolean; label: unknown }>;
  found: string[];
  packages_missing: string[];
}

/** The registered result the play printed; a play that did not get that far fails the test with its output. */
function registered(stdout: string): Converged {
  const result = pagResult<Converged>(stdout);
  if (!result) throw new Error(`no result in:\n${stdout}`);
  return result;
}

beforeAll(async () => {
  dir = await pluginPlayDir('pag-files-', [
    ...LOCAL_PLAY_HEAD,
    '    - name: Converge',
    '      pag_files:',
    '        find: ["{{ out }}/*.env"]',
    '        packages: "{{ packages | default([]) }}"',
    '        paths:',
    '          - {path: "{{ out }}", state: directory, owner: "{{ owner }}", group: "{{ grp }}", mode: "0750"}',
    '          - {path: "{{ out }}/plain.conf", template: plain.j2, owner: "{{ owner }}", group: "{{ grp }}", mode: "0644"}',
    '          - each: "{{ units }}"',
    '            path: "{{ out }}/{unit}.env"',
    '            template: unit.env.j2',
    '            secret: true',
    '            owner: "{{ owner }}"',
    '            group: "{{ grp }}"',
    '            mode: "0600"',
    '            label: unit',
    '          - {path: "{{ out }}/current", state: link, src: "{{ out }}/plain.conf", owner: "{{ owner }}", group: "{{ grp }}"}',
    '          - {path: "{{ out }}/stale", state: absent}',
    '      register: converged',
    ...printResultTask("{'changed': converged.changed, 'results': converged.results, 'found': converged.found, 'packages_missing': converged.packages_missing}"),
  ]);
  out = path.join(dir, 'out');
  group = (await exec('id', ['-gn'])).stdout.trim();
  await fs.mkdir(path.join(dir, 'templates'));
  await fs.writeFile(path.join(dir, 'templates/unit.env.j2'), '{{ ansible_managed | comment }}\nPOOL={{ item.pool }}\nTOKEN={{ token }}\n');
  await fs.writeFile(path.join(dir, 'templates/plain.j2'), 'greeting={{ greeting }}\n');
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A play of one pag_files task with ARGS (its indented lines), printing its result with FOUND as `found`. */
function writePagFilesPlay(file: string, args: string[], found: string): Promise<void> {
  return fs.writeFile(
    file,
    [
      ...LOCAL_PLAY_HEAD,
      '    - pag_files:',
      ...args,
      '      register: converged',
      ...printResultTask(`{'changed': converged.changed, 'results': converged.results, 'found': ${found}, 'packages_missing': []}`),
      '',
    ].join('\n'),
  );
}

const base = () => ({
  out,
  owner: user,
  grp: group,
  greeting: 'hello',
  token: SECRET,
  units: [
    { unit: 'prefect-worker-cpu', pool: 'cpu' },
    { unit: 'prefect-worker-gpu', pool: 'gpu' },
  ],
});

it('converges every path in one task, reports each, and changes nothing the second time', async () => {
  await fs.rm(out, { recursive: true, force: true });
  await fs.mkdir(out);
  await fs.writeFile(path.join(out, 'stale'), 'x');
  await fs.writeFile(path.join(out, 'prefect-worker-old.env'), 'old');

  const first = await playbook(base());
  expect(first.code).toBe(0);
  const r1 = registered(first.stdout);
  expect(r1.changed).toBe(true);
  expect(r1.results.map((r) => [path.basename(r.path), r.changed, r.label])).toEqual([
    ['out', true, null],
    ['plain.conf', true, null],
    ['prefect-worker-cpu.env', true, 'prefect-worker-cpu'],
    ['prefect-worker-gpu.env', true, 'prefect-worker-gpu'],
    ['current', true, null],
    ['stale', true, null],
  ]);
  // What was there before the task wrote anything.
  expect(r1.found).toEqual([path.join(out, 'prefect-worker-old.env')]);
  expect((await fs.stat(out)).mode & 0o777).toBe(0o750);
  expect((await fs.stat(path.join(out, 'prefect-worker-cpu.env'))).mode & 0o777).toBe(0o600);
  expect(await fs.readFile(path.join(out, 'prefect-worker-gpu.env'), 'utf8')).toMatch(/POOL=gpu\nTOKEN=pag-files-s3cret-value\n$/);
  expect(await fs.readlink(path.join(out, 'current'))).toBe(path.join(out, 'plain.conf'));
  await expect(fs.stat(path.join(out, 'stale'))).rejects.toThrow();

  const second = await playbook(base());
  expect(second.code).toBe(0);
  const r2 = registered(second.stdout);
  expect(r2.changed).toBe(false);
  expect(r2.results.every((r) => !r.changed)).toBe(true);
  expect(second.stdout).toMatch(/ok=2\s+changed=0/);
}, 120_000);

it('with pipelining, answers a run with nothing to change by the read-only check, never showing a secret; without a known interpreter, runs the module', async () => {
  const pipelined = { ...base(), ansible_pipelining: true };
  const checked = await playbook(pipelined, '-vvv');
  expect(checked.code).toBe(0);
  expect(checked.stdout).toContain('pag_files: nothing to change (read-only check)');
  expect(checked.stdout).toMatch(/python3 -I -S -/);
  expect(checked.stdout).not.toContain(SECRET);
  const viaModule = await playbook(base(), '-vvv');
  expect(viaModule.stdout).not.toContain('read-only check');
  expect(registered(checked.stdout)).toEqual(registered(viaModule.stdout));

  // Interpreter discovery has not run on this host yet: the module's run discovers it; no check before it.
  const undiscovered = await playbook({ ...pipelined, ansible_python_interpreter: 'auto_silent' }, '-i', 'localhost,', '-vvv');
  expect(undiscovered.code).toBe(0);
  expect(undiscovered.stdout).not.toContain('read-only check');
  expect(registered(undiscovered.stdout).changed).toBe(false);
}, 120_000);

it('in check mode reports the change and its diff but writes nothing, and never shows a secret', async () => {
  const before = await fs.readFile(path.join(out, 'plain.conf'), 'utf8');
  const check = await playbook({ ...base(), greeting: 'changed', token: `${SECRET}-2` }, '--check', '--diff', '-vvv');
  expect(check.code).toBe(0);
  expect(check.stdout).toContain('-greeting=hello');
  expect(check.stdout).toContain('+greeting=changed');
  // The secret files are reported changed, their content hidden.
  const r = registered(check.stdout);
  expect(r.results.filter((x) => x.changed).map((x) => path.basename(x.path))).toEqual(['plain.conf', 'prefect-worker-cpu.env', 'prefect-worker-gpu.env']);
  expect(check.stdout).toContain('[content hidden: it holds secrets]');
  expect(check.stdout).not.toContain(SECRET);
  expect(await fs.readFile(path.join(out, 'plain.conf'), 'utf8')).toBe(before);

  // A real run with diff and full verbosity: the new secret is written and still never printed.
  const apply = await playbook({ ...base(), token: `${SECRET}-2` }, '--diff', '-vvv');
  expect(apply.code).toBe(0);
  expect(apply.stdout).not.toContain(SECRET);
  expect(await fs.readFile(path.join(out, 'prefect-worker-cpu.env'), 'utf8')).toContain(`TOKEN=${SECRET}-2`);
}, 120_000);

it('refuses an each field that would name a path outside the directory, and writes nothing', async () => {
  const r = await playbook({ ...base(), units: [{ unit: '../escape', pool: 'x' }] });
  expect(r.code).not.toBe(0);
  expect(r.stdout).toMatch(/unit '\.\.\/escape' is not a plain file name/);
  await expect(fs.stat(path.join(dir, 'escape.env'))).rejects.toThrow();
}, 120_000);

it("names the packages dpkg does not list as installed, also in check mode, and leaves versions and wildcards to apt", async () => {
  const packages = ['bash', 'pag-no-such-package', 'coreutils', 'bash=0.0-1', 'python3*'];
  for (const args of [[], ['--check']]) {
    const r = await playbook({ ...base(), packages }, ...args);
    expect(r.code).toBe(0);
    expect(registered(r.stdout).packages_missing).toEqual(['pag-no-such-package', 'bash=0.0-1', 'python3*']);
  }
  const none = await playbook({ ...base(), packages: ['bash'] });
  expect(registered(none.stdout).packages_missing).toEqual([]);
}, 120_000);

it('converges an entry with requires only once a path matches its pattern, and reports it skipped until then', async () => {
  const play = path.join(dir, 'requires.yml');
  const target = path.join(out, 'versions', 'v2');
  await fs.rm(path.join(out, 'versions'), { recursive: true, force: true });
  await writePagFilesPlay(
    play,
    [
      '        paths:',
      `          - {path: "${out}/current-v2", state: link, src: "${target}", requires: "${target}/lib/python3*/prefect-*.dist-info", owner: "{{ owner }}", group: "{{ grp }}", label: link}`,
    ],
    '[]',
  );
  const run = async () => registered((await runLocalPlaybook(dir, base(), [], play)).stdout);
  // Incomplete: the directory is there, the marker is not.
  await fs.mkdir(path.join(target, 'lib', 'python3.13'), { recursive: true });
  const before = await run();
  expect(before.changed).toBe(false);
  expect(before.results).toEqual([expect.objectContaining({ changed: false, skipped: true, label: 'link' })]);
  await expect(fs.lstat(path.join(out, 'current-v2'))).rejects.toThrow();

  await fs.mkdir(path.join(target, 'lib', 'python3.13', 'prefect-3.4.25.dist-info'));
  const after = await run();
  expect(after.changed).toBe(true);
  expect(after.results).toEqual([expect.not.objectContaining({ skipped: true })]);
  expect(await fs.readlink(path.join(out, 'current-v2'))).toBe(target);
}, 120_000);

it('returns the SHA-256 of each listed file as it was before the task, null for what is not a file, also in check mode', async () => {
  const play = path.join(dir, 'checksums.yml');
  const copy = path.join(out, 'api-ca.crt');
  await writePagFilesPlay(
    play,
    [
      `        checksums: ["${copy}", "${out}/no-such-file", "${out}"]`,
      `        paths: [{path: "${copy}", content: "new", owner: "{{ owner }}", group: "{{ grp }}", mode: "0644"}]`,
    ],
    'converged.checksums',
  );
  const run = async (...args: string[]) => registered((await runLocalPlaybook(dir, base(), args, play)).stdout);
  await fs.writeFile(copy, 'old');
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const expected = (text: string) => ({ [copy]: sha(text), [`${out}/no-such-file`]: null, [out]: null });
  // The checksum is read before the write: what the host had, for the controller to compare with its own file.
  const checked = await run('--check');
  expect(checked.found).toEqual(expected('old'));
  expect(checked.changed).toBe(true);
  const first = await run();
  expect(first.found).toEqual(expected('old'));
  expect((await run()).found).toEqual(expected('new'));
}, 120_000);

it("adds another role's paths after the task's own (merge), renders a template of the role an entry names, and leaves a mark where a file that existed changed", async () => {
  const play = path.join(dir, 'merge.yml');
  const marks = path.join(out, 'marks');
  await fs.rm(marks, { recursive: true, force: true });
  await fs.mkdir(marks);
  await fs.mkdir(path.join(dir, 'roles/other/templates'), { recursive: true });
  await fs.writeFile(path.join(dir, 'roles/other/templates/unit.env.j2'), "OTHER={{ item.pool }} {{ greeting }}\n");
  for (const f of ['other-cpu.env', 'other-gpu.env']) await fs.rm(path.join(out, f), { force: true });
  await writePagFilesPlay(
    play,
    [
      '        paths:',
      `          - {path: "${out}/plain.conf", template: plain.j2, owner: "{{ owner }}", group: "{{ grp }}", mode: "0644"}`,
      '        merge: {paths: "{{ extra }}"}',
    ],
    'converged.marked',
  );
  // As another role gives them: an each entry whose template is that role's (the task's own unit.env.j2 differs).
  const extra = [
    {
      each: [{ unit: 'other-cpu', pool: 'cpu' }, { unit: 'other-gpu', pool: 'gpu' }],
      path: `${out}/{unit}.env`,
      role: 'other',
      template: 'unit.env.j2',
      owner: user,
      group,
      mode: '0600',
      label: 'unit',
      changed_mark: `${marks}/{unit}.restart-pending`,
    },
  ];
  const run = async (vars: Record<string, unknown>, ...args: string[]) => registered((await runLocalPlaybook(dir, { ...base(), extra, ...vars }, args, play)).stdout);

  // Written for the first time: nothing to mark.
  const first = await run({});
  expect(first.results.map((r) => [path.basename(r.path), r.changed, r.label])).toEqual([
    ['plain.conf', false, null],
    ['other-cpu.env', true, 'other-cpu'],
    ['other-gpu.env', true, 'other-gpu'],
  ]);
  expect(await fs.readFile(path.join(out, 'other-gpu.env'), 'utf8')).toBe('OTHER=gpu hello\n');
  expect(first.found).toEqual([]);
  expect(await fs.readdir(marks)).toEqual([]);

  // A dry run of a change marks nothing; the change itself marks each file it changed, once.
  expect((await run({ greeting: 'changed' }, '--check')).found).toEqual([]);
  expect(await fs.readdir(marks)).toEqual([]);
  const changed = await run({ greeting: 'changed' });
  expect(changed.found.sort()).toEqual([`${marks}/other-cpu.restart-pending`, `${marks}/other-gpu.restart-pending`]);
  expect((await fs.stat(path.join(marks, 'other-cpu.restart-pending'))).mode & 0o777).toBe(0o600);
  await fs.rm(path.join(marks, 'other-gpu.restart-pending'));
  const again = await run({ greeting: 'changed' });
  expect(again.changed).toBe(false);
  expect(again.found).toEqual([]);
  expect((await fs.readdir(marks)).sort()).toEqual(['other-cpu.restart-pending']);

  // A role that is not there is named.
  const missing = await runLocalPlaybook(dir, { ...base(), extra: [{ ...extra[0], role: 'nowhere' }] }, [], play);
  expect(missing.code).not.toBe(0);
  expect(missing.stdout).toContain('template unit.env.j2 of role nowhere not found');
}, 120_000);

it("finds another role's patterns too (merge), and refuses services given twice or a merge that is not find, paths and services", async () => {
  const play = path.join(dir, 'merge-find.yml');
  await fs.writeFile(path.join(out, 'merged.found'), '');
  await writePagFilesPlay(play, ['        find: "{{ own }}"', '        merge: "{{ merge }}"', '        services: "{{ services | default(omit) }}"'], 'converged.found');
  const run = (vars: Record<string, unknown>) => runLocalPlaybook(dir, { ...base(), own: [`${out}/plain.conf`], ...vars }, [], play);
  const found = registered((await run({ merge: { find: [`${out}/*.found`] } })).stdout).found;
  expect(found).toEqual([`${out}/merged.found`, `${out}/plain.conf`]);

  const services = { names: ['pag-none.service'] };
  const twice = await run({ merge: { services }, services });
  expect(twice.code).not.toBe(0);
  expect(twice.stdout).toContain('services given both by the task and by merge');
  const other = await run({ merge: { files: [] } });
  expect(other.code).not.toBe(0);
  expect(other.stdout).toContain('merge takes a dictionary of find, paths and services');
}, 120_000);
