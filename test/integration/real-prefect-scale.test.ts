/**
 * Issue #11 item 3 on real Prefect 3.4.25: a tuned local PostgreSQL, a local Redis, two API processes
 * (`prefect server start --workers 2 --no-services`) and the background services in a unit of their own
 * (`prefect server services start`), the OS packages from a local apt repository (prefect_apt_repository) as on
 * an air-gapped site. Shows the settings in effect on the host, Redis guarded by its password and used by Prefect,
 * a flow run to Completed, and a re-run changed=0.
 */
import { jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildOfflineRepo, harnessAvailable, startCluster, type Cluster } from './harness/cluster.js';
import {
  api,
  changedTasks,
  DB_PASSWORD,
  expectSuccess,
  FAST_WORKER_ENV,
  pag,
  REAL_PREFECT_VERSION,
  realPrefectBase,
  realPrefectVars,
  REDIS_PASSWORD,
  totalChanged,
  waitFor,
  writeFlow,
  writePagInventory,
  writeSecrets,
} from './support.js';

jest.setTimeout(20 * 60_000);

const SERVER = 'ps-server';
const WORKER = 'ps-worker-1';
const MAX_CONNECTIONS = 120;

let cluster: Cluster;
let work: string;
let baseUrl: string;
const sh = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);
const run = (...args: string[]) => pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
const redisCli = (args: string) => sh(SERVER, `REDISCLI_AUTH='${REDIS_PASSWORD}' redis-cli --no-auth-warning ${args}`);

beforeAll(async () => {
  const ok = harnessAvailable();
  if (!ok.ok) throw new Error(`the integration suite needs root and systemd-nspawn: ${ok.reason}`);
  // PostgreSQL and Redis come from a local repository the roles make the hosts' apt source: the hosts are offline.
  const repo = await buildOfflineRepo(['postgresql', 'redis-server'], realPrefectBase());
  cluster = await startCluster({ name: 'pags', hosts: [SERVER, WORKER], subnet: 7, base: realPrefectBase() });
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-it-pags-'));
  baseUrl = `http://${cluster.host(SERVER).ip}:4200/api`;
  await writePagInventory(cluster, path.join(work, 'inventory.yml'), {
    server: SERVER,
    workers: { [WORKER]: { pools: ['cpu-pool'] } },
    vars: {
      ...realPrefectVars(),
      prefect_apt_repository: repo,
      prefect_api: { url: baseUrl, processes: 2, services: 'separate' },
      prefect_database: {
        type: 'postgresql',
        mode: 'local',
        pool_size: 5,
        max_overflow: 10,
        timeout: 30,
        postgresql_conf: { max_connections: MAX_CONNECTIONS, shared_buffers: '64MB', work_mem: '8MB', synchronous_commit: 'off' },
      },
      prefect_redis: { mode: 'local' },
      prefect_work_pools: { 'cpu-pool': { concurrency_limit: 2, env: FAST_WORKER_ENV } },
    },
  });
  await writeSecrets(path.join(work, 'secrets.yml'), true, true);
}, 20 * 60_000);

