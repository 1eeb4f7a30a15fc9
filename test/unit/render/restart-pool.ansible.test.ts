/**
 * One work pool's turn of the rolling worker restart (prefect_worker/tasks/restart_pool.yml), run by real
 * ansible-playbook on the controller against a stand-in for Prefect's REST API on loopback. The stand-in is a test
 * double with injected faults: it answers the few endpoints the turn calls as Prefect 3 does (paths, methods, status
 * codes, basic auth), and fails chosen requests with HTTP 500, as a busy server on SQLite does ("database is
 * locked"). What is checked: a transient failure (of a pause, a resume or the count of runs in flight) neither ends
 * the turn, nor passes for "no runs in flight", nor leaves the pool paused; a resume that keeps failing stops the run
 * with a message that says the pool is paused and how to resume it; runs that outlast the drain stop it with their
 * count; a pool the operator paused is neither paused nor resumed; and the API's password is never printed.
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
const PASSWORD = 'roll-s3cret-pw';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;

interface Api {
  paused: boolean;
  /** How many of the next pause (is_paused: true) and resume (false) requests fail with HTTP 500. */
  failPauses: number;
  failResumes: number;
  /** How many of the next counts of flow runs in flight fail with HTTP 500, and the count the others answer. */
  failCounts: number;
  inFlight: number;
  log: string[];
}

let dir: string;
let server: http.Server;
let port: number;
const api: Api = { paused: false, failPauses: 0, failResumes: 0, failCounts: 0, inFlight: 0, log: [] };

function startApi(): Promise<void> {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
        res.end(json === undefined ? undefined : JSON.stringify(json));
      };
      if (req.headers.authorization !== AUTH) return send(401, { detail: 'Unauthorized' });
      const url = req.url ?? '';
      if (req.method === 'PATCH' && url === '/api/work_pools/cpu-pool') {
        const paused = (JSON.parse(body) as { is_paused: boolean }).is_paused;
        const faults = paused ? 'failPauses' : 'failResumes';
        api.log.push(`PATCH is_paused=${paused}${api[faults] > 0 ? ' -> 500' : ''}`);
        if (api[faults] > 0) {
          api[faults]--;
          return send(500, { exception_message: 'Internal Server Error' });
        }
        api.paused = paused;
        return send(204);
      }
      if (req.method === 'GET' && url === '/api/work_pools/cpu-pool') return send(200, { name: 'cpu-pool', is_paused: api.paused });
      if (req.method === 'POST' && url === '/api/flow_runs/count') {
        api.log.push(`count${api.failCounts > 0 ? ' -> 500' : ` = ${api.inFlight}`}`);
        if (api.failCounts > 0) {
          api.failCounts--;
          return send(500, { exception_message: 'Internal Server Error' });
        }
        return send(200, api.inFlight);
      }
      if (req.method === 'POST' && url === '/api/work_pools/cpu-pool/workers/filter') return send(200, []);
      return send(404, { detail: 'Not Found' });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

