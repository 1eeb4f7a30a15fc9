/**
 * main.yml's environment play carries both play tags and runs on the groups whose own play --tags and --skip-tags
 * select, read by real ansible-playbook (--list-hosts, nothing contacted) on a rendered tree: --tags prefect-server
 * must not touch a worker, nor --tags prefect-worker the server.
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

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-play-hosts-'));
  await renderTree(exampleCluster(), dir);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** What ansible-playbook --list-hosts prints for main.yml. */
async function listHosts(...args: string[]): Promise<string> {
  const { stdout } = await run('ansible-playbook', ['main.yml', '--list-hosts', ...args], {
    cwd: dir,
    env: { ...process.env, ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' },
  });
  return stdout;
}

/** The pattern and hosts of the environment play, as ansible-playbook --list-hosts prints them. */
async function environmentPlay(...args: string[]): Promise<{ pattern: string; hosts: string[] }> {
  const stdout = await listHosts(...args);
  const m = /\(([^)]*)\): Install the Prefect environment[^\n]*\n\s*pattern: [^\n]*\n\s*hosts \(\d+\):\n((?:\s{6}\S+\n?)*)/.exec(stdout);
  if (!m) throw new Error(`no environment play in:\n${stdout}`);
  return { pattern: m[1] as string, hosts: (m[2] as string).split('\n').map((l) => l.trim()).filter(Boolean).sort() };
}

const groups = async () => {
  const { stdout } = await run('ansible-inventory', ['-i', 'inventory.yml', '--list'], { cwd: dir, env: { ...process.env, ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg') } });
  const inv = JSON.parse(stdout) as Record<string, { hosts?: string[] }>;
  return { server: (inv.prefect_server?.hosts ?? []).sort(), workers: (inv.prefect_workers?.hosts ?? []).sort() };
};

it('runs on the server and the workers without tags, and on the selected play group only with tags', async () => {
  const { server, workers } = await groups();
  expect(server).toHaveLength(1);
  expect(workers.length).toBeGreaterThan(0);
  expect(await environmentPlay()).toEqual({ pattern: 'prefect_server:prefect_workers', hosts: [...server, ...workers].sort() });
  expect(await environmentPlay('--tags', 'prefect-server')).toEqual({ pattern: 'prefect_server', hosts: server });
  expect(await environmentPlay('--tags', 'prefect-worker')).toEqual({ pattern: 'prefect_workers', hosts: workers });
  expect(await environmentPlay('--skip-tags', 'prefect-worker')).toEqual({ pattern: 'prefect_server', hosts: server });
  expect(await environmentPlay('--tags', 'prefect-server,prefect-worker', '--skip-tags', 'prefect-server')).toEqual({ pattern: 'prefect_workers', hosts: workers });
});

it('matches no host when the tags select neither play, instead of failing on an empty pattern', async () => {
  expect(await listHosts('--tags', 'always')).toMatch(/\(all:!all\): Install the Prefect environment[^\n]*\n\s*pattern: [^\n]*\n\s*hosts \(0\):/);
});
