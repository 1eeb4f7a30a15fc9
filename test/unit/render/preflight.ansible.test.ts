/**
 * main.yml's first play (the controller's checks before any host is touched), run by real ansible-playbook on a
 * rendered tree with `--limit localhost` (localhost made explicit), so no later play has a host: it refuses a local PostgreSQL that is not on
 * loopback and a postgresql_conf name that is not a plain name, as plain `ansible-playbook` users get them (the CLI's
 * validate refuses both earlier, with file:line:col).
 */
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderTree } from '../../../src/render/index.js';
import { exampleCluster } from '../../helpers/cluster-fixture.js';

const run = promisify(execFile);
jest.setTimeout(120_000);

const ENV = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3', ANSIBLE_LOCALHOST_WARNING: 'False' };
const DATABASE = { type: 'postgresql', mode: 'local', host: '127.0.0.1', port: 5432, name: 'prefect', user: 'prefect', pool_size: 5, max_overflow: 10 } as const;

let dir: string;
let tree: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-preflight-'));
  tree = path.join(dir, 'tree');
  await renderTree(exampleCluster({ prefect_database: { ...DATABASE, postgresql_conf: { work_mem: '8MB' } } }), tree);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** main.yml on the controller only, with the secrets and VARS as extra vars (they win over the inventory, for every host). */
async function preflightWith(vars: Record<string, unknown>): Promise<{ code: number; out: string }> {
  await fs.writeFile(path.join(dir, 'vars.json'), JSON.stringify({ prefect_api_auth_string: 'admin:pw', prefect_database_password: 'pw', ...vars }));
  try {
    const r = await run('ansible-playbook', ['main.yml', '-i', 'inventory.yml', '-i', 'localhost,', '--limit', 'localhost', '-e', `@${path.join(dir, 'vars.json')}`], {
      cwd: tree,
      env: { ...ENV, ANSIBLE_CONFIG: path.join(tree, 'ansible.cfg') },
    });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** The pre-flight with DATABASE as prefect_database. */
const preflight = (database: Record<string, unknown>) => preflightWith({ prefect_database: database });

it('lets a local PostgreSQL on loopback with plain setting names through', async () => {
  const r = await preflight({ ...DATABASE, host: 'localhost', postgresql_conf: { work_mem: '8MB', max_connections: 200 } });
  expect(r.out).toMatch(/Assert that a local PostgreSQL is reached over loopback/);
  expect(r.code).toBe(0);
});

it('refuses a local PostgreSQL elsewhere than on loopback, naming the server host', async () => {
  const r = await preflight({ ...DATABASE, host: '10.1.2.3' });
  expect(r.code).toBe(2);
  expect(r.out).toMatch(/pag-server: with prefect_database\.mode local, PostgreSQL listens on loopback only/);
});

it('refuses a postgresql_conf name that is not a plain postgresql.conf parameter name', async () => {
  const r = await preflight({ ...DATABASE, postgresql_conf: { 'work_mem = 1\nfsync': 'off' } });
  expect(r.code).toBe(2);
  expect(r.out).toMatch(/postgresql_conf takes postgresql\.conf parameter names/);
});

it('leaves an external PostgreSQL elsewhere alone', async () => {
  expect((await preflight({ ...DATABASE, mode: 'external', host: '10.1.2.3' })).code).toBe(0);
});

/** The pre-flight with every worker host's units and pools replaced. */
const preflightUnits = (units: unknown, pools: string[]) => preflightWith({ prefect_worker_unit_settings: units, prefect_worker_pools: pools });

it("lets every worker host's well-formed units through, in one task", async () => {
  const r = await preflightUnits([{ pool: 'cpu-pool', limit: 4, env: { PREFECT_LOGGING_LEVEL: 'DEBUG' } }], ['cpu-pool']);
  expect(r.out).toMatch(/Assert that the worker units are well-formed/);
  expect(r.code).toBe(0);
});

it('names each worker host whose unit pool cannot name a unit, is not among its pools, or whose env has a bad name, and never a value', async () => {
  const workers = (exampleCluster().workers ?? []).map((w) => w.name);
  expect(workers.length).toBeGreaterThan(1);
  const secretLike = 'value-that-must-not-show';
  const r = await preflightUnits(
    [
      { pool: 'cpu pool/..', env: {} },
      { pool: 'gpu-pool', env: { 'BAD-NAME': secretLike, GOOD: secretLike } },
    ],
    ['cpu-pool'],
  );
  expect(r.code).toBe(2);
  for (const w of workers) {
    expect(r.out).toContain(`${w}: the pool 'cpu pool/..' cannot name a unit`);
    expect(r.out).toContain(`${w}: the pool gpu-pool of a worker unit is not in prefect_worker_pools`);
    expect(r.out).toContain(`${w}: the env of the gpu-pool worker unit has 'BAD-NAME', which is not an environment variable name`);
  }
  expect(r.out).not.toContain(secretLike);
});
