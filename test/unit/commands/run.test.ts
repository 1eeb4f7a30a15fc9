import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandContext } from '../../../src/cli/context.js';
import { MissingToolError, ToolFailedError, UsageError } from '../../../src/errors.js';
import { parse } from 'yaml';
import { PLAYBOOK_TAGS, registerRun } from '../../../src/commands/run.js';
import { PYTHON_CHECK } from '../../../src/ansible/reachability.js';
import { setupFake, type FakeSetup } from '../../doubles/fake-ansible/fake.js';
import { AUTH_STRING, captureReporter, programWith, writeCluster, type CapturedReporter } from '../../doubles/fake-ansible/cluster-fixture.js';

const __dirname_ = dirname(fileURLToPath(import.meta.url));
let fake: FakeSetup;
let reporter: CapturedReporter;
let files: { inventory: string; secrets: string };

beforeEach(async () => {
  fake = await setupFake();
  reporter = captureReporter();
  files = await writeCluster(fake.dir);
});

const HOSTS = ['pag-server', 'pag-worker-1', 'pag-worker-2'];
const zero = { ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 };
/** The reachability round (ad-hoc `ansible`): every host answers unless a test says otherwise. */
const allReachable = {
  FAKE_ANSIBLE_ADHOC_EXIT: '0',
  FAKE_ANSIBLE_ADHOC_RECAP: JSON.stringify({ hosts: Object.fromEntries(HOSTS.map((h) => [h, { ...zero, ok: 1 }])) }),
  FAKE_ANSIBLE_ADHOC_STDOUT: HOSTS.map((h) => `${h} | SUCCESS => {"changed": false,"ping": "pong"}\n`).join(''),
};

async function run(args: string[], env: Record<string, string> = {}): Promise<CommandContext> {
  const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env({ ...allReachable, ...env }) };
  await mkdir(join(fake.dir, 'empty'), { recursive: true });
  await programWith(registerRun, ctx).parseAsync(['node', 'pag-ansible', 'run', ...args]);
  return ctx;
}

const rendered = () => join(fake.dir, 'rendered');

