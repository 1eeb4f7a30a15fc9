/**
 * Every deploy, proven on booted hosts: a Prefect server and two workers (one with GPUs), SQLite, the Prefect
 * environment from a pixi-pack tarball. The tests run in order and build on each other, as an operator would:
 * deploy the server, the workers, re-run, deploy flows, join a worker, then break things.
 * Prefect and pixi-unpack are the test doubles in test/doubles: pixi and pixi-pack cannot be installed here, and
 * what this suite proves needs packed environments (two Prefect versions to upgrade between, flows with their own).
 * The real Prefect 3.4.25 is deployed by the real-prefect suites.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { harnessAvailable, startCluster, type Cluster } from './harness/cluster.js';
import {
  AUTH,
  api,
  buildArtefacts,
  changedTasks,
  expectSuccess,
  fileMode,
  pag,
  totalChanged,
  waitFor,
  writeFlow,
  writePagInventory,
  writeSecrets,
  type Artefacts,
  type InventorySpec,
} from './support.js';

jest.setTimeout(20 * 60_000);

const SERVER = 'pag-server';
const W1 = 'pag-worker-1';
const W2 = 'pag-worker-2';
const W3 = 'pag-worker-3';

let cluster: Cluster;
let artefacts: Artefacts;
let work: string;
let baseUrl: string;
let spec: InventorySpec;

const inv = () => path.join(work, 'inventory.yml');
const run = (...args: string[]) => pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
const hostExec = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);

/** The double's migration log (source from to), kept in its SQLite store like real Prefect's alembic_version. */
async function migrations(): Promise<string[]> {
  const q = "import sqlite3; [print(*r) for r in sqlite3.connect('/var/lib/prefect/prefect.db').execute('SELECT source, from_version, to_version FROM test_double_migrations ORDER BY rowid')]";
  return (await hostExec(SERVER, `python3 -c "${q}"`)).stdout.split('\n').filter(Boolean);
}

async function writeInventory(): Promise<void> {
  await writePagInventory(cluster, inv(), spec, artefacts);
}

/** The inventory installs Prefect VERSION, from its pixi-pack tarball among the test artefacts. */
async function usePrefect(version: string): Promise<void> {
  spec.vars = {
    ...spec.vars,
    prefect_version: version,
    prefect_environment: { source: 'pixi-pack', pixi_pack_tarball: artefacts.prefectEnv(version), pixi_unpack_binary: artefacts.pixiUnpack },
  };
  await writeInventory();
}

/** The main PIDs of the server and of W1's cpu-pool worker. */
async function mainPids(): Promise<string[]> {
  const units: [string, string][] = [[SERVER, 'prefect-server'], [W1, 'prefect-worker-cpu-pool']];
  return Promise.all(units.map(async ([h, unit]) => (await hostExec(h, `systemctl show -p MainPID --value ${unit}`)).stdout.trim()));
}

interface Deployment {
  id: string;
  name: string;
  work_pool_name: string;
  parameters: Record<string, unknown>;
  pull_steps: Record<string, { directory?: string }>[] | null;
  job_variables: { command?: string; working_dir?: string; env?: Record<string, string> };
  schedules: { schedule: { cron?: string; interval?: number } }[];
}

async function workersOf(pool: string): Promise<{ name: string; status: string }[]> {
  const r = await api<{ name: string; status: string }[]>(baseUrl, 'POST', `/work_pools/${pool}/workers/filter`, {});
  expect(r.status).toBe(200);
  return r.body;
}

async function runDeployment(flowName: string, deployment: string, parameters?: Record<string, unknown>) {
  const d = await api<Deployment>(baseUrl, 'GET', `/deployments/name/${flowName}/${deployment}`);
  expect(d.status).toBe(200);
  const created = await api<{ id: string }>(baseUrl, 'POST', `/deployments/${d.body.id}/create_flow_run`, parameters ? { parameters } : {});
  expect(created.status).toBe(201);
  return waitFor(
    `flow run of ${flowName}/${deployment} to finish`,
    async () => {
      const fr = await api<{ state_type: string; state?: { type: string } }>(baseUrl, 'GET', `/flow_runs/${created.body.id}`);
      const state = fr.body.state_type ?? fr.body.state?.type;
      if (['FAILED', 'CRASHED', 'CANCELLED'].includes(state)) throw new Error(`flow run ended ${state}`);
      return state === 'COMPLETED' ? fr.body : undefined;
    },
    120_000,
    1_000,
  );
}

