/** Every inventory in examples/ validates without findings and renders. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster } from '../../../src/config/index.js';
import { renderTree } from '../../../src/render/index.js';
import { repoRoot } from './helpers.js';

const examplesDir = path.join(repoRoot, 'examples');
const inventories = (await fs.readdir(examplesDir)).filter((f) => f.endsWith('.yml')).sort();

it('has example inventories', () => {
  expect(inventories).toContain('flint.yml');
});

describe.each(inventories)('examples/%s', (file) => {
  it('validates without findings and renders', async () => {
    const { config, diagnostics } = await loadCluster({ inventoryPath: path.join('examples', file), cwd: repoRoot });
    expect(diagnostics).toEqual([]);
    expect(config).toBeDefined();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-example-'));
    try {
      const result = await renderTree(config!, path.join(dir, 'rendered'));
      expect(result.written).toContain('group_vars/all/pag_ansible.yml');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

it('flint: its pool, timeouts, keep-alive and CSRF reach the server, its PostgreSQL settings the drop-in file', async () => {
  const { config } = await loadCluster({ inventoryPath: 'examples/flint.yml', cwd: repoRoot });
  expect(config?.prefect_server_env).toEqual({
    PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED: 'false',
    PREFECT_SERVER_API_KEEPALIVE_TIMEOUT: '10',
    PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT: '90',
    PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW: '150',
    PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE: '75',
    PREFECT_SERVER_DATABASE_TIMEOUT: '80',
    PREFECT_SERVER_EVENTS_RETENTION_PERIOD: 'P7D',
    PREFECT_SERVER_LOGGING_LEVEL: 'WARNING',
  });
  const db = config?.prefect_database;
  expect(db?.type === 'postgresql' && db.postgresql_conf).toMatchObject({ max_connections: '9124', shared_buffers: '16GB', synchronous_commit: 'off', checkpoint_completion_target: '0.9' });
});