describe('pag-ansible run', () => {
  it('renders beside the inventory and runs main.yml with the secrets only in the 0600 file', async () => {
    const ctx = await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-worker', '--limit', 'pag-worker-1', '-e', 'x=1', '--check', '--diff', '--', '-vv']);
    expect(ctx.exitCode).toBe(0);
    expect((await stat(join(rendered(), 'main.yml'))).isFile()).toBe(true);
    const rec = await fake.record();
    const varsFile = rec.extraVarFiles[0]!;
    expect(rec.argv).toEqual([
      '-i', join(rendered(), 'inventory.yml'),
      '-e', `@${varsFile.file}`,
      '--tags', 'prefect-worker',
      '--limit', 'pag-worker-1',
      '--check', '--diff',
      join(rendered(), 'main.yml'),
      '-vv',
    ]);
    expect(JSON.stringify(rec.argv)).not.toContain('admin');
    expect(varsFile).toMatchObject({ mode: '600', dirMode: '700' });
    expect(JSON.parse(varsFile.content!)).toEqual({
      prefect_api_auth_string: { __ansible_unsafe: AUTH_STRING },
      x: { __ansible_unsafe: '1' },
      // Where the server play fetches its backup before a database migration (a private directory, removed after).
      pag_upgrade_backup_dest: { __ansible_unsafe: expect.stringMatching(/\/pag-upgrade-backup-[^/]+$/) },
    });
    expect(rec.cwd).toBe(rendered());
    expect(rec.env.ANSIBLE_CONFIG).toBe(join(rendered(), 'ansible.cfg'));
    // The private dir and the secrets in it are gone.
    await expect(stat(dirname(varsFile.file))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(reporter.errText()).toMatch(/pag-ansible: Ansible finished successfully \(exit 0\); a dry run \(--check\): nothing was changed/);
  });

  it('passes -e @file through after ours, unwrapped', async () => {
    await writeFile(join(fake.dir, 'mine.yml'), 'a: 1\n');
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '-e', '@mine.yml']);
    const rec = await fake.record();
    expect(rec.argv.slice(2, 6)).toEqual(['-e', `@${rec.extraVarFiles[0]!.file}`, '-e', `@${join(fake.dir, 'mine.yml')}`]);
    // Not a dry run: the success line says nothing of one.
    expect(reporter.errText()).toMatch(/pag-ansible: Ansible finished successfully \(exit 0\)$/);
  });

  it('prints the recap table and passes Ansible\'s exit code through, naming the failed host', async () => {
    const recap = {
      hosts: {
        'pag-server': { ok: 9, changed: 1, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 },
        'pag-worker-1': { ok: 3, changed: 0, failures: 1, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 },
      },
    };
    const p = run(['-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_EXIT: '2', FAKE_ANSIBLE_RECAP: JSON.stringify(recap) });
    await expect(p).rejects.toThrow(ToolFailedError);
    await expect(p).rejects.toMatchObject({ exitCode: 2, message: 'a task failed on pag-worker-1; see the failed task above (exit 2)' });
    expect(reporter.errText()).toContain(
      ['host          ok  changed  failed  unreachable', 'pag-server     9        1       0            0', 'pag-worker-1   3        0       1            0'].join('\n'),
    );
  });

  it('names unreachable hosts and suggests ping', async () => {
    const recap = { hosts: { 'pag-worker-2': { ok: 0, changed: 0, failures: 0, unreachable: 1, skipped: 0, rescued: 0, ignored: 0 } } };
    await expect(
      run(['-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_EXIT: '4', FAKE_ANSIBLE_RECAP: JSON.stringify(recap) }),
    ).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/^could not reach pag-worker-2/), hint: expect.stringMatching(/pag-ansible ping/) });
  });

  it('reports a syntax error (4 without a recap)', async () => {
    await expect(run(['-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_EXIT: '4', FAKE_ANSIBLE_RECAP: 'none' })).rejects.toMatchObject({
      exitCode: 4,
      message: expect.stringMatching(/syntax error/),
    });
  });

  it('exits 3 when ansible-playbook is missing', async () => {
    const p = run(['-i', 'inventory.yml', '-s', 'secrets.yml'], { PATH: join(fake.dir, 'empty') });
    await expect(p).rejects.toThrow(MissingToolError);
    await expect(p).rejects.toMatchObject({ exitCode: 3 });
  });

  it('knows the tags main.yml\'s plays carry', async () => {
    const plays = parse(await readFile(join(__dirname_, '../../../roles-templates/main.yml'), 'utf8')) as { tags?: string[] }[];
    expect([...new Set(plays.flatMap((p) => p.tags ?? []))].sort()).toEqual([...PLAYBOOK_TAGS].sort());
  });

  it('checks every targeted host in one raw round (connection and Python) before the plays, with the run\'s limit and connection options', async () => {
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-worker', '--limit', 'pag-worker-1', '--', '-u', 'admin', '--forks', '3']);
    const adhoc = JSON.parse(await readFile(`${fake.recordFile}.ansible`, 'utf8')) as { argv: string[]; env: Record<string, string> };
    expect(adhoc.argv).toEqual([
      '-i', join(rendered(), 'inventory.yml'), 'prefect_workers', '-m', 'ansible.builtin.raw', '-a', PYTHON_CHECK, '--limit', 'pag-worker-1',
      '--one-line', '--timeout', '10', '-u', 'admin',
    ]);
    expect(reporter.errText()).toMatch(/pag-ansible: 3 hosts reachable/);
    expect((await fake.record()).program).toBe('ansible-playbook');
  });

  it('names every unreachable host with its reason and changes nothing', async () => {
    const recap = { hosts: { 'pag-server': { ...zero, unreachable: 1 }, 'pag-worker-1': { ...zero, unreachable: 1 }, 'pag-worker-2': { ...zero, ok: 1 } } };
    const p = run(['-i', 'inventory.yml', '-s', 'secrets.yml'], {
      FAKE_ANSIBLE_ADHOC_EXIT: '4',
      FAKE_ANSIBLE_ADHOC_RECAP: JSON.stringify(recap),
      FAKE_ANSIBLE_ADHOC_STDOUT: [
        'pag-server | UNREACHABLE!: Failed to connect to the host via ssh: ssh: connect to host 10.0.100.164 port 22: Connection refused',
        'pag-worker-1 | UNREACHABLE!: Failed to connect to the host via ssh: ssh: connect to host 10.0.100.165 port 22: No route to host',
        'pag-worker-2 | SUCCESS => {"changed": false,"ping": "pong"}',
        '',
      ].join('\n'),
    });
    await expect(p).rejects.toMatchObject({
      exitCode: 4,
      message: '2 of 3 targeted hosts cannot be used; nothing was changed',
      hint: expect.stringContaining('--skip-unreachable to deploy the 1 reachable host only'),
    });
    expect(reporter.errText()).toContain(
      [
        '  pag-server: unreachable: Failed to connect to the host via ssh: ssh: connect to host 10.0.100.164 port 22: Connection refused',
        '  pag-worker-1: unreachable: Failed to connect to the host via ssh: ssh: connect to host 10.0.100.165 port 22: No route to host',
      ].join('\n'),
    );
    expect((await fake.record()).program).toBe('ansible'); // the playbook never ran
  });

  it('with --skip-unreachable runs the plays on the reachable hosts only', async () => {
    const recap = { hosts: { 'pag-server': { ...zero, ok: 1 }, 'pag-worker-1': { ...zero, unreachable: 1 }, 'pag-worker-2': { ...zero, ok: 1 } } };
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--skip-unreachable'], {
      FAKE_ANSIBLE_ADHOC_EXIT: '4',
      FAKE_ANSIBLE_ADHOC_RECAP: JSON.stringify(recap),
      FAKE_ANSIBLE_ADHOC_STDOUT: 'pag-worker-1 | UNREACHABLE!: Failed to connect to the host via ssh: timed out\n',
    });
    const rec = await fake.record();
    expect(rec.program).toBe('ansible-playbook');
    expect(rec.argv.slice(rec.argv.indexOf('--limit'), rec.argv.indexOf('--limit') + 2)).toEqual(['--limit', 'pag-server,pag-worker-2']);
    expect(reporter.errText()).toMatch(/warning: 1 of 3 targeted hosts cannot be used; --skip-unreachable: leaving them out:\n  pag-worker-1: unreachable: Failed to connect to the host via ssh: timed out/);
  });

  it('skips the round when ansible-playbook contacts no host (--syntax-check, --list-*)', async () => {
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--', '--list-hosts']);
    await expect(readFile(`${fake.recordFile}.ansible`)).rejects.toThrow();
  });

  it('accepts the play tags with Ansible\'s special ones', async () => {
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-server,always', '--tags', 'prefect-worker']);
    expect((await fake.record()).argv).toContain('prefect-server,always,prefect-worker');
  });

  it('refuses a tag no play carries, suggesting the nearest, before rendering or running anything', async () => {
    const p = run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'prefect-servr']);
    await expect(p).rejects.toThrow(UsageError);
    await expect(p).rejects.toMatchObject({
      exitCode: 2,
      message: '--tags prefect-servr: no play of main.yml carries this tag, so nothing would be deployed; did you mean "prefect-server"?',
    });
    await expect(p).rejects.toMatchObject({ hint: expect.stringMatching(/plays carry prefect-server, prefect-worker.* after --, e\.g\. .* -- --tags TAG/) });
    await expect(readFile(fake.recordFile)).rejects.toThrow();
    await expect(stat(rendered())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses tags that select no play (never, untagged, always alone)', async () => {
    await expect(run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'always'])).rejects.toThrow(/--tags always selects no play/);
    await expect(readFile(fake.recordFile)).rejects.toThrow();
  });

  it('passes role-internal tags given after -- to ansible-playbook', async () => {
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--', '--tags', 'custom']);
    expect((await fake.record()).argv.slice(-2)).toEqual(['--tags', 'custom']);
  });

  it('refuses a --limit that matches no host, suggesting the nearest, before rendering or running', async () => {
    const p = run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--limit', 'pag-wroker-1']);
    await expect(p).rejects.toMatchObject({
      exitCode: 2,
      message: '--limit pag-wroker-1 matches no host of inventory.yml; did you mean "pag-worker-1"?',
      hint: 'hosts: pag-server, pag-worker-1, pag-worker-2; groups: all, prefect_server, prefect_workers',
    });
    await expect(readFile(fake.recordFile)).rejects.toThrow();
    await expect(stat(rendered())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('lets a --limit through that matches some host, even when one of its terms does not', async () => {
    await run(['-i', 'inventory.yml', '-s', 'secrets.yml', '--limit', 'prefect_workers,!pag-worker-2,nope']);
    expect((await fake.record()).argv).toContain('prefect_workers,!pag-worker-2,nope');
  });

  it.each([
    [['-i', 'inventory.yml', '-s', 'secrets.yml', 'stray'], /unexpected argument "stray"/],
    [['-i', 'inventory.yml', '-s', 'secrets.yml', '-e', 'novalue'], /expected key=value or @file/],
    [['-i', 'inventory.yml', '-s', 'secrets.yml', '--limit', ' '], /--limit needs a host pattern/],
    [['-i', 'inventory.yml', '-s', 'secrets.yml', '--tags', 'a,,b'], /empty tag/],
  ])('refuses %j before running anything', async (args, re) => {
    const p = run(args);
    await expect(p).rejects.toThrow(UsageError);
    await expect(p).rejects.toThrow(re);
    await expect(readFile(fake.recordFile)).rejects.toThrow();
  });

  it('requires -s', async () => {
    await expect(run(['-i', 'inventory.yml'])).rejects.toThrow(/required option '-s, --secrets <file>'/);
  });
});
