/**
 * The server role's work pools (prefect_server/tasks/work_pools.yml), run by real ansible-playbook on the controller
 * against a stand-in for Prefect's REST API on loopback. The stand-in is a test double with injected faults: it
 * answers the work pool endpoints as Prefect 3 does (paths, methods, status codes, basic auth), and answers 503 to
 * the first requests as a server that is still starting. What is checked: the first read waits for the server, then
 * a missing pool is created and a wrong limit set, in one call each; a re-run calls nothing more and changes
 * nothing; a server that never answers, or refuses the password, stops the run with what was answered and where to
 * look, without the password.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../config/helpers.js';

const exec = promisify(execFile);
const PASSWORD = 'pools-s3cret-pw';

interface Api {
  password: string;
  /** How many of the next requests answer 503, as a server whose API is not up yet. */
  starting: number;
  pools: Map<string, { name: string; type: string; concurrency_limit: number | null }>;
  log: string[];
}

let dir: string;
let server: http.Server;
let port: number;
const api: Api = { password: PASSWORD, starting: 0, pools: new Map(), log: [] };

function startApi(): Promise<void> {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
        res.end(json === undefined ? undefined : JSON.stringify(json));
      };
      const url = decodeURIComponent(req.url ?? '');
      if (api.starting > 0) {
        api.starting--;
        api.log.push(`${req.method} ${url} -> 503`);
        return send(503, { detail: 'Service Unavailable' });
      }
      if (req.headers.authorization !== `Basic ${Buffer.from(`admin:${api.password}`).toString('base64')}`) {
        api.log.push(`${req.method} ${url} -> 401`);
        return send(401, { detail: 'Unauthorized' });
      }
      api.log.push(`${req.method} ${url}${req.method === 'GET' ? '' : ` ${body}`}`);
      const name = url.match(/^\/api\/work_pools\/([^/]+)$/)?.[1];
      if (req.method === 'GET' && name) return api.pools.has(name) ? send(200, api.pools.get(name)) : send(404, { detail: 'Not Found' });
      if (req.method === 'PATCH' && name && api.pools.has(name)) {
        Object.assign(api.pools.get(name) as object, JSON.parse(body));
        return send(204);
      }
      if (req.method === 'POST' && url === '/api/work_pools/') {
        const pool = JSON.parse(body) as { name: string; type: string; concurrency_limit: number | null };
        api.pools.set(pool.name, pool);
        return send(201, pool);
      }
      return send(404, { detail: 'Not Found' });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

async function play(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const r = await exec('ansible-playbook', ['-i', 'hosts.yml', 'play.yml', ...args], {
      cwd: dir,
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '' };
  }
}

const changed = (stdout: string) => Number(stdout.match(/changed=(\d+)/)?.[1]);

