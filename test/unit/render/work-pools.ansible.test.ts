/**
 * The server role's work pools (prefect_server/tasks/work_pools.yml), run by real ansible-playbook on the controller
 * against the stand-in for Prefect's REST API on loopback (test/helpers/fake-prefect-api.ts), with injected faults:
 * it answers 503 to the first requests as a server that is still starting. What is checked: the first read waits for
 * the server, then a missing pool is created and a wrong limit set, in one call each; a re-run calls nothing more and
 * changes nothing; a server that never answers, or refuses the password, stops the run with what was answered and
 * where to look, without the password.
 */
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startFakePrefectApi, type FakePrefectApi, type Recorded } from '../../helpers/fake-prefect-api.js';
import { LOCAL_PLAY_HEAD, pluginPlayDir, runLocalPlaybook } from '../../helpers/local-playbook.js';
import { repoRoot } from '../config/helpers.js';

jest.setTimeout(120_000);

const AUTH_STRING = 'admin:pools-s3cret-pw';
const PASSWORD = 'pools-s3cret-pw';

interface Pool {
  name: string;
  type: string;
  concurrency_limit: number | null;
}

let dir: string;
let api: FakePrefectApi;
/** How many of the next requests answer 503, as a server whose API is not up yet. */
let starting = 0;
let pools = new Map<string, Pool>();

/** Each request as `METHOD /path [body] [-> status]`, the status when it was not an answer of the API proper. */
const log = () =>
  api.requests.map((r) => {
    const body = r.method === 'GET' ? '' : ` ${JSON.stringify(r.body)}`;
    return `${r.method} ${decodeURIComponent(r.path)}${body}${r.status === 401 || r.status === 503 ? ` -> ${r.status}` : ''}`;
  });

function route(answer: (r: Recorded) => { status: number; body?: unknown }) {
  return (r: Recorded) => {
    if (starting > 0) {
      starting--;
      return { status: 503, body: { detail: 'Service Unavailable' } };
    }
    return answer(r);
  };
}

// The variables the server role gives work_pools.yml (defaults, vars/main.yml and the rendered pools).
const vars = () => ({
  prefect_work_pools: [
    { name: 'cpu-pool', concurrency_limit: 8 },
    { name: 'gpu pool', type: 'process', concurrency_limit: null },
  ],
  prefect_server_api_local_url: api.url,
  prefect_api_auth_string: AUTH_STRING,
  prefect_server_ready_retries: 7,
  prefect_server_ready_delay: 0,
  prefect_server_service: 'prefect-server',
});

const changed = (stdout: string) => Number(stdout.match(/changed=(\d+)/)?.[1]);

beforeAll(async () => {
  api = await startFakePrefectApi({ auth: AUTH_STRING });
  for (const [name, encoded] of [['cpu-pool', 'cpu-pool'], ['gpu pool', 'gpu%20pool']] as const) {
    api.routes.set(`GET /work_pools/${encoded}`, route(() => (pools.has(name) ? { status: 200, body: pools.get(name) } : { status: 404, body: { detail: 'Not Found' } })));
    api.routes.set(`PATCH /work_pools/${encoded}`, route((r) => (Object.assign(pools.get(name) as Pool, r.body), { status: 204 })));
  }
  api.routes.set('POST /work_pools/', route((r) => (pools.set((r.body as Pool).name, r.body as Pool), { status: 201, body: r.body })));
  dir = await pluginPlayDir('pag-pools-', [
    ...LOCAL_PLAY_HEAD,
    '    - name: The work pools',
    '      ansible.builtin.import_tasks:',
    `        file: ${JSON.stringify(path.join(repoRoot, 'roles-templates/roles/prefect_server/tasks/work_pools.yml'))}`,
  ]);
});

afterAll(async () => {
  await api.close();
  await fs.rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  starting = 0;
  api.requests.length = 0;
});

test('the first read waits for a starting server; a missing pool is created and a wrong limit set, one call each; a re-run changes nothing', async () => {
  pools = new Map([['cpu-pool', { name: 'cpu-pool', type: 'process', concurrency_limit: 2 }]]);
  starting = 3;
  const first = await runLocalPlaybook(dir, vars());
  expect(first.code).toBe(0);
  expect(log()).toEqual([
    'GET /work_pools/cpu-pool -> 503',
    'GET /work_pools/cpu-pool -> 503',
    'GET /work_pools/cpu-pool -> 503',
    'GET /work_pools/cpu-pool',
    'GET /work_pools/gpu pool',
    'POST /work_pools/ {"name":"gpu pool","type":"process","concurrency_limit":null}',
    'PATCH /work_pools/cpu-pool {"concurrency_limit":8}',
  ]);
  expect(pools.get('cpu-pool')?.concurrency_limit).toBe(8);
  expect(changed(first.stdout)).toBe(2);

  api.requests.length = 0;
  const again = await runLocalPlaybook(dir, vars());
  expect(again.code).toBe(0);
  expect(log()).toEqual(['GET /work_pools/cpu-pool', 'GET /work_pools/gpu pool']);
  expect(changed(again.stdout)).toBe(0);
  expect(first.stdout + again.stdout).not.toContain(PASSWORD);
});

test('a server that never answers stops the run with its answers and where its log is, without the password', async () => {
  starting = 1000;
  // One pool: a later pool's read is asked 6 times 3 s apart, which this test does not need to wait for.
  const r = await runLocalPlaybook(dir, { ...vars(), prefect_work_pools: [{ name: 'cpu-pool', concurrency_limit: 8 }] });
  expect(r.code).toBe(2);
  // The first pool's read waits: one try and prefect_server_ready_retries more, then nothing.
  expect(log()).toEqual(Array(8).fill('GET /work_pools/cpu-pool -> 503'));
  expect(r.stdout).toMatch(/The Prefect server on localhost did not give the work pools at\s+http:\/\/127\.0\.0\.1:\d+\/api\/work_pools\/ in the\s+0 s it was given\s+\(prefect_server_ready_retries x prefect_server_ready_delay; answers:\s+503, where -1 is no connection\)/);
  expect(r.stdout).toMatch(/Its log says why: journalctl -u prefect-server on localhost/);
  expect(r.stdout).not.toMatch(/401 or 403/);
  expect(r.stdout).not.toContain(PASSWORD);
});

test('a refused password is not asked again: the run stops at once and says which secret the server refuses', async () => {
  const wrong = 'admin:another-password';
  const r = await runLocalPlaybook(dir, { ...vars(), prefect_api_auth_string: wrong });
  expect(r.code).toBe(2);
  expect(log()).toEqual(['GET /work_pools/cpu-pool -> 401', 'GET /work_pools/gpu pool -> 401']);
  expect(r.stdout).toMatch(/answers:\s+401, where -1 is no connection/);
  expect(r.stdout).toMatch(/A 401 or 403 is the server refusing the API auth string of the secrets file \(prefect_api_auth_string\)/);
  expect(r.stdout).not.toContain('another-password');
});

test('a dry run against a server that does not answer asks once and goes on without the pools', async () => {
  starting = 1000;
  const r = await runLocalPlaybook(dir, vars(), ['--check']);
  expect(r.code).toBe(0);
  expect(log()).toEqual(['GET /work_pools/cpu-pool -> 503', 'GET /work_pools/gpu pool -> 503']);
  expect(r.stdout).not.toContain(PASSWORD);
});
