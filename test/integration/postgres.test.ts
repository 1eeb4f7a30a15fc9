/**
 * Scenario 1, second case: the server with a local PostgreSQL database installed by the role from an offline
 * apt repository (as on an air-gapped site), and Prefect installed from a pip wheelhouse into a venv.
 * Workers are covered by cluster.test.ts; here one worker proves the wheelhouse source on a second role.
 */
import { jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildOfflineRepo, harnessAvailable, SERVER_PACKAGES, startCluster, type Cluster } from './harness/cluster.js';
import {
  api,
  AUTH,
  buildArtefacts,
  changedTasks,
  DB_PASSWORD,
  expectSuccess,
  pag,
  totalChanged,
  waitFor,
  writePagInventory,
  writeSecrets,
  type Artefacts,
  type InventorySpec,
} from './support.js';

jest.setTimeout(20 * 60_000);

const SERVER = 'pg-server';
const WORKER = 'pg-worker';

let cluster: Cluster;
let artefacts: Artefacts;
let work: string;
let baseUrl: string;

const run = (...args: string[]) => pag(cluster, ['run', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], work);
const sh = (host: string, cmd: string) => cluster.exec(host, ['sh', '-c', cmd]);

beforeAll(async () => {
  const ok = harnessAvailable();
  if (!ok.ok) throw new Error(`the integration suite needs root and systemd-nspawn: ${ok.reason}`);
  artefacts = buildArtefacts();
  const repo = await buildOfflineRepo(SERVER_PACKAGES);
  cluster = await startCluster({ name: 'pagp', hosts: [SERVER, WORKER], subnet: 2 });
  // The site's own preparation: an apt source pointing at the repository it carried in.
  await cluster.installOfflineRepo(SERVER, repo);
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-it-pg-'));
  baseUrl = `http://${cluster.host(SERVER).ip}:4200/api`;
  const spec: InventorySpec = {
    server: SERVER,
    workers: { [WORKER]: { pools: ['cpu-pool'] } },
    vars: {
      prefect_environment: { source: 'wheelhouse', wheelhouse_dir: artefacts.wheelhouse, pixi_unpack_binary: artefacts.pixiUnpack },
      prefect_database: { type: 'postgresql', mode: 'local' },
      prefect_work_pools: { 'cpu-pool': { concurrency_limit: 3, env: { PREFECT_WORKER_HEARTBEAT_SECONDS: '3' } } },
    },
  };
  await writePagInventory(cluster, path.join(work, 'inventory.yml'), spec, artefacts);
  await writeSecrets(path.join(work, 'secrets.yml'), true);
}, 15 * 60_000);

afterAll(async () => {
  if (cluster) await cluster.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('PostgreSQL on the server host, Prefect from a wheelhouse', () => {
  it('run --tags prefect-server installs PostgreSQL offline and a ready server on it', async () => {
    const r = expectSuccess(await run('--tags', 'prefect-server'));
    expect(r.recap[SERVER]).toMatchObject({ failed: 0, unreachable: 0 });
    // /api/ready logs in to the configured PostgreSQL (the double really authenticates and runs SELECT 1).
    expect((await api(baseUrl, 'GET', '/ready', undefined, null)).status).toBe(200);
    expect((await api<{ concurrency_limit: number }>(baseUrl, 'GET', '/work_pools/cpu-pool')).body.concurrency_limit).toBe(3);
    const state = JSON.parse((await sh(SERVER, 'cat /var/lib/prefect/prefect-test-double-server.json')).stdout);
    expect(state.database).toMatchObject({ kind: 'postgresql' });
  });

  it('the database belongs to the prefect role, has pg_trgm, and the password lives only in 0600 files', async () => {
    const q = (sql: string) => sh(SERVER, `runuser -u postgres -- psql -XAtq -d prefect -c "${sql}"`);
    expect((await q("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'prefect'")).stdout.trim()).toBe('prefect');
    expect((await q("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")).stdout.trim()).toBe('pg_trgm');
    const found = await sh(SERVER, `grep -rlF -- 'Pa55' /etc /opt /var/lib/prefect /root /tmp 2>/dev/null || true`);
    for (const f of found.stdout.split('\n').filter(Boolean)) {
      expect(`${f} ${(await sh(SERVER, `stat -c '%a %U' '${f}'`)).stdout.trim()}`).toBe(`${f} 600 root`);
    }
    // psql never saw the password on its command line (it is not in any process's argv now, either).
    expect((await sh(SERVER, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "')).stdout).not.toContain(DB_PASSWORD);
  });

  it('the worker runs Prefect from the wheelhouse venv and registers', async () => {
    expectSuccess(await run('--tags', 'prefect-worker'));
    expect((await sh(WORKER, 'readlink -f /opt/prefect/current')).stdout.trim()).toBe('/opt/prefect/versions/3.4.11-wheelhouse');
    expect((await sh(WORKER, '/opt/prefect/current/bin/prefect version')).stdout).toMatch(/Version:\s+3\.4\.11/);
    // pixi-unpack came along although Prefect came from pip: flows with a packed environment can be deployed here.
    expect((await sh(WORKER, 'test -x /opt/prefect/artifacts/pixi-unpack')).code).toBe(0);
    await waitFor('the worker online', async () => {
      const ws = await api<{ name: string; status: string }[]>(baseUrl, 'POST', '/work_pools/cpu-pool/workers/filter', {});
      return ws.body.some((w) => w.name === `${WORKER}-cpu-pool` && w.status === 'ONLINE');
    });
  });

  it('a second run changes nothing and keeps the database', async () => {
    const r = expectSuccess(await run());
    expect(changedTasks(r.stdout)).toEqual([]);
    expect(totalChanged(r)).toBe(0);
    expect((await api(baseUrl, 'GET', '/work_pools/cpu-pool')).status).toBe(200);
    void AUTH;
  });
});
