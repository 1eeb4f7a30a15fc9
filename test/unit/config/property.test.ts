import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadCluster } from '../../../src/config/index.js';

/** Every string field of the inventory a user controls, as a path into the minimal inventory below. */
const STRING_FIELDS: (string | number)[][] = [
  ['all', 'vars', 'prefect_version'],
  ['all', 'vars', 'prefect_user'],
  ['all', 'vars', 'prefect_install_dir'],
  ['all', 'vars', 'prefect_home'],
  ['all', 'vars', 'prefect_flows_dir'],
  ['all', 'vars', 'prefect_environment', 'prefix'],
  ['all', 'vars', 'prefect_api', 'bind_host'],
  ['all', 'vars', 'prefect_api', 'url'],
  ['all', 'vars', 'ansible_user'],
  ['all', 'vars', 'prefect_work_pools', 'cpu', 'env', 'X'],
  ['all', 'children', 'prefect_server', 'hosts', 'srv', 'ansible_host'],
  ['all', 'children', 'prefect_workers', 'hosts', 'w1', 'prefect_worker_pools', 0],
  ['all', 'children', 'prefect_workers', 'hosts', 'w1', 'prefect_worker_gpu_ids', 0],
];

function baseInventory(): Record<string, unknown> {
  return {
    all: {
      vars: {
        ansible_user: 'root',
        prefect_version: '3.4.11',
        prefect_user: 'prefect',
        prefect_install_dir: '/opt/prefect',
        prefect_home: '/var/lib/prefect',
        prefect_flows_dir: '/opt/prefect/flows',
        prefect_environment: { source: 'prefix', prefix: '/software/prefect' },
        prefect_api: { bind_host: '0.0.0.0', url: 'http://10.0.0.1:4200/api' },
        prefect_work_pools: { cpu: { env: { X: 'x' } } },
      },
      children: {
        prefect_server: { hosts: { srv: { ansible_host: '10.0.0.1' } } },
        prefect_workers: { hosts: { w1: { prefect_worker_pools: ['cpu'], prefect_worker_gpu_ids: ['0'] } } },
      },
    },
  };
}

function setIn(target: Record<string, unknown>, at: (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = target;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[at[at.length - 1] as string | number] = value;
}

/** Strings rich in what breaks YAML and Ansible: controls, line separators, lone surrogates, quotes, Jinja, colons. */
const nastyString = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\u0000', '\t', '\n', '\r', '\u0085', '\u2028', '\u2029', '\ud800', '\udfff', '"', "'", ':', '#', '{{', '}}', '- ', '/', '..', ' ', '\\'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 30,
});

describe('arbitrary strings never make loading throw', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pag-prop-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('in any string field: either a valid config carrying the value verbatim, or an error diagnostic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...STRING_FIELDS), nastyString, async (field, value) => {
        const inventory = baseInventory();
        setIn(inventory, field, value);
        await writeFile(path.join(dir, 'inv.yml'), stringify(inventory, { version: '1.1' }));
        const result = await loadCluster({ inventoryPath: 'inv.yml', cwd: dir });
        const errors = result.diagnostics.filter((d) => d.severity === 'error');
        if (result.config) {
          expect(errors).toEqual([]);
          // Whatever was accepted reaches the config unchanged (modulo a trailing slash on paths).
          expect(JSON.stringify(result.config)).toContain(JSON.stringify(value.replace(/\/+$/, '')).slice(1, -1));
        } else {
          expect(errors.length).toBeGreaterThan(0);
        }
        for (const d of result.diagnostics) {
          expect(d.line).toBeGreaterThanOrEqual(1);
          expect(d.col).toBeGreaterThanOrEqual(1);
          expect(d.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  test('any file content at all: diagnostics, never an exception', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(nastyString, fc.string({ unit: 'binary', maxLength: 200 })), async (text) => {
        await writeFile(path.join(dir, 'raw.yml'), text);
        const result = await loadCluster({ inventoryPath: 'raw.yml', cwd: dir });
        expect(result.config).toBeUndefined();
        expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
      }),
      { numRuns: 200 },
    );
  }, 60_000);
});
