import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandContext } from '../../../src/cli/main.js';
import { registerStatus } from '../../../src/commands/status.js';
import { registerFlowRun } from '../../../src/commands/flow-run.js';
import { registerFlows } from '../../../src/commands/flows.js';
import { registerFlowRemove } from '../../../src/commands/flow-remove.js';
import { registerRestore } from '../../../src/commands/restore.js';
import { registerBackup } from '../../../src/commands/backup.js';
import { ExitCode } from '../../../src/errors.js';
import { packBackup } from '../../../src/ops/backup-archive.js';
import { sha256File } from '../../../src/util/hash.js';
import { setupFake, type FakeSetup } from '../../doubles/fake-ansible/fake.js';
import { AUTH_STRING, captureReporter, programWith, writeCluster, type CapturedReporter } from '../../doubles/fake-ansible/cluster-fixture.js';
import { healthyRoutes, startFakePrefectApi, type FakePrefectApi } from '../../helpers/fake-prefect-api.js';

let fake: FakeSetup;
let reporter: CapturedReporter;
let api: FakePrefectApi;

beforeEach(async () => {
  fake = await setupFake();
  reporter = captureReporter();
  await writeCluster(fake.dir);
  api = await startFakePrefectApi({ auth: AUTH_STRING });
  // The fixture's cluster, its API on this test's loopback server.
  const inv = join(fake.dir, 'inventory.yml');
  await writeFile(inv, (await readFile(inv, 'utf8')).replace('http://10.0.100.164:4200/api', api.url));
});
afterEach(async () => {
  await api.close();
});

type Register = (p: import('commander').Command, ctx: CommandContext) => void;

async function run(register: Register, args: string[], env: Record<string, string> = {}): Promise<CommandContext> {
  const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env(env) };
  await programWith(register, ctx).parseAsync(['node', 'pag-ansible', ...args]);
  return ctx;
}

const unit = (id: string, active = 'active', sub = 'running') =>
  `Id=${id}\nLoadState=loaded\nActiveState=${active}\nSubState=${sub}\nUnitFileState=enabled\nActiveEnterTimestamp=Wed 2026-12-02 10:00:00 UTC\nNRestarts=0\n`;

/** The per-host results `ansible all -m command --tree DIR` writes (the fake writes them as ansible-core does). */
function unitsDoc(hosts: Record<string, object>): string {
  return JSON.stringify(hosts);
}

const healthyHosts = {
  'pag-server': { rc: 0, stdout: unit('prefect-server.service') },
  'pag-worker-1': { rc: 0, stdout: unit('prefect-worker-cpu-pool.service') },
  'pag-worker-2': { rc: 0, stdout: `${unit('prefect-worker-cpu-pool.service')}\n${unit('prefect-worker-gpu-pool.service')}` },
};

