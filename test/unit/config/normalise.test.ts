import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadCluster, loadClusterOrThrow } from '../../../src/config/index.js';
import { ValidationError } from '../../../src/errors.js';
import { loadFixture, repoRoot, where } from './helpers.js';

describe('the example files', () => {
  test('validate without errors where they are (only the not-yet-built artifacts are missing)', async () => {
    const result = await loadCluster({ inventoryPath: 'inventory.example.yml', secretsPath: 'secrets.example.yml', cwd: repoRoot });
    expect(result.diagnostics.map(where)).toEqual(['20:26 warning artifact-missing', '21:27 warning artifact-missing']);
    expect(result.config).toBeDefined();
    expect(result.secrets?.prefect_api_auth_string).toBe('admin:change-me');
  });

  describe('next to their artifacts', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'pag-example-'));
      await copyFile(path.join(repoRoot, 'inventory.example.yml'), path.join(dir, 'inventory.yml'));
      await copyFile(path.join(repoRoot, 'secrets.example.yml'), path.join(dir, 'secrets.yml'));
      await mkdir(path.join(dir, 'artifacts'));
      await writeFile(path.join(dir, 'artifacts/prefect-env.tar'), '');
      await writeFile(path.join(dir, 'artifacts/pixi-unpack'), '');
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    test('validate clean and normalise to the documented cluster', async () => {
      const { config, secrets, warnings } = await loadClusterOrThrow({
        inventoryPath: 'inventory.yml',
        secretsPath: 'secrets.yml',
        cwd: dir,
        requireSecrets: true,
        requireArtifacts: true,
      });
      expect(warnings).toEqual([]);
      expect(secrets).toEqual({ path: path.join(dir, 'secrets.yml'), prefect_api_auth_string: 'admin:change-me' });
      const portable = JSON.parse(JSON.stringify(config).split(dir).join('<dir>'));
      expect(portable).toMatchSnapshot();
    });
  });
});

