/**
 * Property test: hostile strings in every user-facing string field render to YAML that real Ansible parses,
 * reads back exactly, and never evaluates as Jinja2. Runs the real `ansible-playbook` (Debian's ansible-core). The
 * worker units are read as the worker role reads them (its vars file and the pag_worker_units filter, which names
 * units and workers after hostile pools), so the names made from user text are proved inert too.
 */
import { execFile } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { generatedFiles } from '../../../src/render/generated-vars.js';
import { HEALTHCHECK_BASE_PORT } from '../../../src/config/cluster.js';
import type { ClusterConfig } from '../../../src/config/types.js';
import { byCodeUnit } from '../../../src/util/compare.js';
import { repoRoot } from '../config/helpers.js';
import { exampleCluster } from '../../helpers/cluster-fixture.js';

const run = promisify(execFile);
jest.setTimeout(180_000);

const CANARY = path.join(os.tmpdir(), `pag-injection-canary-${process.pid}`);

/** Strings built from the pieces that break naive templating, mixed with arbitrary unicode. */
const hostile = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '{{ 7 * 7 }}',
        '{% if true %}x{% endif %}',
        `{{ lookup('pipe', 'touch ${CANARY}') }}`,
        '{# c #}',
        '"',
        "'",
        '\\',
        '\n',
        '\t',
        ': ',
        ' #',
        '- ',
        '? ',
        '&a',
        '*a',
        '!!python/object',
        '|',
        '>',
        '%',
        '@',
        '`',
        'yes',
        'on',
        '0o17',
        '1_000',
        '2001-12-14',
        '~',
        'null',
        '\u00e9',
        '\u4e2d',
        '\ud83d\ude00',
        '\u0085',
        '\u2028',
        '\u2029',
        '\u00a0',
        '\u0007',
        '\u009b',
      ),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''));

type Probe = Record<string, unknown>;

function hostileCluster(s: string[]): ClusterConfig {
  const base = exampleCluster();
  const pick = (i: number) => s[i % s.length] as string;
  const env = { PREFECT_LOGGING_EXTRA_LOGGERS: pick(0), OTHER: pick(1) };
  return {
    ...base,
    allVars: { ansible_user: pick(2) },
    prefect_version: pick(3),
    prefect_user: pick(4),
    prefect_install_dir: pick(5),
    prefect_home: pick(6),
    prefect_flows_dir: pick(7),
    prefect_environment: { source: 'wheelhouse', wheelhouse_dir: pick(8), python: pick(9), requirement: pick(10), system_site_packages: false, system_packages: [] },
    prefect_api_url: pick(11),
    prefect_api_bind_host: pick(12),
    prefect_database: { type: 'postgresql', mode: 'external', host: pick(13), port: 5432, name: pick(14), user: pick(15), pool_size: 5, max_overflow: 10 },
    prefect_work_pools: base.prefect_work_pools.map((p) => ({ ...p, env })),
    workers: base.workers.map((w) => ({
      ...w,
      vars: { ansible_host: pick(16) },
      gpu_ids: [pick(17)],
      // Hostile pools too (distinct on a host): the role makes unit and worker names of them.
      units: w.units.map((u, i) => ({ ...u, pool: `${pick(13 + i)}${i}`, env, gpu_ids: [pick(17)] })),
    })),
  };
}

/** What Ansible should see for each host, computed from the config (the oracle). */
function expected(c: ClusterConfig, host: string): Probe {
  const w = c.workers.find((x) => x.name === host);
  return {
    ansible_user: c.allVars.ansible_user,
    prefect_version: c.prefect_version,
    prefect_user: c.prefect_user,
    prefect_home: c.prefect_home,
    prefect_environment: c.prefect_environment,
    prefect_api_url: c.prefect_api_url,
    prefect_database: c.prefect_database,
    pool_env: c.prefect_work_pools[0]?.env,
    // As the role derives them (vars/main.yml): sorted by pool, named after it and the host, ports counted up.
    worker_units: w
      ? [...w.units]
          .sort((a, b) => byCodeUnit(a.pool, b.pool))
          .map((u, i) => ({ ...u, unit: `prefect-worker-${u.pool}`, worker_name: `${host}-${u.pool}`, healthcheck_port: HEALTHCHECK_BASE_PORT + i }))
      : null,
    ansible_host: (w ?? c.server).vars.ansible_host ?? host,
  };
}

