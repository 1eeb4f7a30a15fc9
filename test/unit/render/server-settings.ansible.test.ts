/**
 * Server settings and PostgreSQL tuning as real Ansible renders them from the generated variables:
 * - property: hostile values in prefect_server_env and prefect_database.postgresql_conf come out of server.env and
 *   conf.d/pag-ansible.conf as exactly those values, one line each (sh reads server.env back, a PostgreSQL-quoting
 *   parser the drop-in file), and are never evaluated as Jinja2;
 * - the sizing of shared_buffers, effective_cache_size, work_mem, ... from the host's memory and CPUs, and a
 *   postgresql_conf value winning over the sized one.
 */
import { execFile } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { parse } from 'yaml';
import type { ClusterConfig } from '../../../src/config/types.js';
import { renderTree } from '../../../src/render/index.js';
import { exampleCluster } from '../../helpers/cluster-fixture.js';

const run = promisify(execFile);
jest.setTimeout(180_000);

const CANARY = path.join(os.tmpdir(), `pag-settings-canary-${process.pid}`);
const ENV = { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3', ANSIBLE_LOCALHOST_WARNING: 'False' };

/** What the schema lets through (no control characters, U+2028/9 or lone surrogates), rich in quoting and Jinja. */
const hostile = fc
  .array(
    fc.oneof(
      fc.constantFrom('{{ 7 * 7 }}', '{% if true %}x{% endif %}', `{{ lookup('pipe', 'touch ${CANARY}') }}`, '{#', '"', "'", "''", '\\', '\\n', '$HOME', '${X}', '`id`', '%n', ' #', '# ', '=', ' ', 'off', '\u00e9', '\ud83d\ude00'),
      fc.string({ unit: 'grapheme', maxLength: 5 }).map((s) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '')),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''));

function tunedCluster(env: string[], conf: string[]): ClusterConfig {
  return exampleCluster({
    prefect_database: {
      type: 'postgresql', mode: 'local', host: '127.0.0.1', port: 5432, name: 'prefect', user: 'prefect', pool_size: 75, max_overflow: 150,
      postgresql_conf: Object.fromEntries(conf.map((v, i) => [`pag_setting_${i}`, v])),
      postgresql_autotune: true,
    },
    prefect_server_env: Object.fromEntries(env.map((v, i) => [`PREFECT_SERVER_TEST_${i}`, v])),
  });
}

const PROBE = `---
- name: Render the server's environment file and PostgreSQL drop-in file locally
  hosts: prefect_server
  connection: local
  gather_facts: false
  # Not the role's defaults as vars_files: those would outrank group_vars (in the role they rank lowest).
  vars:
    prefect_server_service: prefect-server
    prefect_server_ui_static_dir: /var/lib/prefect/ui
    prefect_api_auth_string: "admin:pw"
    prefect_database_password: "pw"
    prefect_server_postgresql_defaults: {shared_buffers: 128MB, pag_setting_0: sized}
  tasks:
    - name: Write server.env
      ansible.builtin.template:
        src: roles/prefect_server/templates/server.env.j2
        dest: "{{ probe_dir }}/server.env"
        mode: "0600"
    - name: Write the drop-in file
      ansible.builtin.template:
        src: roles/prefect_server/templates/pag-ansible.conf.j2
        dest: "{{ probe_dir }}/pag-ansible.conf"
        mode: "0600"
`;

/** postgresql.conf lines `name = 'value'`: '' is a quote, a backslash escapes the next character. */
function readPgConf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z][a-z0-9_]*) = '((?:[^'\\]|''|\\.)*)'$/su.exec(line);
    if (!m) throw new Error(`not a postgresql.conf setting line: ${JSON.stringify(line)}`);
    out[m[1] as string] = (m[2] as string).replace(/''|\\(.)/gsu, (all, ch: string | undefined) => (all === "''" ? "'" : (ch as string)));
  }
  return out;
}

async function renderProbe(config: ClusterConfig): Promise<{ env: string; conf: string; dir: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-settings-'));
  const tree = path.join(dir, 'tree');
  await renderTree(config, tree);
  await fs.writeFile(path.join(tree, 'probe.yml'), PROBE);
  await fs.mkdir(path.join(dir, 'out'));
  await run('ansible-playbook', ['probe.yml', '-e', `probe_dir=${path.join(dir, 'out')}`], { cwd: tree, env: { ...ENV, ANSIBLE_CONFIG: path.join(tree, 'ansible.cfg') } });
  return { env: await fs.readFile(path.join(dir, 'out', 'server.env'), 'utf8'), conf: await fs.readFile(path.join(dir, 'out', 'pag-ansible.conf'), 'utf8'), dir };
}