/** The JSON the test flow writes into its working directory, from whichever worker of `hosts` ran it. */
async function flowOutput(hosts: string[], deployment: string): Promise<Record<string, unknown> & { host: string }> {
  for (const h of hosts) {
    const r = await hostExec(h, `cat /opt/prefect/flows/${deployment}/code/flow-output.json 2>/dev/null`);
    if (r.code === 0 && r.stdout.trim()) return JSON.parse(r.stdout);
  }
  throw new Error(`no flow output for ${deployment} on ${hosts.join(', ')}`);
}

beforeAll(async () => {
  const ok = harnessAvailable();
  if (!ok.ok) throw new Error(`the integration suite needs root and systemd-nspawn: ${ok.reason}`);
  artefacts = buildArtefacts();
  cluster = await startCluster({ name: 'pagc', hosts: [SERVER, W1, W2], subnet: 1 });
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-it-'));
  baseUrl = `http://${cluster.host(SERVER).ip}:4200/api`;
  spec = { server: SERVER, workers: { [W1]: { pools: ['cpu-pool'] }, [W2]: { pools: ['cpu-pool', 'gpu-pool'], gpuIds: [0, 1] } } };
  await writeInventory();
  await writeSecrets(path.join(work, 'secrets.yml'));
}, 15 * 60_000);