const PROBE_PLAY = `---
- name: Dump what Ansible read
  hosts: all
  gather_facts: false
  connection: local
  vars_files:
    - worker-vars.yml
  tasks:
    - name: Write the variables of each host as JSON
      ansible.builtin.copy:
        dest: "{{ probe_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
        content: "{{ probe | to_json }}"
      vars:
        probe:
          ansible_user: "{{ ansible_user }}"
          prefect_version: "{{ prefect_version }}"
          prefect_user: "{{ prefect_user }}"
          prefect_home: "{{ prefect_home }}"
          prefect_environment: "{{ prefect_environment }}"
          prefect_api_url: "{{ prefect_api_url }}"
          prefect_database: "{{ prefect_database }}"
          pool_env: "{{ prefect_work_pools[0].env }}"
          ansible_host: "{{ ansible_host | default(inventory_hostname) }}"
    # One item at a time, as the role's tasks and templates take them: Ansible templates a loop item's strings
    # again when a task reads it, unless they are unsafe.
    - name: Write each worker unit as the worker role reads it
      ansible.builtin.copy:
        dest: "{{ probe_dir }}/{{ inventory_hostname }}.unit-{{ unit_index }}.json"
        mode: "0600"
        content: "{{ item | to_json }}"
      loop: "{{ prefect_worker_units | default([]) }}"
      loop_control:
        index_var: unit_index
`;

beforeAll(() => {
  if (!existsSync('/usr/bin/ansible-playbook')) throw new Error('ansible-playbook is required: apt-get install ansible-core');
});

it('renders hostile strings that real Ansible reads back exactly and never evaluates', async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(hostile, { minLength: 18, maxLength: 18 }), async (strings) => {
      runs++;
      const cluster = hostileCluster(strings);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-inject-'));
      try {
        for (const [rel, text] of generatedFiles(cluster)) {
          await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
          await fs.writeFile(path.join(dir, rel), text);
        }
        await fs.writeFile(path.join(dir, 'probe.yml'), PROBE_PLAY);
        await fs.copyFile(path.join(repoRoot, 'roles-templates/roles/prefect_worker/vars/main.yml'), path.join(dir, 'worker-vars.yml'));
        await fs.mkdir(path.join(dir, 'out'));
        await run('ansible-playbook', ['-i', 'inventory.yml', 'probe.yml', '-e', `probe_dir=${path.join(dir, 'out')}`], {
          cwd: dir,
          env: { ...process.env, ANSIBLE_FILTER_PLUGINS: path.join(repoRoot, 'roles-templates/filter_plugins'), ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' },
        });
        for (const host of ['pag-server', 'pag-worker-1', 'pag-worker-2']) {
          const got = JSON.parse(await fs.readFile(path.join(dir, 'out', `${host}.json`), 'utf8')) as Probe;
          const want = expected(cluster, host);
          if (want.worker_units === null) delete want.worker_units;
          else {
            const units = (await fs.readdir(path.join(dir, 'out'))).filter((f) => f.startsWith(`${host}.unit-`)).sort();
            got.worker_units = await Promise.all(units.map(async (f) => JSON.parse(await fs.readFile(path.join(dir, 'out', f), 'utf8')) as unknown));
          }
          expect(got).toEqual(JSON.parse(JSON.stringify(want)));
        }
        expect(existsSync(CANARY)).toBe(false);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }),
    {
      numRuns: 6,
      endOnFailure: true,
      // Always include one case where every field is a Jinja2 payload, whatever the random draws are.
      examples: [[Array.from({ length: 18 }, (_, i) => `{{ 7 * ${i} }}{% raw %}"x"{% endraw %}{{ lookup('pipe', 'touch ${CANARY}') }}`)]],
    },
  );
  expect(runs).toBeGreaterThanOrEqual(6);
});