describe('pag-ansible status', () => {
  it('reports a healthy cluster, exits 0, reads units with one ad-hoc call and the API with basic auth', async () => {
    healthyRoutes(api);
    const ctx = await run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_TREE: unitsDoc(healthyHosts) });
    const text = reporter.outs.join('\n');
    expect(ctx.exitCode).toBe(0);
    expect(text).toMatch(/ready: {8}yes, Prefect 3\.4\.11/);
    expect(text).toMatch(/cpu-pool: concurrency limit 8/);
    expect(text).toMatch(/ONLINE {3}pag-worker-2-gpu-pool {2}last heartbeat/);
    expect(text).toMatch(/pag-worker-2:\n {4}active\/running +prefect-worker-cpu-pool\.service/);
    expect(text).toMatch(/last backup: {2}none found/);
    expect(text.trim().endsWith('HEALTHY')).toBe(true);
    const rec = await fake.record();
    expect(rec.program).toBe('ansible');
    expect(rec.argv).toEqual(expect.arrayContaining(['all', '-m', 'ansible.builtin.command', '-a', expect.stringMatching(/^systemctl show .*'prefect-\*' 'prefect-server.service' 'prefect-worker-cpu-pool.service' 'prefect-worker-gpu-pool.service'$/)]));
    expect(rec.argv).toEqual(expect.arrayContaining(['--tree']));
    // The secret never reaches ansible (no extra-vars file) and is sent to the API only.
    expect(rec.extraVarFiles).toEqual([]);
    expect(JSON.stringify(rec)).not.toContain('lookup');
    const authed = api.requests.filter((r) => r.path !== '/ready');
    expect(authed.every((r) => r.authorization === `Basic ${Buffer.from(AUTH_STRING).toString('base64')}`)).toBe(true);
    const runFilters = api.requests.filter((r) => r.path === '/flow_runs/filter').map((r) => (r.body as { flow_runs: object }).flow_runs);
    expect(runFilters).toEqual([
      { state: { name: { any_: ['Late'] } }, expected_start_time: { after_: expect.any(String) } },
      { state: { type: { any_: ['CRASHED'] } }, end_time: { after_: expect.any(String) } },
    ]);
  });

  it('exits 5 and names a stopped worker OFFLINE, its unit inactive, and an unreachable host (json format)', async () => {
    healthyRoutes(api);
    api.routes.set('POST /work_pools/gpu-pool/workers/filter', {
      status: 200,
      body: [{ name: 'pag-worker-2-gpu-pool', status: 'OFFLINE', last_heartbeat_time: '2026-01-01T00:00:00Z' }],
    });
    const hosts = {
      ...healthyHosts,
      'pag-worker-1': { unreachable: true, msg: 'Failed to connect to the host via ssh: timed out\n' },
      'pag-worker-2': { rc: 0, stdout: `${unit('prefect-worker-cpu-pool.service')}\n${unit('prefect-worker-gpu-pool.service', 'inactive', 'dead')}` },
    };
    const ctx = await run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml', '--format', 'json'], { FAKE_ANSIBLE_TREE: unitsDoc(hosts), FAKE_ANSIBLE_EXIT: '4' });
    expect(ctx.exitCode).toBe(5);
    const report = JSON.parse(reporter.outs.join('')) as { healthy: boolean; problems: string[]; unreachable_hosts: string[] };
    expect(report.healthy).toBe(false);
    expect(report.unreachable_hosts).toEqual(['pag-worker-1']);
    expect(report.problems).toEqual([
      'worker pag-worker-2-gpu-pool (pool gpu-pool) is OFFLINE',
      'host pag-worker-1 is unreachable: Failed to connect to the host via ssh: timed out',
      'host pag-worker-2: prefect-worker-gpu-pool.service is inactive (dead)',
    ]);
  });

  it('still reports the hosts when the API is down, and counts late and crashed runs as problems', async () => {
    api.routes.set('GET /ready', { status: 503, body: { message: 'Database is not available' } });
    const ctx = await run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_TREE: unitsDoc(healthyHosts) });
    expect(ctx.exitCode).toBe(5);
    expect(reporter.outs.join('\n')).toMatch(/the server is not ready \(not ready: Database is not available\)/);

    healthyRoutes(api);
    api.routes.set('POST /flow_runs/filter', (req) => {
      const crashed = JSON.stringify(req.body).includes('CRASHED');
      return { status: 200, body: [{ id: 'r1', name: 'brave-fox', flow_id: 'f', deployment_id: 'd', state: { type: crashed ? 'CRASHED' : 'SCHEDULED', name: crashed ? 'Crashed' : 'Late' }, work_pool_name: 'cpu-pool' }] };
    });
    reporter.outs.length = 0;
    const ctx2 = await run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_TREE: unitsDoc(healthyHosts) });
    expect(ctx2.exitCode).toBe(5);
    expect(reporter.outs.join('\n')).toMatch(/1 late, 1 crashed[\s\S]*Late +brave-fox r1 \(pool cpu-pool\)[\s\S]*Crashed +brave-fox/);
  });

  it('shows the newest backup of the backup directory', async () => {
    healthyRoutes(api);
    const work = join(fake.dir, 'work');
    await mkdir(work);
    await writeFile(join(work, 'prefect.db'), 'SQLite format 3\0');
    await writeManifest(work, { created: '2026-12-01T03:00:00Z' });
    await packBackup(work, join(fake.dir, 'backups', 'prefect-backup-20261201T030000Z.tar'));
    await run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml'], { FAKE_ANSIBLE_TREE: unitsDoc(healthyHosts) });
    expect(reporter.outs.join('\n')).toMatch(/last backup: {2}2026-12-01T03:00:00Z \(.* ago\) backups\/prefect-backup-20261201T030000Z\.tar/);
  });

  it('rejects a bad --format or --timeout with exit 2 before contacting anything', async () => {
    await expect(run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml', '--format', 'yaml'])).rejects.toMatchObject({ exitCode: 1, code: 'commander.invalidArgument' });
    await expect(run(registerStatus, ['status', '-i', 'inventory.yml', '-s', 'secrets.yml', '--timeout', '0'])).rejects.toMatchObject({ exitCode: ExitCode.usage });
    expect(api.requests).toEqual([]);
  });
});

