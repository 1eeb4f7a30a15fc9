/**
 * The server role's GPU concurrency limits (prefect_server/tasks/gpu_limits.yml, with the names its vars/main.yml
 * makes from the inventory), run by real ansible-playbook on the controller against the stand-in for Prefect's REST
 * API on loopback (test/helpers/fake-prefect-api.ts). What is checked: every worker host's GPUs, read from the
 * inventory, get one limit each; one read of the limits, then one call per missing limit; a limit beyond the page the
 * server lists answers 409 and changes nothing; a re-run is the read alone and changes nothing; a dry run reads and
 * creates nothing; an inventory without GPUs calls nothing.
 */
import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startFakePrefectApi, type FakePrefectApi } from '../../helpers/fake-prefect-api.js';
import { pluginPlayDir, runLocalPlaybook } from '../../helpers/local-playbook.js';
import { repoRoot } from '../config/helpers.js';

jest.setTimeout(120_000);

const AUTH_STRING = 'admin:gpu-s3cret-pw';
const role = path.join(repoRoot, 'roles-templates/roles/prefect_server');

let dir: string;
let api: FakePrefectApi;
/** The limits the server has, by name; the filter lists at most PAGE of them, as a page of Prefect's would. */
let limits: Map<string, { name: string; limit: number; active: boolean }>;
const PAGE = 3;

const log = () => api.requests.map((r) => `${r.method} ${r.path}${r.body === undefined ? '' : ` ${JSON.stringify(r.body)}`} -> ${r.status}`);
const changed = (stdout: string) => Number(stdout.match(/changed=(\d+)/)?.[1]);

const vars = () => ({ prefect_server_api_local_url: api.url, prefect_api_auth_string: AUTH_STRING });

/** An inventory whose worker hosts have these unit settings (as inventory.yml gives them); the play runs on localhost. */
async function inventory(workers: Record<string, unknown[]>): Promise<void> {
  const hosts = Object.entries(workers).map(([h, units]) => `        ${h}: {prefect_worker_unit_settings: ${JSON.stringify(units)}}`);
  await fs.writeFile(
    path.join(dir, 'inventory.yml'),
    ['all:', '  hosts:', '    localhost: {ansible_connection: local}', '  children:', '    prefect_workers:', '      hosts:', ...hosts, ''].join('\n'),
  );
}

beforeAll(async () => {
  api = await startFakePrefectApi({ auth: AUTH_STRING });
  api.routes.set('POST /v2/concurrency_limits/filter', () => ({ status: 200, body: [...limits.values()].slice(0, PAGE) }));
  api.routes.set('POST /v2/concurrency_limits/', (r) => {
    const body = r.body as { name: string; limit: number; active: boolean };
    if (limits.has(body.name)) return { status: 409, body: { detail: 'Data integrity conflict.' } };
    limits.set(body.name, body);
    return { status: 201, body };
  });
  dir = await pluginPlayDir('pag-gpu-limits-', [
    '- hosts: localhost',
    '  connection: local',
    '  gather_facts: false',
    '  vars_files:',
    `    - ${JSON.stringify(path.join(role, 'vars/main.yml'))}`,
    '  tasks:',
    '    - name: The GPU concurrency limits',
    '      ansible.builtin.import_tasks:',
    `        file: ${JSON.stringify(path.join(role, 'tasks/gpu_limits.yml'))}`,
  ]);
});

afterAll(async () => {
  await api.close();
  await fs.rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  api.requests.length = 0;
});

test('one read, one call per missing limit of any worker host; a limit the page does not list is a 409 that changes nothing; a re-run only reads', async () => {
  await inventory({
    'node-a': [{ pool: 'cpu-pool', limit: 1 }, { pool: 'gpu-pool', limit: 2, gpu_ids: [0, 1] }],
    'node-b': [{ pool: 'gpu-pool', limit: 1, gpu_ids: [3] }, { pool: 'render', limit: 1, gpu_ids: [3] }],
    'node-c': [{ pool: 'cpu-pool', limit: 4 }],
  });
  // Listed first, so gpu-node-a-0 is past the page of PAGE.
  limits = new Map([
    ['backfill', { name: 'backfill', limit: 5, active: true }],
    ['nightly', { name: 'nightly', limit: 1, active: true }],
    ['weekly', { name: 'weekly', limit: 1, active: true }],
    ['gpu-node-a-0', { name: 'gpu-node-a-0', limit: 1, active: true }],
  ]);
  const first = await runLocalPlaybook(dir, vars(), ['-i', 'inventory.yml']);
  expect(first.code).toBe(0);
  expect(log()).toEqual([
    'POST /v2/concurrency_limits/filter {} -> 200',
    'POST /v2/concurrency_limits/ {"name":"gpu-node-a-0","limit":1,"active":true} -> 409',
    'POST /v2/concurrency_limits/ {"name":"gpu-node-a-1","limit":1,"active":true} -> 201',
    'POST /v2/concurrency_limits/ {"name":"gpu-node-b-3","limit":1,"active":true} -> 201',
  ]);
  expect(changed(first.stdout)).toBe(1); // the create task, once for its two items
  expect([...limits.keys()].sort()).toEqual(['backfill', 'gpu-node-a-0', 'gpu-node-a-1', 'gpu-node-b-3', 'nightly', 'weekly']);
  expect(first.stdout).not.toContain('gpu-s3cret-pw');

  // The GPU limits first in the listing now: a re-run finds them all in its one read.
  limits = new Map([...limits].sort(([a], [b]) => Number(!a.startsWith('gpu-')) - Number(!b.startsWith('gpu-'))));
  api.requests.length = 0;
  const again = await runLocalPlaybook(dir, vars(), ['-i', 'inventory.yml']);
  expect(again.code).toBe(0);
  expect(log()).toEqual(['POST /v2/concurrency_limits/filter {} -> 200']);
  expect(changed(again.stdout)).toBe(0);
});

test('a dry run reads and creates nothing; an inventory without GPUs asks nothing', async () => {
  await inventory({ 'node-a': [{ pool: 'gpu-pool', limit: 1, gpu_ids: [7] }] });
  limits = new Map();
  const dry = await runLocalPlaybook(dir, vars(), ['-i', 'inventory.yml', '--check']);
  expect(dry.code).toBe(0);
  expect(log()).toEqual(['POST /v2/concurrency_limits/filter {} -> 200']);
  expect(limits.size).toBe(0);

  await inventory({ 'node-c': [{ pool: 'cpu-pool', limit: 4 }] });
  api.requests.length = 0;
  const none = await runLocalPlaybook(dir, vars(), ['-i', 'inventory.yml']);
  expect(none.code).toBe(0);
  expect(log()).toEqual([]);
});