beforeAll(async () => {
  await startApi();
  port = (server.address() as AddressInfo).port;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-pools-'));
  await fs.writeFile(
    path.join(dir, 'hosts.yml'),
    ['prefect_server:', '  hosts:', '    localhost:', '      ansible_connection: local', '      ansible_python_interpreter: /usr/bin/python3', ''].join('\n'),
  );
  // The variables the server role gives work_pools.yml (defaults, vars/main.yml and the rendered pools).
  const vars = {
    prefect_work_pools: [
      { name: 'cpu-pool', concurrency_limit: 8 },
      { name: 'gpu pool', type: 'process', concurrency_limit: null },
    ],
    prefect_server_api_local_url: `http://127.0.0.1:${port}/api`,
    prefect_api_auth_string: `admin:${PASSWORD}`,
    prefect_server_ready_retries: 7,
    prefect_server_ready_delay: 0,
    prefect_server_service: 'prefect-server',
  };
  await fs.writeFile(
    path.join(dir, 'play.yml'),
    [
      '- hosts: prefect_server',
      '  gather_facts: false',
      `  vars: ${JSON.stringify(vars)}`,
      '  tasks:',
      '    - name: The work pools',
      '      ansible.builtin.import_tasks:',
      `        file: ${JSON.stringify(path.join(repoRoot, 'roles-templates/roles/prefect_server/tasks/work_pools.yml'))}`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  server.close();
  await fs.rm(dir, { recursive: true, force: true });
});

beforeEach(() => Object.assign(api, { password: PASSWORD, starting: 0, log: [] }));

test('the first read waits for a starting server; a missing pool is created and a wrong limit set, one call each; a re-run changes nothing', async () => {
  api.pools = new Map([['cpu-pool', { name: 'cpu-pool', type: 'process', concurrency_limit: 2 }]]);
  api.starting = 3;
  const first = await play();
  expect(first.code).toBe(0);
  expect(api.log).toEqual([
    'GET /api/work_pools/cpu-pool -> 503',
    'GET /api/work_pools/cpu-pool -> 503',
    'GET /api/work_pools/cpu-pool -> 503',
    'GET /api/work_pools/cpu-pool',
    'GET /api/work_pools/gpu pool',
    'POST /api/work_pools/ {"name": "gpu pool", "type": "process", "concurrency_limit": null}',
    'PATCH /api/work_pools/cpu-pool {"concurrency_limit": 8}',
  ]);
  expect(api.pools.get('cpu-pool')?.concurrency_limit).toBe(8);
  expect(changed(first.stdout)).toBe(2);

  api.log = [];
  const again = await play();
  expect(again.code).toBe(0);
  expect(api.log).toEqual(['GET /api/work_pools/cpu-pool', 'GET /api/work_pools/gpu pool']);
  expect(changed(again.stdout)).toBe(0);
  expect(first.stdout + again.stdout).not.toContain(PASSWORD);
}, 120_000);

test('a server that never answers stops the run with its answers and where its log is, without the password', async () => {
  api.starting = 1000;
  // One pool: a later pool's read is asked 6 times 3 s apart, which this test does not need to wait for.
  const r = await play('-e', JSON.stringify({ prefect_work_pools: [{ name: 'cpu-pool', concurrency_limit: 8 }] }));
  expect(r.code).toBe(2);
  // The first pool's read waits: one try and prefect_server_ready_retries more, then nothing.
  expect(api.log).toEqual(Array(8).fill('GET /api/work_pools/cpu-pool -> 503'));
  expect(r.stdout).toMatch(/The Prefect server on localhost did not give the work pools at\s+http:\/\/127\.0\.0\.1:\d+\/api\/work_pools\/ in the\s+0 s it was given\s+\(prefect_server_ready_retries x prefect_server_ready_delay; answers:\s+503, where -1 is no connection\)/);
  expect(r.stdout).toMatch(/Its log says why: journalctl -u prefect-server on localhost/);
  expect(r.stdout).not.toMatch(/401 or 403/);
  expect(r.stdout).not.toContain(PASSWORD);
}, 120_000);

test('a refused password is not asked again: the run stops at once and says which secret the server refuses', async () => {
  api.password = 'another-password';
  const r = await play();
  expect(r.code).toBe(2);
  expect(api.log).toEqual(['GET /api/work_pools/cpu-pool -> 401', 'GET /api/work_pools/gpu pool -> 401']);
  expect(r.stdout).toMatch(/answers:\s+401, where -1 is no connection/);
  expect(r.stdout).toMatch(/A 401 or 403 is the server refusing the API auth string of the secrets file \(prefect_api_auth_string\)/);
  expect(r.stdout).not.toContain(PASSWORD);
}, 120_000);

test('a dry run against a server that does not answer asks once and goes on without the pools', async () => {
  api.starting = 1000;
  const r = await play('--check');
  expect(r.code).toBe(0);
  expect(api.log).toEqual(['GET /api/work_pools/cpu-pool -> 503', 'GET /api/work_pools/gpu pool -> 503']);
  expect(r.stdout).not.toContain(PASSWORD);
}, 120_000);