afterAll(async () => {
  if (cluster) await cluster.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('scenario 1: the server', () => {
  it('run --tags prefect-server deploys a ready server with the inventory pools', async () => {
    const r = expectSuccess(await run('--tags', 'prefect-server'));
    expect(r.recap[SERVER]).toMatchObject({ failed: 0, unreachable: 0 });
    expect(r.recap[SERVER]!.changed).toBeGreaterThan(0);
    // The tag kept the workers out: Ansible only validated their role arguments there (ansible/ansible#82505).
    expect(r.recap[W1]?.changed ?? 0).toBe(0);
    expect((await hostExec(W1, 'ls /etc/systemd/system/ | grep -c prefect || true')).stdout.trim()).toBe('0');
    // Nor did the environment play, which carries both tags, reach them: no account, no environment.
    for (const w of [W1, W2]) expect(`${w} ${(await hostExec(w, 'getent passwd prefect; ls -d /opt/prefect 2>/dev/null; true')).stdout.trim()}`).toBe(`${w} `);

    expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
    expect((await api(baseUrl, 'GET', '/work_pools/cpu-pool', undefined, null)).status).toBe(401);
    expect((await api(baseUrl, 'GET', '/work_pools/cpu-pool', undefined, 'admin:wrong')).status).toBe(401);
    const cpu = await api<{ type: string; concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool');
    expect(cpu.body).toMatchObject({ type: 'process', concurrency_limit: 8 });
    const gpu = await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/gpu-pool');
    expect(gpu.body.concurrency_limit).toBe(2);
  });

  it('runs prefect-server under systemd, enabled, with secrets only in root-owned 0600 files', async () => {
    expect((await hostExec(SERVER, 'systemctl is-active prefect-server')).stdout.trim()).toBe('active');
    expect((await hostExec(SERVER, 'systemctl is-enabled prefect-server')).stdout.trim()).toBe('enabled');
    const secret = AUTH.split(':')[1] as string;
    // Every file on the host that holds the password, in whatever quoting (search the places a deployment writes).
    const found = await hostExec(SERVER, `grep -rlF -- 'It-is-a-s3cret' /etc /opt /var/lib/prefect /root /tmp /home 2>/dev/null || true`);
    const files = found.stdout.split('\n').filter(Boolean);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const st = (await hostExec(SERVER, `stat -c '%a %U %G' '${f}'`)).stdout.trim();
      expect(`${f} ${st}`).toBe(`${f} 600 root root`);
    }
    const unit = (await hostExec(SERVER, 'systemctl cat prefect-server')).stdout;
    expect(unit).toContain('EnvironmentFile=');
    expect(unit).not.toContain(secret);
    // The server process really got its settings: analytics off, UI pointed at the real address.
    const state = JSON.parse((await hostExec(SERVER, 'cat /var/lib/prefect/prefect-test-double-server.json')).stdout);
    expect(state).toMatchObject({ analytics_enabled: false, auth_enabled: true, ui_api_url: baseUrl });
  });
});

describe('scenario 2: the workers', () => {
  it('run --tags prefect-worker starts one registered worker per (host, pool)', async () => {
    const r = expectSuccess(await run('--tags', 'prefect-worker'));
    for (const h of [W1, W2]) expect(r.recap[h]).toMatchObject({ failed: 0, unreachable: 0 });
    expect(r.recap[SERVER]?.changed ?? 0).toBe(0);
    // The environment play, which carries both tags, left the server at its first task: only the server play's role
    // argument validation (tagged always, ansible/ansible#82505) ran there.
    expect(r.recap[SERVER]?.ok ?? 0).toBeLessThanOrEqual(1);
    for (const [host, unit] of [[W1, 'prefect-worker-cpu-pool'], [W2, 'prefect-worker-cpu-pool'], [W2, 'prefect-worker-gpu-pool']] as const) {
      expect(`${host} ${(await hostExec(host, `systemctl is-active ${unit}`)).stdout.trim()}`).toBe(`${host} active`);
      expect(`${host} ${(await hostExec(host, `systemctl is-enabled ${unit}`)).stdout.trim()}`).toBe(`${host} enabled`);
    }
    expect((await hostExec(W1, 'systemctl list-units --all --plain --no-legend "prefect-worker-*"')).stdout).not.toContain('gpu-pool');
    const cpuWorkers = await waitFor('cpu-pool workers online', async () => {
      const ws = await workersOf('cpu-pool');
      return ws.filter((w) => w.status === 'ONLINE').length >= 2 ? ws : undefined;
    });
    expect(cpuWorkers.map((w) => w.name).sort()).toEqual([`${W1}-cpu-pool`, `${W2}-cpu-pool`]);
    const gpuWorkers = await waitFor('gpu-pool worker online', async () => {
      const ws = await workersOf('gpu-pool');
      return ws.some((w) => w.status === 'ONLINE') ? ws : undefined;
    });
    expect(gpuWorkers.map((w) => w.name)).toEqual([`${W2}-gpu-pool`]);
  });

  it('exports the GPU ids to the GPU pool worker only, and creates a concurrency limit per GPU', async () => {
    const environOf = async (unit: string) => {
      const pid = (await hostExec(W2, `systemctl show -p MainPID --value ${unit}`)).stdout.trim();
      return (await hostExec(W2, `tr '\\0' '\\n' < /proc/${pid}/environ`)).stdout;
    };
    expect(await environOf('prefect-worker-gpu-pool')).toMatch(/^CUDA_VISIBLE_DEVICES=0,1$/m);
    expect(await environOf('prefect-worker-cpu-pool')).not.toMatch(/^CUDA_VISIBLE_DEVICES=/m);
    for (const id of [0, 1]) {
      const gcl = await api<{ limit: number }>(baseUrl, 'GET', `/v2/concurrency_limits/gpu-${W2}-${id}`);
      expect(gcl.status).toBe(200);
      expect(gcl.body.limit).toBe(1);
    }
  });

  it('the server play keeps every worker host\'s GPU limits: one deleted by hand is back after a server-only run', async () => {
    expect((await api(baseUrl, 'DELETE', `/v2/concurrency_limits/gpu-${W2}-1`)).status).toBe(204);
    const r = await run('--tags', 'prefect-server');
    expectSuccess(r);
    expect(changedTasks(r.stdout).map((l) => l.slice(0, l.indexOf(': changed'))).filter((t, i, all) => all.indexOf(t) === i)).toEqual([
      'prefect_server : Create the missing GPU concurrency limits',
    ]);
    expect(totalChanged(r)).toBe(1);
    expect((await api<{ limit: number }>(baseUrl, 'GET', `/v2/concurrency_limits/gpu-${W2}-1`)).body.limit).toBe(1);
  });
});

describe('scenario 3 and 7: idempotence, check mode, vault', () => {
  it('a second full run changes nothing (with a vault-encrypted secrets file)', async () => {
    const vaultPass = path.join(work, 'vault-pass');
    await writeFile(vaultPass, 'correct horse battery staple\n', { mode: 0o600 });
    await writeSecrets(path.join(work, 'secrets.vault.yml'));
    execFileSync('ansible-vault', ['encrypt', '--vault-password-file', vaultPass, path.join(work, 'secrets.vault.yml')]);
    expect(readFileSync(path.join(work, 'secrets.vault.yml'), 'utf8')).toMatch(/^\$ANSIBLE_VAULT;/);

    const r = await pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.vault.yml', '--vault-password-file', 'vault-pass'], work);
    expectSuccess(r);
    expect(changedTasks(r.stdout)).toEqual([]);
    expect(totalChanged(r)).toBe(0);
    for (const h of [SERVER, W1, W2]) expect(r.recap[h]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
  });

  it('a wrong vault password is refused before Ansible touches a host', async () => {
    await writeFile(path.join(work, 'wrong-pass'), 'nope\n', { mode: 0o600 });
    const r = await pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.vault.yml', '--vault-password-file', 'wrong-pass'], work);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('secrets.vault.yml');
    expect(r.recap).toEqual({});
  });

  it('run --check --diff on the deployed cluster reports no changes', async () => {
    const r = expectSuccess(await run('--check', '--diff'));
    expect(changedTasks(r.stdout)).toEqual([]);
    expect(totalChanged(r)).toBe(0);
  });
});

describe('scenario 5: flows', () => {
  const cpuFlow = () => path.join(work, 'flows', 'cpu-demo');
  const gpuFlow = () => path.join(work, 'flows', 'gpu-demo');

  it('deploys a flow with its own packed environment to the CPU pool, and a run of it completes', async () => {
    await writeFlow(cpuFlow(), { func: 'my_workflow', marker: 'v1', packedEnv: artefacts.flowEnv });
    const r = expectSuccess(
      await pag(
        cluster,
        ['deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', '--flow-dir', cpuFlow(), '--entrypoint', 'main.py:my_workflow', '--work-pool', 'cpu-pool', '--param', 'name=pag', '--param', 'count=3', '--cron', '0 3 * * *'],
        work,
      ),
    );
    expect(r.stderr + r.stdout).toMatch(/packed/i);
    const d = await api<Deployment>(baseUrl, 'GET', '/deployments/name/my-workflow/my_workflow');
    expect(d.status).toBe(200);
    const code = '/opt/prefect/flows/my_workflow/code';
    expect(d.body.work_pool_name).toBe('cpu-pool');
    expect(d.body.parameters).toEqual({ name: 'pag', count: 3 });
    expect(d.body.pull_steps).toEqual([{ 'prefect.deployments.steps.set_working_directory': { directory: code } }]);
    expect(d.body.job_variables.working_dir).toBe(code);
    expect(d.body.job_variables.command).toContain('/opt/prefect/flows/my_workflow/env/bin/python');
    expect(d.body.schedules.map((s) => s.schedule.cron)).toEqual(['0 3 * * *']);

    await runDeployment('my-workflow', 'my_workflow');
    const out = await flowOutput([W1, W2], 'my_workflow');
    expect(out).toMatchObject({ marker: 'v1', name: 'pag', count: 3, cwd: code, cuda: null, extra_loggers: 'pipeline' });
    expect(out.python).toMatch(/^\/opt\/prefect\/flows\/my_workflow\/env\/bin\/python/);
    // Both CPU workers have the flow and its environment.
    for (const h of [W1, W2]) expect((await hostExec(h, 'test -x /opt/prefect/flows/my_workflow/env/bin/python && test -f /opt/prefect/flows/my_workflow/code/main.py')).code).toBe(0);
  });

  it('deploys a flow without a packed environment to the GPU pool; it runs on the GPU worker with its GPUs', async () => {
    await writeFlow(gpuFlow(), { func: 'gpu_flow', marker: 'gpu' });
    const r = expectSuccess(
      await pag(cluster, ['deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', '--flow-dir', gpuFlow(), '--entrypoint', 'main.py:gpu_flow', '--work-pool', 'gpu-pool', '--interval', '600'], work),
    );
    expect(r.stderr + r.stdout).toMatch(/workers' own Prefect environment|no packed env/i);
    const d = await api<Deployment>(baseUrl, 'GET', '/deployments/name/gpu-flow/gpu_flow');
    expect(d.body.work_pool_name).toBe('gpu-pool');
    expect(d.body.schedules.map((s) => s.schedule.interval)).toEqual([600]);
    await runDeployment('gpu-flow', 'gpu_flow');
    const out = await flowOutput([W2], 'gpu_flow');
    expect(out).toMatchObject({ marker: 'gpu', host: W2, cuda: '0,1' });
    expect((await hostExec(W1, 'test -e /opt/prefect/flows/gpu_flow')).code).not.toBe(0); // not a gpu-pool worker
  });

  it('re-deploying an unchanged flow changes nothing; a changed flow updates the deployment', async () => {
    const args = ['deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', '--flow-dir', cpuFlow(), '--entrypoint', 'main.py:my_workflow', '--work-pool', 'cpu-pool', '--param', 'name=pag', '--param', 'count=3', '--cron', '0 3 * * *'];
    const same = expectSuccess(await pag(cluster, args, work));
    expect(changedTasks(same.stdout)).toEqual([]);
    expect(totalChanged(same)).toBe(0);

    await writeFlow(cpuFlow(), { func: 'my_workflow', marker: 'v2', packedEnv: artefacts.flowEnv });
    const args2 = args.map((a) => (a === 'count=3' ? 'count=4' : a));
    expectSuccess(await pag(cluster, args2, work));
    const d = await api<Deployment>(baseUrl, 'GET', '/deployments/name/my-workflow/my_workflow');
    expect(d.body.parameters).toEqual({ name: 'pag', count: 4 });
    for (const h of [W1, W2]) await hostExec(h, 'rm -f /opt/prefect/flows/my_workflow/code/flow-output.json');
    await runDeployment('my-workflow', 'my_workflow');
    expect(await flowOutput([W1, W2], 'my_workflow')).toMatchObject({ marker: 'v2', count: 4 });
  });
});

describe('scenario 4: joining a worker', () => {
  it('run --tags prefect-worker --limit NEW serves its pools and installs the flows already deployed to them', async () => {
    await cluster.addHost(W3);
    spec.workers[W3] = { pools: ['cpu-pool'] };
    await writeInventory();
    const r = expectSuccess(await run('--tags', 'prefect-worker', '--limit', W3));
    expect(Object.keys(r.recap).filter((h) => h !== 'localhost')).toEqual([W3]);
    expect((await hostExec(W3, 'systemctl is-active prefect-worker-cpu-pool')).stdout.trim()).toBe('active');
    await waitFor('the new worker online', async () => (await workersOf('cpu-pool')).some((w) => w.name === `${W3}-cpu-pool` && w.status === 'ONLINE'));
    expect((await hostExec(W3, 'test -x /opt/prefect/flows/my_workflow/env/bin/python && grep -q v2 /opt/prefect/flows/my_workflow/code/main.py')).code).toBe(0);
    expect((await hostExec(W3, 'test -e /opt/prefect/flows/gpu_flow')).code).not.toBe(0);
  });

  it("a pool taken off a host stops and removes that worker only, its record in Prefect and the pool's flows too; the host keeps serving its other pools", async () => {
    const workerFiles = async () =>
      (await hostExec(W3, 'ls /etc/systemd/system /etc/prefect | grep "^prefect-worker-" | sort')).stdout.split('\n').filter(Boolean);
    spec.workers[W3] = { pools: ['cpu-pool', 'gpu-pool'], gpuIds: [0] };
    await writeInventory();
    expectSuccess(await run('--tags', 'prefect-worker', '--limit', W3));
    expect((await hostExec(W3, 'systemctl is-active prefect-worker-gpu-pool')).stdout.trim()).toBe('active');
    expect((await api<{ limit: number }>(baseUrl, 'GET', `/v2/concurrency_limits/gpu-${W3}-0`)).body.limit).toBe(1);
    await waitFor('the gpu-pool worker registered', async () => (await workersOf('gpu-pool')).some((w) => w.name === `${W3}-gpu-pool`));
    expect((await hostExec(W3, 'test -f /opt/prefect/flows/gpu_flow/code/main.py')).code).toBe(0);
    const cpuPid = (await hostExec(W3, 'systemctl show -p MainPID --value prefect-worker-cpu-pool')).stdout.trim();

    spec.workers[W3] = { pools: ['cpu-pool'] };
    await writeInventory();
    const r = expectSuccess(await run('--tags', 'prefect-worker', '--limit', W3));
    expect(r.recap[W3]!.changed).toBeGreaterThan(0);
    expect(await workerFiles()).toEqual(['prefect-worker-cpu-pool.env', 'prefect-worker-cpu-pool.service']);
    expect((await hostExec(W3, 'systemctl is-active prefect-worker-gpu-pool')).stdout.trim()).not.toBe('active');
    expect((await hostExec(W3, 'systemctl show -p MainPID --value prefect-worker-cpu-pool')).stdout.trim()).toBe(cpuPid);
    // Not left listed as OFFLINE in the pool for good; the other hosts' workers of the pool stay.
    const gpuWorkers = (await workersOf('gpu-pool')).map((w) => w.name);
    expect(gpuWorkers).not.toContain(`${W3}-gpu-pool`);
    expect(gpuWorkers).toContain(`${W2}-gpu-pool`);
    // The pool's flows go with it; the flows of the pools the host still serves stay.
    expect((await hostExec(W3, 'test -e /opt/prefect/flows/gpu_flow')).code).not.toBe(0);
    expect((await hostExec(W3, 'test -f /opt/prefect/flows/my_workflow/code/main.py')).code).toBe(0);
    expect(expectSuccess(await run('--tags', 'prefect-worker', '--limit', W3)).recap[W3]!.changed).toBe(0);
  });
});

describe('scenario 6: faults', () => {
  it('a killed server is restarted by systemd and the workers reconnect', async () => {
    const pid = (await hostExec(SERVER, 'systemctl show -p MainPID --value prefect-server')).stdout.trim();
    expect(Number(pid)).toBeGreaterThan(0);
    await hostExec(SERVER, `kill -9 ${pid}`);
    await waitFor('a new server process', async () => {
      const p = (await hostExec(SERVER, 'systemctl show -p MainPID --value prefect-server')).stdout.trim();
      return p !== pid && p !== '0' ? p : undefined;
    }, 60_000);
    await waitFor('the server ready again', async () => (await api(baseUrl, 'GET', '/ready', undefined, null)).status === 200, 90_000);
    // Heartbeats after the restart: each worker's last heartbeat is newer than the restart.
    const restartedAt = Date.now();
    await waitFor('every worker heartbeating again', async () => {
      const ws = await api<{ name: string; last_heartbeat_time: string }[]>(baseUrl, 'POST', '/work_pools/cpu-pool/workers/filter', {});
      const fresh = ws.body.filter((w) => Date.parse(w.last_heartbeat_time) >= restartedAt - 1000);
      return fresh.length >= 3 ? fresh : undefined;
    }, 60_000);
  });

  it('re-running the server role keeps the pools and the deployments', async () => {
    const before = await api<unknown[]>(baseUrl, 'POST', '/deployments/filter', {});
    expect(before.body.length).toBe(2);
    const r = expectSuccess(await run('--tags', 'prefect-server'));
    expect(r.recap[SERVER]!.changed).toBe(0);
    const after = await api<{ name: string }[]>(baseUrl, 'POST', '/deployments/filter', {});
    expect(after.body.map((d) => d.name).sort()).toEqual(['gpu_flow', 'my_workflow']);
    expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool')).body.concurrency_limit).toBe(8);
  });

  it('changing a pool limit in the inventory updates the pool', async () => {
    (spec.vars ??= {}).prefect_work_pools = {
      'cpu-pool': { concurrency_limit: 5, env: { PREFECT_WORKER_HEARTBEAT_SECONDS: '3', PREFECT_WORKER_QUERY_SECONDS: '2', PREFECT_LOGGING_EXTRA_LOGGERS: 'pipeline' } },
      'gpu-pool': { concurrency_limit: 2, gpu: true, env: { PREFECT_WORKER_HEARTBEAT_SECONDS: '3', PREFECT_WORKER_QUERY_SECONDS: '2' } },
    };
    await writeInventory();
    const r = expectSuccess(await run('--tags', 'prefect-server'));
    expect(r.recap[SERVER]!.changed).toBeGreaterThan(0);
    expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool')).body.concurrency_limit).toBe(5);
  });

  it('a dry run of the upgrade (run --check --diff) reports the changes and leaves every host, the database and the controller as they were', async () => {
    await usePrefect('3.4.12');
    const before = { pids: await mainPids(), migrations: await migrations() };
    const r = expectSuccess(await run('--check', '--diff'));
    // What the upgrade would do is reported, host by host: the new environment, the database's migration.
    expect(r.recap[SERVER]!.changed).toBeGreaterThan(0);
    expect(r.recap[W1]!.changed).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/TASK \[prefect_server : Migrate the database to Prefect 3\.4\.12\]/);
    // Nothing moved: no new environment, the links, the database and its recorded version, the running processes.
    for (const h of [SERVER, W1]) {
      expect((await hostExec(h, 'ls /opt/prefect/versions')).stdout.split('\n').filter(Boolean)).toEqual(['3.4.11-pixi-pack']);
      expect((await hostExec(h, 'readlink -f /opt/prefect/current')).stdout.trim()).toBe('/opt/prefect/versions/3.4.11-pixi-pack');
    }
    expect((await hostExec(SERVER, 'cat /var/lib/prefect/.pag-database-version')).stdout).toBe('3.4.11\n');
    expect(await migrations()).toEqual(before.migrations);
    expect(await mainPids()).toEqual(before.pids);
    expect((await api<string>(baseUrl, 'GET', '/admin/version')).body).toBe('3.4.11');
    for (const pool of ['cpu-pool', 'gpu-pool']) expect((await api<{ is_paused: boolean }>(baseUrl, 'GET', `/work_pools/${pool}`)).body.is_paused).toBe(false);
    // No backup was taken: a dry run fetches nothing.
    expect(await readdir(path.join(work, 'backups')).catch(() => [])).toEqual([]);
  });

  it('upgrading Prefect installs the new environment beside the old one, backs up and migrates the database once, and restarts onto it', async () => {
    await usePrefect('3.4.12');
    const [oldServerPid, oldWorkerPid] = await mainPids();
    const upgrade = expectSuccess(await run());
    // A backup of the 3.4.11 database was fetched before the migration and kept beside the inventory.
    expect(upgrade.stderr).toMatch(/before migrating the database from Prefect 3\.4\.11, a backup was taken: backups\/prefect-backup-\d{8}T\d{6}Z\.tar/);
    const backups = (await readdir(path.join(work, 'backups'))).filter((f) => f.endsWith('.tar'));
    expect(backups).toHaveLength(1);
    expect(fileMode(path.join(work, 'backups', backups[0] as string))).toBe(0o600);
    const version = await waitFor('the upgraded server', async () => {
      const v = await api<string>(baseUrl, 'GET', '/admin/version'); // the package version (/version is the API's)
      return v.status === 200 && v.body === '3.4.12' ? v.body : undefined;
    }, 90_000);
    expect(version).toBe('3.4.12');
    const [newServerPid, newWorkerPid] = await mainPids();
    expect(newServerPid).not.toBe(oldServerPid);
    expect(newWorkerPid).not.toBe(oldWorkerPid);
    // The workers moved one pool at a time: cpu-pool paused, restarted on every host, heard from and resumed before
    // gpu-pool was touched; and both pools serve again.
    const turns = [...upgrade.stdout.matchAll(/^TASK \[prefect_worker : (Pause the pool|Restart the pool's workers|Wait until every restarted worker|Resume the pool)[^:]*: ([\w-]+)\]/gm)]
      .map((m) => `${m[1]} ${m[2]}`);
    expect(turns).toEqual(['cpu-pool', 'gpu-pool'].flatMap((p) => ['Pause the pool', "Restart the pool's workers", 'Wait until every restarted worker', 'Resume the pool'].map((t) => `${t} ${p}`)));
    for (const pool of ['cpu-pool', 'gpu-pool']) expect((await api<{ is_paused: boolean }>(baseUrl, 'GET', `/work_pools/${pool}`)).body.is_paused).toBe(false);
    for (const h of [SERVER, W1]) {
      const versions = (await hostExec(h, 'ls /opt/prefect/versions')).stdout.split('\n').filter(Boolean).sort();
      expect(versions).toEqual(['3.4.11-pixi-pack', '3.4.12-pixi-pack']);
      expect((await hostExec(h, 'readlink -f /opt/prefect/current')).stdout.trim()).toBe('/opt/prefect/versions/3.4.12-pixi-pack');
    }
    const workerVersion = (await hostExec(W1, '/opt/prefect/current/env/bin/prefect version')).stdout;
    expect(workerVersion).toMatch(/Version:\s+3\.4\.12/);
    // Data survived the upgrade.
    expect(((await api<unknown[]>(baseUrl, 'POST', '/deployments/filter', {})).body).length).toBe(2);
    // The migration ran once, by `prefect server database upgrade`, never at start-up; a re-run does not repeat it.
    expectSuccess(await run('--tags', 'prefect-server'));
    expect((await migrations()).filter((m) => m.endsWith('3.4.12'))).toEqual(['cli 3.4.11 3.4.12']);
    expect((await migrations()).filter((m) => m.startsWith('start'))).toEqual([]);
    expect((await hostExec(SERVER, 'cat /var/lib/prefect/.pag-database-version')).stdout).toBe('3.4.12\n');
  });

  it('going back to an older Prefect is refused before anything changes, unless --allow-downgrade', async () => {
    await usePrefect('3.4.11');
    try {
      const r = await run('--tags', 'prefect-server');
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/The database of pag-server was migrated by Prefect 3\.4\.12, and this inventory installs 3\.4\.11/);
      expect((await hostExec(SERVER, 'readlink -f /opt/prefect/current')).stdout.trim()).toBe('/opt/prefect/versions/3.4.12-pixi-pack');
      expect((await api<string>(baseUrl, 'GET', '/admin/version')).body).toBe('3.4.12');
    } finally {
      await usePrefect('3.4.12');
    }
  });

  it('a worker host going down: named with its reason, nothing changed (exit 4); --skip-unreachable deploys the others', async () => {
    await cluster.stopHost(W1, { kill: true });
    const r = await run('--tags', 'prefect-worker');
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^  ${W1}: unreachable: `, 'm'));
    expect(r.stderr).toContain('nothing was changed');
    expect(r.recap).toEqual({}); // no play ran
    const skipped = await run('--tags', 'prefect-worker', '--skip-unreachable');
    expect(skipped.code).toBe(0);
    expect(skipped.recap[W1]).toBeUndefined();
    for (const h of [W2, W3]) expect(skipped.recap[h]).toMatchObject({ failed: 0, unreachable: 0 });
  });
});

afterAll(() => {
  // Nothing of the suite may stay behind on this machine.
  if (existsSync('/run/netns/pagc-pag-server')) throw new Error('network namespace left behind');
  void readFile;
});