afterAll(async () => {
  if (cluster) await cluster.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`real Prefect ${REAL_PREFECT_VERSION} scaled out: 2 API processes, separate services, local Redis`, () => {
  it('the server play sets up PostgreSQL, Redis and both units; the API is ready', async () => {
    const r = expectSuccess(await run('--tags', 'prefect-server'));
    expect(r.recap[SERVER]).toMatchObject({ failed: 0, unreachable: 0 });
    expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
    expect((await api<string>(baseUrl, 'GET', '/admin/version')).body).toBe(REAL_PREFECT_VERSION);
  });

  it('the tuning is in effect: SHOW max_connections', async () => {
    const q = await cluster.execOk(SERVER, ['sh', '-c', 'runuser -u postgres -- psql -XAtq -c "SHOW max_connections"']);
    expect(q.stdout.trim()).toBe(String(MAX_CONNECTIONS));
  });

  it('both units are active, with --workers 2 --no-services and prefect server services start, from server.env', async () => {
    for (const unit of ['prefect-server', 'prefect-server-services', 'redis-server']) {
      expect(`${unit} ${(await sh(SERVER, `systemctl is-active ${unit}`)).stdout.trim()}`).toBe(`${unit} active`);
    }
    const exec = async (unit: string) => (await sh(SERVER, `systemctl show -p ExecStart --value ${unit}`)).stdout;
    expect(await exec('prefect-server')).toMatch(/argv\[\]=\/opt\/prefect\/current\/bin\/prefect server start --workers 2 --no-services ;/);
    expect(await exec('prefect-server-services')).toMatch(/argv\[\]=\/opt\/prefect\/current\/bin\/prefect server services start ;/);
    for (const unit of ['prefect-server', 'prefect-server-services']) {
      expect((await sh(SERVER, `systemctl show -p EnvironmentFiles --value ${unit}`)).stdout).toMatch(/^\/etc\/prefect\/server\.env /);
      expect((await sh(SERVER, `systemctl show -p ProtectSystem --value ${unit}`)).stdout.trim()).toBe('strict');
    }
    // The running processes have Redis as broker, cache, ordering and lease storage (read from their environment).
    for (const unit of ['prefect-server', 'prefect-server-services']) {
      const pid = (await sh(SERVER, `systemctl show -p MainPID --value ${unit}`)).stdout.trim();
      const env = (await sh(SERVER, `tr '\\0' '\\n' < /proc/${pid}/environ`)).stdout;
      expect(env).toMatch(/^PREFECT_MESSAGING_BROKER=prefect_redis\.messaging$/m);
      expect(env).toMatch(/^PREFECT_MESSAGING_CACHE=prefect_redis\.messaging$/m);
      expect(env).toMatch(/^PREFECT_SERVER_EVENTS_CAUSAL_ORDERING=prefect_redis\.ordering$/m);
      expect(env).toMatch(/^PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect_redis\.lease_storage$/m);
      expect(env).toMatch(/^PREFECT_REDIS_MESSAGING_HOST=127\.0\.0\.1$/m);
      expect(env).toMatch(/^PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE=5$/m);
    }
    // Two uvicorn workers under the server's main process.
    const children = await sh(SERVER, 'ps -o pid= --ppid "$(systemctl show -p MainPID --value prefect-server)" | wc -l');
    expect(Number(children.stdout.trim())).toBeGreaterThanOrEqual(2);
  });

  it('Redis listens on loopback only, wants its password, and keeps it out of reach', async () => {
    const anon = await sh(SERVER, 'redis-cli ping 2>&1');
    expect(anon.stdout).toMatch(/NOAUTH/);
    expect((await redisCli('ping')).stdout.trim()).toBe('PONG');
    expect((await sh(SERVER, 'ss -Hltn "sport = :6379"')).stdout).not.toMatch(/0\.0\.0\.0:6379|\*:6379/);
    expect((await sh(SERVER, 'stat -c "%a %U %G" /etc/redis/pag-ansible.conf')).stdout.trim()).toBe('640 root redis');
    expect((await sh(SERVER, 'stat -c "%a %U" /etc/prefect/server.env')).stdout.trim()).toBe('600 root');
    expect((await sh(SERVER, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "')).stdout).not.toContain(REDIS_PASSWORD);
    expect((await sh(SERVER, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "')).stdout).not.toContain(DB_PASSWORD);
  });

  it('the pools are created; a worker runs a deployed flow to Completed through the split server', async () => {
    expect(expectSuccess(await run('--tags', 'prefect-worker')).recap[WORKER]).toMatchObject({ failed: 0, unreachable: 0 });
    expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool')).body.concurrency_limit).toBe(2);
    await waitFor('the worker ONLINE', async () => {
      const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/cpu-pool/workers/filter', {});
      return ws.body.some((w) => w.name === `${WORKER}-cpu-pool` && w.status === 'ONLINE');
    }, 120_000);
    const flowDir = await writeFlow(path.join(work, 'flows', 'demo'), { func: 'my_workflow', marker: 'scale' });
    expectSuccess(
      await pag(cluster, ['deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', '--flow-dir', flowDir, '--entrypoint', 'main.py:my_workflow', '--work-pool', 'cpu-pool', '--param', 'name=scale'], work),
    );
    const d = await api<{ id: string }>(baseUrl, 'GET', '/deployments/name/my-workflow/my_workflow');
    expect(d.status).toBe(200);
    // The scheduling of runs goes through the services process (it reads the deployment) and the API processes.
    const created = await api<{ id: string }>(baseUrl, 'POST', `/deployments/${d.body.id}/create_flow_run`, {});
    expect(created.status).toBe(201);
    await waitFor('the flow run Completed', async () => {
      const fr = await api<{ state_type: string | null }>(baseUrl, 'GET', `/flow_runs/${created.body.id}`);
      if (['FAILED', 'CRASHED', 'CANCELLED'].includes(fr.body.state_type ?? '')) throw new Error(`the flow run ended ${fr.body.state_type}`);
      return fr.body.state_type === 'COMPLETED';
    }, 180_000);
  });

  it('Prefect uses Redis: its streams hold the events, and both units are connected', async () => {
    const keys = (await redisCli('--scan')).stdout.split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).toMatch(/events/);
    const clients = (await redisCli('client list')).stdout.split('\n').filter(Boolean);
    // redis-cli's own connection plus at least one per API process and the services process.
    expect(clients.length).toBeGreaterThanOrEqual(4);
  });

  it('a second run changes nothing', async () => {
    const r = expectSuccess(await run());
    expect(changedTasks(r.stdout)).toEqual([]);
    expect(totalChanged(r)).toBe(0);
  });
});