describe('defaults and normalisation', () => {
  test('a minimal inventory gets every documented default', async () => {
    const { config, diagnostics } = await loadFixture('minimal.yml');
    expect(diagnostics).toEqual([]);
    expect(config).toMatchObject({
      allVars: {},
      server: { name: 'srv', vars: {} },
      prefect_user: 'prefect',
      prefect_group: 'prefect',
      prefect_install_dir: '/opt/prefect',
      prefect_home: '/var/lib/prefect',
      prefect_config_dir: '/etc/prefect',
      prefect_flows_dir: '/opt/prefect/flows',
      prefect_environment: { source: 'prefix', prefix: '/software/prefect' },
      prefect_environment_id: '3.4.11-prefix',
      prefect_api_bind_host: '0.0.0.0',
      prefect_api_port: 4200,
      prefect_server_api_local_url: 'http://127.0.0.1:4200/api',
      prefect_analytics_enabled: false,
      prefect_database: { type: 'sqlite' },
      prefect_work_pools: [{ name: 'cpu', type: 'process', concurrency_limit: 4, worker_limit: null, gpu: false, drain_timeout: 600, env: {} }],
      prefect_worker_healthcheck: false,
    });
    expect(config?.workers).toEqual([
      {
        name: 'w1',
        vars: {},
        pools: ['cpu'],
        gpu_ids: [],
        units: [{ pool: 'cpu', unit: 'prefect-worker-cpu', worker_name: 'w1-cpu', limit: 4, healthcheck_port: 8080, gpu_ids: [], env: {} }],
      },
    ]);
  });

  test('wheelhouse defaults: python and the requirement pinned to prefect_version; controller paths kept relative to the inventory', async () => {
    const { config } = await loadFixture('postgres.yml');
    expect(config?.prefect_environment).toEqual({
      source: 'wheelhouse',
      wheelhouse_dir: 'artifacts/wheelhouse',
      python: '/usr/bin/python3',
      requirement: 'prefect==3.4.11',
      system_site_packages: false,
      system_packages: [],
    });
    expect(config?.prefect_environment_id).toBe('3.4.11-wheelhouse');
  });

  test('a wheelhouse over the OS Python packages, and the PostgreSQL major version to install, reach the roles', async () => {
    const { config, diagnostics } = await loadFixture('postgres-local-debian.yml');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(config?.prefect_environment).toMatchObject({ system_site_packages: true, system_packages: ['python3-venv', 'python3-fastapi'] });
    expect(config?.prefect_database).toMatchObject({ type: 'postgresql', mode: 'local', postgresql_version: 17 });
  });

  test('pixi_unpack_binary may come with the wheelhouse source, for flows with a packed environment', async () => {
    const { config, diagnostics } = await loadFixture('wheelhouse-pixi-unpack.yml');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(config?.prefect_environment).toMatchObject({
      source: 'wheelhouse',
      pixi_unpack_binary: 'artifacts/pixi-unpack',
    });
  });

  test('per-host worker limits override the pool\'s worker_limit on that host only (16, 8, 32 on three hosts)', async () => {
    const { config, diagnostics } = await loadFixture('worker-limits.yml');
    expect(diagnostics).toEqual([]);
    const limits = Object.fromEntries(config!.workers.map((w) => [w.name, Object.fromEntries(w.units.map((u) => [u.pool, u.limit]))]));
    expect(limits).toEqual({
      'w-medium': { 'cpu-pool': 16 },
      'w-small': { 'cpu-pool': 8 },
      'w-big': { 'cpu-pool': 32, 'gpu-pool': 2 },
      'w-default': { 'cpu-pool': 4 },
    });
  });

  test('group vars: host > deeper group > prefect_workers > all; co-located server and worker; units and limits', async () => {
    const { config, diagnostics } = await loadFixture('group-vars.yml');
    expect(diagnostics).toEqual([]);
    if (!config) throw new Error('no config');
    expect(config.allVars).toEqual({ ansible_user: 'root' });
    // node1 is both the server and a worker: it gets the prefect_workers group vars in both roles.
    expect(config.server).toEqual({ name: 'node1', vars: { ansible_user: 'prefect-admin', ansible_host: '10.0.0.1' } });
    // The trailing slash of the prefix is dropped; a server bound to one address checks itself there.
    expect(config.prefect_environment).toEqual({ source: 'prefix', prefix: '/software/prefect' });
    expect(config.prefect_server_api_local_url).toBe('http://10.0.0.1:4200/api');
    const gpuIds = ['GPU-5ec7a6f0-1234-5678-9abc-def012345678', '1'];
    const cpuEnv = { DEBUG: 'true', LEVEL: '3' };
    expect(config.workers).toEqual([
      {
        name: 'node1',
        vars: { ansible_user: 'prefect-admin', ansible_host: '10.0.0.1' },
        pools: ['cpu'],
        gpu_ids: [],
        units: [{ pool: 'cpu', unit: 'prefect-worker-cpu', worker_name: 'node1-cpu', limit: 10, healthcheck_port: 8080, gpu_ids: [], env: cpuEnv }],
      },
      {
        name: 'node2',
        vars: { ansible_user: 'prefect-admin', ansible_port: 2222 },
        pools: ['cpu', 'gpu'],
        gpu_ids: gpuIds,
        units: [
          { pool: 'cpu', unit: 'prefect-worker-cpu', worker_name: 'node2-cpu', limit: 10, healthcheck_port: 8080, gpu_ids: [], env: cpuEnv },
          { pool: 'gpu', unit: 'prefect-worker-gpu', worker_name: 'node2-gpu', limit: 1, healthcheck_port: 8081, gpu_ids: gpuIds, env: {} },
        ],
      },
      {
        name: 'node3',
        vars: { ansible_user: 'other' },
        pools: ['gpu'],
        gpu_ids: gpuIds,
        units: [{ pool: 'gpu', unit: 'prefect-worker-gpu', worker_name: 'node3-gpu', limit: 1, healthcheck_port: 8080, gpu_ids: gpuIds, env: {} }],
      },
    ]);
  });

  test('a GPU pool without worker_limit runs as many flows per worker as the host lists GPUs', async () => {
    const { config } = await loadCluster({ inventoryPath: path.join(repoRoot, 'inventory.example.yml') });
    const gpuUnit = config?.workers.find((w) => w.name === 'pag-worker-2')?.units.find((u) => u.pool === 'gpu-pool');
    expect(gpuUnit).toMatchObject({ limit: 2, gpu_ids: ['0', '1'], healthcheck_port: 8081 });
  });
});

describe('loadClusterOrThrow', () => {
  test('throws a ValidationError carrying every diagnostic', async () => {
    await expect(loadClusterOrThrow({ inventoryPath: 'pools.yml', cwd: path.join(repoRoot, 'test/fixtures/config') })).rejects.toThrow(ValidationError);
    try {
      await loadClusterOrThrow({ inventoryPath: 'pools.yml', cwd: path.join(repoRoot, 'test/fixtures/config') });
    } catch (e) {
      expect((e as ValidationError).diagnostics.map(where)).toContain('23:9 error worker-without-pools');
      expect((e as ValidationError).exitCode).toBe(1);
    }
  });

  test('requireSecrets without a secrets file is a usage error', async () => {
    await expect(loadClusterOrThrow({ inventoryPath: 'minimal.yml', cwd: path.join(repoRoot, 'test/fixtures/config'), requireSecrets: true })).rejects.toThrow(
      /needs the secrets file/,
    );
  });

  test('warnings are returned, not thrown', async () => {
    const { warnings } = await loadClusterOrThrow({ inventoryPath: 'api-port.yml', cwd: path.join(repoRoot, 'test/fixtures/config') });
    expect(warnings.map(where)).toEqual(['7:12 warning api-port-mismatch']);
  });
});