async function writeManifest(dir: string, over: Record<string, unknown> = {}): Promise<void> {
  const sha256 = await sha256File(join(dir, 'prefect.db'));
  const manifest = {
    format: 'pag-ansible-backup/1',
    created: '2026-12-02T03:00:00Z',
    prefect_version: '3.4.11',
    database_type: 'sqlite',
    database_file: 'prefect.db',
    sha256,
    size: 16,
    server_host: 'pag-server',
    ...over,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

async function makeBackup(name: string, over: Record<string, unknown> = {}): Promise<string> {
  const work = join(fake.dir, `work-${name}`);
  await mkdir(work);
  await writeFile(join(work, 'prefect.db'), 'SQLite format 3\0');
  await writeManifest(work, over);
  const file = join(fake.dir, `${name}.tar`);
  await packBackup(work, file);
  return file;
}

describe('pag-ansible restore', () => {
  it('refuses a backup from a newer Prefect (exit 1) before any host is contacted', async () => {
    const file = await makeBackup('newer', { prefect_version: '3.4.25' });
    await expect(run(registerRestore, ['restore', '-i', 'inventory.yml', '-s', 'secrets.yml', file])).rejects.toMatchObject({
      exitCode: ExitCode.findings,
      message: expect.stringMatching(/taken with Prefect 3\.4\.25, newer than the cluster's 3\.4\.11/),
      hint: expect.stringMatching(/--force/),
    });
    await expect(fake.record()).rejects.toThrow(/ENOENT/);
  });

  it('refuses a PostgreSQL backup on a SQLite cluster', async () => {
    const file = await makeBackup('pg', { database_type: 'postgresql' });
    await expect(run(registerRestore, ['restore', '-i', 'inventory.yml', '-s', 'secrets.yml', file])).rejects.toThrow(/holds a postgresql database but the cluster uses sqlite/);
  });

  it('refuses a damaged backup even with --force', async () => {
    const file = await makeBackup('damaged');
    // The same archive with one byte of the database copy changed.
    const bytes = await readFile(file);
    const at = bytes.indexOf('SQLite format 3');
    bytes[at] = 'X'.charCodeAt(0);
    await writeFile(file, bytes);
    await expect(run(registerRestore, ['restore', '-i', 'inventory.yml', '-s', 'secrets.yml', '--force', file])).rejects.toThrow(/damaged/);
    await expect(fake.record()).rejects.toThrow(/ENOENT/);
  });

  it('runs prefect-restore.yml with the checked copy, migrating an older backup; --force overrides a refusal', async () => {
    const older = await makeBackup('older', { prefect_version: '3.4.10' });
    const ctx = await run(registerRestore, ['restore', '-i', 'inventory.yml', '-s', 'secrets.yml', older]);
    expect(ctx.exitCode).toBe(0);
    let rec = await fake.record();
    expect(rec.argv.at(-1)).toMatch(/prefect-restore\.yml$/);
    let vars = JSON.parse(rec.extraVarFiles[0]?.content ?? '{}') as Record<string, unknown>;
    expect(vars.prefect_restore_migrate).toBe(true);
    expect(vars.prefect_restore_sha256).toEqual({ __ansible_unsafe: await sha256File(join(fake.dir, 'work-older', 'prefect.db')) });
    expect(rec.extraVarFiles[0]?.mode).toBe('600');

    const newer = await makeBackup('newer2', { prefect_version: '3.5.0' });
    await run(registerRestore, ['restore', '-i', 'inventory.yml', '-s', 'secrets.yml', '--force', newer]);
    rec = await fake.record();
    vars = JSON.parse(rec.extraVarFiles[0]?.content ?? '{}') as Record<string, unknown>;
    expect(vars.prefect_restore_migrate).toBe(false);
    expect(reporter.errText()).toMatch(/warning: --force: the backup was taken with Prefect 3\.5\.0/);
  });

  it('says what is wrong with a file that is not a backup (exit 2)', async () => {
    await writeFile(join(fake.dir, 'notes.tar'), 'hello');
    await expect(run(registerRestore, ['restore', '-i', 'inventory.yml', '-s', 'secrets.yml', 'notes.tar'])).rejects.toMatchObject({ exitCode: ExitCode.usage });
  });
});

describe('pag-ansible backup (argument checks)', () => {
  it('rejects --keep 0 and refuses to overwrite an existing file', async () => {
    await expect(run(registerBackup, ['backup', '-i', 'inventory.yml', '-s', 'secrets.yml', '--keep', '0'])).rejects.toMatchObject({ exitCode: ExitCode.usage, message: expect.stringMatching(/--keep "0"/) });
    await writeFile(join(fake.dir, 'mine.tar'), 'precious');
    await expect(run(registerBackup, ['backup', '-i', 'inventory.yml', '-s', 'secrets.yml', '-f', 'mine.tar'])).rejects.toMatchObject({ exitCode: ExitCode.usage, message: expect.stringMatching(/never overwrites/) });
    expect(await readFile(join(fake.dir, 'mine.tar'), 'utf8')).toBe('precious');
  });
});

function deploymentRoutes(finalState: { type: string; name: string; message?: string }): void {
  api.routes.set('GET /deployments/name/my-flow/nightly', { status: 200, body: { id: 'd1', name: 'nightly', flow_id: 'f1' } });
  api.routes.set('POST /deployments/d1/create_flow_run', { status: 201, body: { id: 'r1', name: 'brave-fox', flow_id: 'f1', deployment_id: 'd1', state: { type: 'SCHEDULED', name: 'Scheduled' } } });
  let polls = 0;
  api.routes.set('GET /flow_runs/r1', () => {
    polls++;
    const state = polls === 1 ? { type: 'SCHEDULED', name: 'Scheduled' } : polls === 2 ? { type: 'RUNNING', name: 'Running' } : finalState;
    return { status: 200, body: { id: 'r1', name: 'brave-fox', flow_id: 'f1', deployment_id: 'd1', state } };
  });
  api.routes.set('POST /logs/filter', () => ({
    status: 200,
    body: polls >= 2 ? [{ id: 'l1', level: 20, message: 'Hello sbid 44641', timestamp: '2026-12-02T10:00:01Z', flow_run_id: 'r1' }] : [],
  }));
}

describe('pag-ansible flow-run', () => {
  const noSleep = async () => {};

  it('creates a run with typed parameters and, with --watch, exits 7 when it fails', async () => {
    deploymentRoutes({ type: 'FAILED', name: 'Failed', message: 'Flow run encountered an exception: ValueError' });
    const { flowRunAction } = await import('../../../src/commands/flow-run.js');
    const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env() };
    const p = flowRunAction('my-flow/nightly', { inventory: 'inventory.yml', secrets: 'secrets.yml', param: ['sbid=44641', 'workdir=/data/x'], watch: true }, ctx, {
      loadClusterOrThrow: (await import('../../../src/config/index.js')).loadClusterOrThrow,
      sleep: noSleep,
    });
    await expect(p).rejects.toMatchObject({ exitCode: 7, message: expect.stringMatching(/brave-fox \(r1\) ended Failed: Flow run encountered an exception: ValueError/) });
    expect(api.requests.find((r) => r.path === '/deployments/d1/create_flow_run')?.body).toEqual({ parameters: { sbid: 44641, workdir: '/data/x' } });
    const out = reporter.outs.join('\n');
    expect(out).toMatch(/state Scheduled[\s\S]*state Running[\s\S]*INFO Hello sbid 44641[\s\S]*state Failed/);
    expect(out.match(/Hello sbid/g)).toHaveLength(1);
  });

  it('exits 0 when the watched run completes, and right after creating it without --watch', async () => {
    deploymentRoutes({ type: 'COMPLETED', name: 'Completed' });
    const { flowRunAction } = await import('../../../src/commands/flow-run.js');
    const deps = { loadClusterOrThrow: (await import('../../../src/config/index.js')).loadClusterOrThrow, sleep: noSleep };
    const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env() };
    await flowRunAction('my-flow/nightly', { inventory: 'inventory.yml', secrets: 'secrets.yml', watch: true }, ctx, deps);
    expect(ctx.exitCode).toBe(0);
    const ctx2 = await run(registerFlowRun, ['flow-run', '-i', 'inventory.yml', '-s', 'secrets.yml', 'my-flow/nightly']);
    expect(ctx2.exitCode).toBe(0);
    expect(reporter.outs.at(-1)).toBe('flow run brave-fox (r1) of my-flow/nightly created');
  });

  it('exits 1 for an unknown deployment and 2 for a malformed one or --timeout without --watch', async () => {
    await expect(run(registerFlowRun, ['flow-run', '-i', 'inventory.yml', '-s', 'secrets.yml', 'my-flow/nope'])).rejects.toMatchObject({ exitCode: 1, message: 'the server has no deployment my-flow/nope' });
    await expect(run(registerFlowRun, ['flow-run', '-i', 'inventory.yml', '-s', 'secrets.yml', 'a/b/c'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(run(registerFlowRun, ['flow-run', '-i', 'inventory.yml', '-s', 'secrets.yml', 'x', '--timeout', '5'])).rejects.toMatchObject({ exitCode: 2, message: '--timeout needs --watch' });
    await expect(run(registerFlowRun, ['flow-run', '-i', 'inventory.yml', '-s', 'secrets.yml', 'x', '--param', '1x=2'])).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('pag-ansible flows and flow-remove', () => {
  beforeEach(() => {
    api.routes.set('POST /deployments/filter', {
      status: 200,
      body: [
        { id: 'd2', name: 'nightly', flow_id: 'f2', work_pool_name: 'gpu-pool', tags: ['holo'], entrypoint: 'main.py:predict' },
        { id: 'd1', name: 'nightly', flow_id: 'f1', work_pool_name: 'cpu-pool', tags: [], entrypoint: 'main.py:my_flow' },
      ],
    });
    api.routes.set('POST /flows/filter', { status: 200, body: [{ id: 'f1', name: 'my-flow' }, { id: 'f2', name: 'predict' }] });
  });

  it('lists deployments as a table and as JSON', async () => {
    await run(registerFlows, ['flows', '-i', 'inventory.yml', '-s', 'secrets.yml']);
    expect(reporter.outs[0]).toBe(
      ['DEPLOYMENT       WORK POOL  TAGS  ENTRYPOINT', 'my-flow/nightly  cpu-pool   -     main.py:my_flow', 'predict/nightly  gpu-pool   holo  main.py:predict'].join('\n'),
    );
    await run(registerFlows, ['flows', '-i', 'inventory.yml', '-s', 'secrets.yml', '--format', 'json']);
    expect(JSON.parse(reporter.outs[1] ?? '')).toHaveLength(2);
  });

  it('refuses an ambiguous bare name, deletes the deployment, then removes the files with prefect-flow-remove.yml', async () => {
    await expect(run(registerFlowRemove, ['flow-remove', '-i', 'inventory.yml', '-s', 'secrets.yml', 'nightly'])).rejects.toThrow(/nightly names 2 deployments: my-flow\/nightly, predict\/nightly/);
    api.routes.set('GET /deployments/name/my-flow/nightly', { status: 200, body: { id: 'd1', name: 'nightly', flow_id: 'f1' } });
    api.routes.set('DELETE /deployments/d1', { status: 204 });
    const ctx = await run(registerFlowRemove, ['flow-remove', '-i', 'inventory.yml', '-s', 'secrets.yml', 'my-flow/nightly']);
    expect(ctx.exitCode).toBe(0);
    expect(api.requests.some((r) => r.method === 'DELETE' && r.path === '/deployments/d1')).toBe(true);
    const rec = await fake.record();
    expect(rec.argv.at(-1)).toMatch(/prefect-flow-remove\.yml$/);
    expect(JSON.parse(rec.extraVarFiles[0]?.content ?? '{}')).toEqual({ deployment_name: { __ansible_unsafe: 'nightly' } });
  });

  it('still removes the files when the server no longer has the deployment', async () => {
    const ctx = await run(registerFlowRemove, ['flow-remove', '-i', 'inventory.yml', '-s', 'secrets.yml', 'my-flow/gone']);
    expect(ctx.exitCode).toBe(0);
    expect(reporter.errText()).toMatch(/no deployment my-flow\/gone; removing its files anyway/);
    expect((await fake.record()).argv.at(-1)).toMatch(/prefect-flow-remove\.yml$/);
  });
});