beforeAll(() => {
  if (!existsSync('/usr/bin/ansible-playbook')) throw new Error('ansible-playbook is required: apt-get install ansible-core');
});

it('writes hostile setting values as exactly those values, one line each, never evaluated', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(hostile, { minLength: 1, maxLength: 4 }), fc.array(hostile, { minLength: 1, maxLength: 4 }), async (envValues, confValues) => {
      const config = tunedCluster(envValues, confValues);
      const { env, conf, dir } = await renderProbe(config);
      try {
        // sh reads server.env back (its quoting is also systemd's EnvironmentFile= quoting).
        const { stdout } = await run('env', ['-i', 'sh', '-c', 'set -a; . "$1"; exec env -0', 'sh', path.join(dir, 'out', 'server.env')]);
        const read = Object.fromEntries(stdout.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
        envValues.forEach((v, i) => expect(read[`PREFECT_SERVER_TEST_${i}`]).toBe(v));
        expect(read.PREFECT_SERVER_DATABASE_PASSWORD).toBe('pw');
        expect(env.split('\n').filter((l) => l.startsWith('PREFECT_SERVER_TEST_'))).toHaveLength(envValues.length);
        // The inventory's value wins over the sized one; every line is one setting.
        const settings = readPgConf(conf);
        expect(settings).toEqual({ shared_buffers: '128MB', ...config.prefect_database.type === 'postgresql' && config.prefect_database.postgresql_conf });
        expect(existsSync(CANARY)).toBe(false);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 4, endOnFailure: true, examples: [[[`{{ lookup('pipe', 'touch ${CANARY}') }}`, '"$(id)"\\'], [`'; shared_buffers = '1GB`, `{{ 7 * 7 }}\\'`]]] },
  );
});

it('sizes PostgreSQL from the host: 25% / 75% of the memory, work_mem spread over the connections, half the CPUs', async () => {
  // The role's own variables (vars/main.yml), fed the first probe's output as postgresql.yml registers it.
  const roleVars = path.resolve('roles-templates/roles/prefect_server/vars/main.yml');
  expect(parse(await fs.readFile(roleVars, 'utf8'))).toHaveProperty('prefect_server_postgresql_defaults');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-sizing-'));
  try {
    const play = [
      {
        name: 'Size',
        hosts: 'localhost',
        connection: 'local',
        gather_facts: false,
        vars_files: [roleVars],
        tasks: [{ name: 'Show', 'ansible.builtin.copy': { dest: `${dir}/{{ case }}.json`, content: '{{ prefect_server_postgresql_defaults | to_json }}', mode: '0600' } }],
      },
    ];
    await fs.writeFile(path.join(dir, 'play.yml'), JSON.stringify(play));
    const cases: Record<string, Record<string, unknown>> = {
      // 64 GiB and 16 CPUs, flint's 9124 connections: work_mem at its 4 MB floor.
      flint: { prefect_server_postgresql_probe: { stdout_lines: ['size 67108864 16', 'unit enabled active', 'version 17'] }, prefect_database: { postgresql_conf: { max_connections: '9124', shared_buffers: '16GB' } } },
      // 2 GiB, 1 CPU, PostgreSQL's 100 connections.
      small: { prefect_server_postgresql_probe: { stdout_lines: ['size 2097152 1'] }, prefect_database: {} },
      off: { prefect_server_postgresql_probe: { stdout_lines: ['size 2097152 1'] }, prefect_database: { postgresql_autotune: false } },
    };
    for (const [name, vars] of Object.entries(cases)) {
      await run('ansible-playbook', ['-i', 'localhost,', 'play.yml', '-e', JSON.stringify({ ...vars, case: name })], { cwd: dir, env: ENV });
    }
    const read = async (name: string) => JSON.parse(await fs.readFile(path.join(dir, `${name}.json`), 'utf8')) as unknown;
    expect(await read('flint')).toEqual({ shared_buffers: '16384MB', effective_cache_size: '49152MB', maintenance_work_mem: '2048MB', work_mem: '4096kB', max_parallel_workers_per_gather: 4 });
    expect(await read('small')).toEqual({ shared_buffers: '512MB', effective_cache_size: '1536MB', maintenance_work_mem: '128MB', work_mem: '5242kB', max_parallel_workers_per_gather: 1 });
    expect(await read('off')).toEqual({});
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
