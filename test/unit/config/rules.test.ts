import { loadFixture, findings, where } from './helpers.js';

describe('semantic rules', () => {
  test('prefect_worker_limits: an unknown pool is an error at its key, a pool the host does not serve a warning', async () => {
    const { diagnostics, config } = await loadFixture('worker-limits-bad.yml');
    expect(config).toBeUndefined();
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '8:7 warning unserved-pool | work pool gpu-pool is served by no worker: flows deployed to it would never run; add it to some worker\'s prefect_worker_pools',
      '13:11 warning worker-keys-ignored | host srv is not in prefect_workers, so its prefect_worker_limits is ignored',
      '19:13 error undefined-pool | prefect_worker_limits names work pool "cpu-pol", which prefect_work_pools does not define; did you mean "cpu-pool"? (defined: cpu-pool, gpu-pool)',
      '20:13 warning worker-limit-unused | prefect_worker_limits sets a limit for pool gpu-pool, which host w1 does not serve (prefect_worker_pools); it is ignored',
    ]);
    const zero = await loadFixture('worker-limits-zero.yml');
    expect(zero.diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '19:45 error schema | prefect_worker_limits.cpu-pool of host w2 must be an integer of at least 1, got 0',
    ]);
  });

  test('one-server: no prefect_server group points at all.children', async () => {
    const { diagnostics } = await loadFixture('no-server.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '6:3 error one-server | there is no prefect_server group; add all.children.prefect_server.hosts with exactly one host (the Prefect server)',
      '10:34 error undefined-pool | work pool "cpu" is not defined in prefect_work_pools',
    ]);
  });

  test('one-server: two hosts point at the group', async () => {
    const { diagnostics } = await loadFixture('two-servers.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '7:5 error one-server | group prefect_server has 2 hosts (srv1, srv2); it needs exactly one, the host that runs the Prefect server',
    ]);
  });

  test('one-server: an empty group points at the group', async () => {
    expect(await findings('empty-server.yml')).toEqual(['7:5 error one-server']);
  });

  test('pools: undefined (with suggestion), GPU ids required and unused, worker without pools, unserved, ignored keys', async () => {
    const { diagnostics, config } = await loadFixture('pools.yml');
    expect(config).toBeUndefined();
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      "10:7 warning unserved-pool | work pool idle-pool is served by no worker: flows deployed to it would never run; add it to some worker's prefect_worker_pools",
      '19:34 error undefined-pool | work pool "cpu-pol" is not defined in prefect_work_pools; did you mean "cpu-pool"? (defined: cpu-pool, gpu-pool, idle-pool)',
      '19:43 error gpu-ids-required | host w1 serves GPU pool gpu-pool but lists no prefect_worker_gpu_ids; add the GPUs its workers may use, e.g. prefect_worker_gpu_ids: [0]',
      '22:35 warning gpu-ids-unused | prefect_worker_gpu_ids is set for host w2, which serves no GPU pool (gpu: true); it is ignored',
      '23:9 error worker-without-pools | host w3 is in prefect_workers but sets no prefect_worker_pools; list the pools it serves, e.g. prefect_worker_pools: [cpu-pool]',
      '27:11 warning worker-keys-ignored | host stray is not in prefect_workers, so its prefect_worker_pools is ignored',
    ]);
  });

  test('api-port-mismatch: the URL port (default 443 for https) differs from prefect_api.port', async () => {
    const { diagnostics, config } = await loadFixture('api-port.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '7:12 warning api-port-mismatch | prefect_api.url uses port 443 but the server listens on prefect_api.port 4300; fine behind a reverse proxy, otherwise make them agree',
    ]);
    expect(config?.prefect_api_port).toBe(4300);
  });

  test('port-conflict: a co-located worker health check on the API port', async () => {
    expect(await findings('port-conflict.yml')).toEqual(['5:25 error port-conflict']);
  });

  test('group-cycle: groups that contain themselves', async () => {
    expect(await findings('group-cycle.yml')).toEqual(['10:5 error group-cycle', '12:9 error group-cycle']);
  });

  test('artifact-missing: a warning by default, an error when artifacts are required', async () => {
    expect(await findings('pixi-pack.yml')).toEqual(['6:26 warning artifact-missing', '7:27 warning artifact-missing']);
    const strict = await loadFixture('pixi-pack.yml', undefined, { requireArtifacts: true });
    expect(strict.diagnostics.map(where)).toEqual(['6:26 error artifact-missing', '7:27 error artifact-missing']);
    expect(strict.diagnostics[0]?.message).toContain('artifacts/missing-env.tar');
    expect(strict.diagnostics[1]?.message).toContain('is not a file');
    expect(strict.config).toBeUndefined();
  });

  test('database-password-required: PostgreSQL needs the password in the secrets file', async () => {
    const { diagnostics, config, secrets } = await loadFixture('postgres.yml', 'secrets-auth-only.yml');
    expect(diagnostics.map((d) => `${d.file} ${where(d)} | ${d.message}`)).toEqual([
      'secrets-auth-only.yml 2:1 error database-password-required | prefect_database_password is required: postgres.yml sets prefect_database.type to postgresql',
    ]);
    expect(config).toBeUndefined();
    expect(secrets).toBeUndefined();
  });

  test('without a secrets file the password is not checked (render needs no secrets)', async () => {
    const { diagnostics, config } = await loadFixture('postgres.yml');
    expect(diagnostics).toEqual([]);
    expect(config?.prefect_database).toEqual({
      type: 'postgresql',
      mode: 'external',
      host: 'db.example.org',
      port: 5432,
      name: 'prefect',
      user: 'prefect',
      pool_size: 5,
      max_overflow: 10,
    });
  });

  test('database-password-unused: a password with SQLite is a warning', async () => {
    const { diagnostics, secrets } = await loadFixture('minimal.yml', 'secrets-valid.yml');
    expect(diagnostics.map((d) => `${d.file} ${where(d)}`)).toEqual(['secrets-valid.yml 2:1 warning database-password-unused']);
    expect(secrets?.prefect_database_password).toBe('p@ss:word');
  });

  test('PostgreSQL with a complete secrets file loads both', async () => {
    const { diagnostics, secrets } = await loadFixture('postgres.yml', 'secrets-valid.yml');
    expect(diagnostics).toEqual([]);
    expect(secrets).toMatchObject({ prefect_api_auth_string: 'admin:{{ not-a-template }}', prefect_database_password: 'p@ss:word' });
  });
});