async function turn(...args: string[]): Promise<{ code: number; stdout: string }> {
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

beforeAll(async () => {
  await startApi();
  port = (server.address() as AddressInfo).port;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-roll-'));
  await fs.writeFile(
    path.join(dir, 'hosts.yml'),
    ['prefect_server:', '  hosts:', '    localhost:', '      ansible_connection: local', '      ansible_python_interpreter: /usr/bin/python3', ''].join('\n'),
  );
  // The variables the worker role and its caller (main.yml) give the turn; no unit of this host owes a restart.
  const vars = {
    prefect_worker_restart_pool: 'cpu-pool',
    prefect_work_pools: [{ name: 'cpu-pool', drain_timeout: 10 }],
    prefect_worker_drain_timeout: 600,
    prefect_worker_drain_delay: 1,
    prefect_worker_api_retries: 2,
    prefect_worker_api_delay: 1,
    prefect_server_api_local_url: `http://127.0.0.1:${port}/api`,
    prefect_api_auth_string: `admin:${PASSWORD}`,
    prefect_worker_restart_marks: { results: [] },
    prefect_config_dir: path.join(dir, 'etc'),
    prefect_environment_cli: '/opt/prefect/bin/pag-prefect',
  };
  await fs.writeFile(
    path.join(dir, 'play.yml'),
    [
      '- hosts: prefect_server',
      '  gather_facts: false',
      `  vars: ${JSON.stringify(vars)}`,
      '  tasks:',
      '    - name: One pool\'s turn',
      '      ansible.builtin.include_tasks:',
      `        file: ${JSON.stringify(path.join(repoRoot, 'roles-templates/roles/prefect_worker/tasks/restart_pool.yml'))}`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  server.close();
  await fs.rm(dir, { recursive: true, force: true });
});

beforeEach(() => Object.assign(api, { paused: false, failPauses: 0, failResumes: 0, failCounts: 0, inFlight: 0, log: [] }));

// The turn's own retry delay, shortened here; the roll's real delay is a few seconds.
const fast = ['-e', 'prefect_worker_roll_api_delay=0'];

test('a pause and a resume that fail for a moment are tried again: the turn succeeds and the pool is resumed', async () => {
  Object.assign(api, { failPauses: 1, failResumes: 2 });
  const r = await turn(...fast);
  expect(r.code).toBe(0);
  expect(api.log).toEqual(['PATCH is_paused=true -> 500', 'PATCH is_paused=true', 'count = 0', 'PATCH is_paused=false -> 500', 'PATCH is_paused=false -> 500', 'PATCH is_paused=false']);
  expect(api.paused).toBe(false);
  expect(r.stdout).not.toContain(PASSWORD);
}, 120_000);

test('a resume the API keeps refusing stops the run and says the pool is paused and how to resume it', async () => {
  Object.assign(api, { failResumes: 1000 });
  const r = await turn(...fast, '-e', 'prefect_worker_roll_api_retries=3');
  expect(r.code).toBe(2);
  expect(api.log.filter((l) => l === 'PATCH is_paused=false -> 500')).toHaveLength(4);
  expect(r.stdout).toMatch(/Work pool cpu-pool was paused for the restart of its workers, and the API kept\s+refusing to resume it \(last answer: HTTP 500\)/);
  expect(r.stdout).toMatch(/run `\/opt\/prefect\/bin\/pag-prefect work-pool resume cpu-pool` on localhost/);
  expect(r.stdout).not.toContain(PASSWORD);
}, 120_000);

test('a pool the operator paused is neither paused nor resumed by the turn', async () => {
  api.paused = true;
  const r = await turn(...fast);
  expect(r.code).toBe(0);
  expect(api.log.filter((l) => l.startsWith('PATCH'))).toEqual([]);
  expect(api.paused).toBe(true);
}, 120_000);

test('a count of the runs in flight that fails for a moment is asked again, not read as none: the turn succeeds', async () => {
  // The 500's body is a JSON object, which Jinja's int filter reads as 0; an answer must be a 200 to end the wait.
  Object.assign(api, { failCounts: 2 });
  const r = await turn(...fast);
  expect(r.code).toBe(0);
  expect(api.log).toEqual(['PATCH is_paused=true', 'count -> 500', 'count -> 500', 'count = 0', 'PATCH is_paused=false']);
  expect(api.paused).toBe(false);
}, 120_000);

test('runs still in flight after the drain timeout stop the run with their count, and the pool is resumed', async () => {
  Object.assign(api, { inFlight: 1 });
  const r = await turn(...fast, '-e', 'prefect_worker_roll_drain_timeout=2');
  expect(r.code).toBe(2);
  expect(r.stdout).toMatch(/Work pool cpu-pool still has 1 flow run\(s\) in flight after 2 s, so its workers were not restarted/);
  expect(api.log.at(-1)).toBe('PATCH is_paused=false');
  expect(api.paused).toBe(false);
}, 120_000);

test('a count the API keeps refusing says so instead of a number, and the pool is resumed', async () => {
  Object.assign(api, { failCounts: 1000 });
  const r = await turn(...fast, '-e', 'prefect_worker_roll_drain_timeout=2');
  expect(r.code).toBe(2);
  expect(r.stdout).toMatch(/Work pool cpu-pool still has flow runs the API did not count \(last answer: HTTP 500\) in flight after 2 s/);
  expect(api.paused).toBe(false);
  expect(r.stdout).not.toContain(PASSWORD);
}, 120_000);
