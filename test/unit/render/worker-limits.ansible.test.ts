/**
 * Per-host worker limits reach the worker units: the unit template, rendered by real Ansible from the generated
 * inventory, starts each host's worker with its own --limit (16, 8 and 32 on three hosts; the pool's otherwise).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadClusterOrThrow } from '../../../src/config/index.js';
import { renderTree } from '../../../src/render/index.js';
import { fixturesDir } from '../config/helpers.js';

const run = promisify(execFile);

const PROBE = `---
- name: Render the worker units locally
  hosts: prefect_workers
  connection: local
  gather_facts: false
  vars_files:
    - roles/prefect_worker/defaults/main.yml
  vars:
    prefect_environment_bin: /opt/prefect/current/bin
  tasks:
    - name: Write each unit of the host
      ansible.builtin.template:
        src: roles/prefect_worker/templates/prefect-worker.service.j2
        dest: "{{ probe_dir }}/{{ inventory_hostname }}-{{ item.unit }}.service"
        mode: "0600"
      loop: "{{ prefect_worker_units }}"
`;

it('starts each worker with its host\'s own limit', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-limits-'));
  try {
    const { config } = await loadClusterOrThrow({ inventoryPath: 'worker-limits.yml', cwd: fixturesDir });
    const out = path.join(dir, 'tree');
    await renderTree(config, out);
    await fs.writeFile(path.join(out, 'probe.yml'), PROBE);
    await fs.mkdir(path.join(dir, 'units'));
    await run('ansible-playbook', ['probe.yml', '-e', `probe_dir=${path.join(dir, 'units')}`], {
      cwd: out,
      env: { ...process.env, ANSIBLE_CONFIG: path.join(out, 'ansible.cfg'), ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' },
    });
    const limits: Record<string, string | undefined> = {};
    for (const name of (await fs.readdir(path.join(dir, 'units'))).sort()) {
      const text = await fs.readFile(path.join(dir, 'units', name), 'utf8');
      limits[name] = /^ExecStart=.* --limit (\d+)/m.exec(text)?.[1];
    }
    expect(limits).toEqual({
      'w-big-prefect-worker-cpu-pool.service': '32',
      'w-big-prefect-worker-gpu-pool.service': '2',
      'w-default-prefect-worker-cpu-pool.service': '4',
      'w-medium-prefect-worker-cpu-pool.service': '16',
      'w-small-prefect-worker-cpu-pool.service': '8',
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 60_000);
