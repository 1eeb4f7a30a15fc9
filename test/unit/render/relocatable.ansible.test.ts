/**
 * The rendered tree is relocatable: the same inventory checked out in two places renders to the same bytes, and
 * real Ansible resolves the controller paths of the tree (relative to the inventory) wherever the checkout is.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { main } from '../../../src/cli/main.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const quiet = { out: () => {}, err: () => {} };

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-reloc-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A checkout of a site repository: the example inventory and its artifacts. */
async function checkout(dir: string): Promise<string> {
  await fs.mkdir(path.join(dir, 'artifacts'), { recursive: true });
  await fs.copyFile(path.join(root, 'inventory.example.yml'), path.join(dir, 'inventory.yml'));
  await fs.writeFile(path.join(dir, 'artifacts', 'prefect-env.tar'), 'packed environment');
  await fs.writeFile(path.join(dir, 'artifacts', 'pixi-unpack'), '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

async function tree(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) files[path.relative(dir, path.join(e.parentPath, e.name))] = (await fs.readFile(path.join(e.parentPath, e.name))).toString('base64');
  }
  return files;
}

it('renders the same bytes from two checkouts in different directories', async () => {
  const a = await checkout(path.join(tmp, 'alice', 'site'));
  const b = await checkout(path.join(tmp, 'ci', 'builds', 'x', 'site-config'));
  expect(await main(['node', 'pag-ansible', 'render', '-i', 'inventory.yml'], quiet, a)).toBe(0);
  expect(await main(['node', 'pag-ansible', 'render', '-i', 'inventory.yml'], quiet, b)).toBe(0);
  const ta = await tree(path.join(a, 'rendered'));
  expect(Object.keys(ta).length).toBeGreaterThan(40);
  expect(await tree(path.join(b, 'rendered'))).toEqual(ta);
  for (const text of Object.values(ta)) expect(Buffer.from(text, 'base64').toString('utf8')).not.toContain(tmp);
  // And the committed tree passes `render --check` in the other checkout.
  await fs.rm(path.join(b, 'rendered'), { recursive: true });
  await fs.cp(path.join(a, 'rendered'), path.join(b, 'rendered'), { recursive: true });
  expect(await main(['node', 'pag-ansible', 'render', '-i', 'inventory.yml', '--check'], quiet, b)).toBe(0);
});

const PROBE = `---
- name: Show where the role copies its controller artifacts from
  hosts: pag-server
  connection: local
  gather_facts: false
  vars_files:
    - roles/prefect_environment/defaults/main.yml
  tasks:
    - name: Write the resolved paths
      ansible.builtin.copy:
        dest: "{{ probe_out }}"
        mode: "0600"
        content: "{{ {'tarball': prefect_environment_pixi_pack_tarball_src, 'unpack': prefect_environment_pixi_unpack_binary_src} | to_json }}"
`;

async function resolvedPaths(site: string, outDir: string): Promise<{ tarball: string; unpack: string }> {
  await fs.writeFile(path.join(outDir, 'probe.yml'), PROBE);
  const out = path.join(tmp, `probe-${path.basename(site)}.json`);
  await run('ansible-playbook', ['probe.yml', '-e', `probe_out=${out}`], {
    cwd: outDir,
    env: { ...process.env, ANSIBLE_CONFIG: path.join(outDir, 'ansible.cfg'), ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' },
  });
  return JSON.parse(await fs.readFile(out, 'utf8')) as { tarball: string; unpack: string };
}

it('lets Ansible find the artifacts relative to the inventory, wherever the checkout and the tree are', async () => {
  const site = await checkout(path.join(tmp, 'moving', 'site'));
  expect(await main(['node', 'pag-ansible', 'render', '-i', 'inventory.yml', '-o', 'deploy/ansible'], quiet, site)).toBe(0);
  const first = await resolvedPaths(site, path.join(site, 'deploy', 'ansible'));
  expect(await fs.readFile(first.tarball, 'utf8')).toBe('packed environment');
  expect(path.resolve(first.unpack)).toBe(path.join(site, 'artifacts', 'pixi-unpack'));

  const moved = path.join(tmp, 'elsewhere', 'site2');
  await fs.mkdir(path.dirname(moved), { recursive: true });
  await fs.rename(site, moved);
  const second = await resolvedPaths(moved, path.join(moved, 'deploy', 'ansible'));
  expect(path.resolve(second.tarball)).toBe(path.join(moved, 'artifacts', 'prefect-env.tar'));
  expect(await fs.readFile(second.tarball, 'utf8')).toBe('packed environment');
}, 60_000);
