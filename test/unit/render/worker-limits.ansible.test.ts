/**
 * Per-host worker limits reach the worker units: the unit template, rendered by real Ansible from the generated
 * inventory, starts each host's worker with its own --limit (16, 8 and 32 on three hosts; the pool's otherwise).
 * The generated inventory leaves out a unit's empty GPU list and environment: the role's defaults stand in for them
 * (its environment files and its list of the host's GPUs), as real Ansible reads them.
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
    - roles/prefect_worker/vars/main.yml
  vars:
    prefect_environment_bin: /opt/prefect/current/bin
    prefect_home: /var/lib/prefect
    prefect_api_url: http://10.0.0.1:4200/api
    prefect_api_auth_string: probe:probe
  tasks:
    - name: Write each unit of the host
      ansible.builtin.template:
        src: roles/prefect_worker/templates/prefect-worker.service.j2
        dest: "{{ probe_dir }}/{{ inventory_hostname }}-{{ item.unit }}.service"
        mode: "0600"
      loop: "{{ prefect_worker_units }}"
    - name: Write each unit's environment file
      ansible.builtin.template:
        src: roles/prefect_worker/templates/worker.env.j2
        dest: "{{ probe_dir }}/{{ inventory_hostname }}-{{ item.unit }}.env"
        mode: "0600"
      loop: "{{ prefect_worker_units }}"
    - name: Write the host's GPUs as the role reads them
      ansible.builtin.copy:
        content: "{{ prefect_worker_gpu_ids | to_json }}"
        dest: "{{ probe_dir }}/{{ inventory_hostname }}.gpus"
        mode: "0600"
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
    const files = (await fs.readdir(path.join(dir, 'units'))).sort();
    for (const name of files.filter((f) => f.endsWith('.service'))) {
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

    // Only w-big has GPUs: the other hosts' records, and its CPU unit, were written without a GPU list or an env.
    const inventory = await fs.readFile(path.join(out, 'inventory.yml'), 'utf8');
    expect(inventory.match(/^ +(?:prefect_worker_)?gpu_ids:/gm)).toHaveLength(2);
    expect(inventory).not.toMatch(/^ +env:/m);
    const read = (name: string) => fs.readFile(path.join(dir, 'units', name), 'utf8');
    expect(JSON.parse(await read('w-big.gpus'))).toEqual(['0', '1']);
    expect(JSON.parse(await read('w-small.gpus'))).toEqual([]);
    expect(await read('w-big-prefect-worker-gpu-pool.env')).toMatch(/^CUDA_VISIBLE_DEVICES="?0,1"?$/m);
    for (const name of files.filter((f) => f.endsWith('.env') && !f.includes('gpu-pool'))) {
      const env = await read(name);
      expect(`${name}: ${/CUDA_VISIBLE_DEVICES|Environment of every flow run/.test(env)}`).toBe(`${name}: false`);
      expect(env).toMatch(/^PAG_WORKER_POOL="?cpu-pool"?$/m);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 60_000);
