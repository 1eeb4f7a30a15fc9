/**
 * Whether prefect_environment has work for a pixi-pack environment on a run (prefect_environment_source_due), as the
 * role decides it: the role's own controller-side checksum task and variables, and pag_files reading the record's
 * checksum, run by real ansible-playbook on this machine (connection local). A host whose record names the
 * controller's tarball has no task for its environment; any other record, or none, sends it to pixi-pack.yml.
 */
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { pagResult, pluginPlayDir, printResultTask, runLocalPlaybook } from '../../helpers/local-playbook.js';
import { repoRoot } from '../config/helpers.js';

jest.setTimeout(60_000);

const ROLE = path.join(repoRoot, 'roles-templates/roles/prefect_environment');
let dir: string;

beforeAll(async () => {
  const tasks = parse(await fs.readFile(path.join(ROLE, 'tasks/main.yml'), 'utf8')) as { name: string }[];
  const checksum = tasks.find((t) => t.name === 'Checksum the packed Prefect environment on the controller');
  expect(checksum).toBeDefined();
  dir = await pluginPlayDir('pag-env-due-', [
    '- hosts: localhost',
    '  connection: local',
    '  gather_facts: false',
    '  vars_files:',
    `    - ${path.join(ROLE, 'defaults/main.yml')}`,
    `    - ${path.join(ROLE, 'vars/main.yml')}`,
    '  tasks:',
    `    - ${JSON.stringify(checksum)}`,
    '    - name: Read the record',
    '      pag_files:',
    '        checksums: "{{ prefect_environment_pixi_pack_record }}"',
    '        paths: []',
    '      register: prefect_environment_base',
    ...printResultTask("{'due': prefect_environment_source_due | bool, 'current': prefect_environment_pixi_pack_current | bool}"),
  ]);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const sha1 = (data: string) => createHash('sha1').update(data).digest('hex');

async function decide(tarball: string, record: string | null): Promise<{ due: boolean; current: boolean }> {
  const install = path.join(dir, 'opt');
  const version = path.join(install, 'versions/env-1');
  await fs.rm(install, { recursive: true, force: true });
  await fs.mkdir(version, { recursive: true });
  await fs.writeFile(path.join(dir, 'prefect-env.tar'), tarball);
  if (record !== null) await fs.writeFile(path.join(version, '.pag-env-sha256'), record);
  const r = await runLocalPlaybook(dir, {
    prefect_install_dir: install,
    prefect_environment_id: 'env-1',
    prefect_version: '3.4.25',
    prefect_environment: { source: 'pixi-pack', pixi_pack_tarball: path.join(dir, 'prefect-env.tar') },
  });
  const result = pagResult<{ due: boolean; current: boolean }>(r.stdout);
  if (!result) throw new Error(`no result in:\n${r.stdout}`);
  return result;
}

it('leaves a pixi-pack environment alone when its record is the controller tarball\'s SHA-1, as pixi-pack.yml writes it', async () => {
  expect(await decide('packed environment v1', `${sha1('packed environment v1')}\n`)).toEqual({ due: false, current: true });
});

it('sends a host to pixi-pack.yml when the tarball changed, the record is another, or there is none', async () => {
  expect(await decide('packed environment v2', `${sha1('packed environment v1')}\n`)).toEqual({ due: true, current: false });
  expect(await decide('packed environment v1', `${sha1('packed environment v1')}`)).toEqual({ due: true, current: false });
  expect(await decide('packed environment v1', null)).toEqual({ due: true, current: false });
});
