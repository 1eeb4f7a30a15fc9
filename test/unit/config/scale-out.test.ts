import { prefectAtLeast } from '../../../src/config/cluster.js';
import { loadFixture, where } from './helpers.js';

const shown = async (inventory: string, secrets?: string) => (await loadFixture(inventory, secrets)).diagnostics.map((d) => `${where(d)} | ${d.message}`);

describe('scale-out of the API (prefect_api.processes, .services, prefect_redis)', () => {
  test('--workers 4 on 3.4.11: the version that has it, and what else it needs (findings at one place sort by rule)', async () => {
    expect(await shown('scale-old-prefect.yml')).toEqual([
      '9:18 error api-processes-database | prefect_api.processes 4 needs PostgreSQL (prefect_database.type postgresql): Prefect refuses --workers > 1 on SQLite',
      '9:18 error api-processes-redis | prefect_api.processes 4 needs prefect_redis: Prefect refuses --workers > 1 with in-memory messaging and lease storage, which the processes cannot share',
      '9:18 error api-processes-version | prefect_api.processes 4 runs prefect server start --workers 4, which Prefect 3.4.11 does not have: it needs Prefect 3.4.20 or later; raise prefect_version or set processes to 1',
    ]);
  });

  test('separate services on 3.1: the version that has prefect server services start', async () => {
    expect(await shown('scale-old-services.yml')).toEqual([
      '9:17 error separate-services-version | prefect_api.services separate runs prefect server services start, which Prefect 3.1.15 does not have: it needs Prefect 3.2 or later; raise prefect_version or set services to in_process',
    ]);
  });

  test('separate services without Redis: events would not cross the processes', async () => {
    expect(await shown('scale-no-redis.yml')).toEqual([
      '9:17 error separate-services-redis | prefect_api.services separate needs prefect_redis: the API and the services process exchange events through the messaging broker, and the in-memory one does not reach across processes',
    ]);
  });

  test('several processes with the services in process: Prefect would run none; local Redis ignores host', async () => {
    expect(await shown('scale-in-process.yml')).toEqual([
      '10:17 error api-processes-services | prefect_api.services in_process cannot go with processes 2: Prefect runs no background services in the API processes when --workers is more than 1 (scheduler, late runs, triggers would stop); set services to separate',
      '14:7 warning redis-local-ignored | prefect_redis.host applies to mode external; a local Redis listens on 127.0.0.1 without TLS, so it is ignored',
    ]);
  });

  test('the connection budget multiplies by the processes and counts the services process', async () => {
    expect(await shown('scale-budget.yml')).toEqual([
      '15:26 error connection-budget | max_connections 2000 is less than the server can open: 12 API processes × (pool_size 75 + max_overflow 150) = 2700, + 1 background services process × 225 = 225, + 3 reserved for superusers, + 5 for administration (psql, backups) = 2933; set prefect_database.postgresql_conf.max_connections to at least 2933, or lower pool_size / max_overflow',
    ]);
  });

  test('the Redis password is required in the secrets when prefect_redis is set, one word', async () => {
    expect(await shown('scale-no-redis.yml', 'secrets-redis.yml')).toContain(
      '3:1 warning redis-password-unused | prefect_redis_password is not used: scale-no-redis.yml sets no prefect_redis',
    );
    const missing = await shown('examples/flint.yml'.replace('examples/', '../../../examples/'), 'secrets-valid.yml');
    expect(missing.filter((m) => m.includes('redis-password-required'))).toEqual([
      '1:1 error redis-password-required | prefect_redis_password is required: ../../../examples/flint.yml sets prefect_redis',
    ]);
    expect((await shown('../../../examples/flint.yml', 'secrets-redis-bad.yml')).some((m) => m.includes('prefect_redis_password'))).toBe(true);
  });

  test('flint with 12 processes and split services: valid, and what the roles get', async () => {
    const { diagnostics, config, secrets } = await loadFixture('../../../examples/flint.yml', 'secrets-redis.yml');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(config).toMatchObject({
      prefect_api_processes: 12,
      prefect_api_services: 'separate',
      prefect_redis: { mode: 'local', host: '127.0.0.1', port: 6379, db: 0, ssl: false },
    });
    expect(secrets?.prefect_redis_password).toBe('r3dis-pw');
    // The password is a secret: never a server setting written from the inventory.
    expect(JSON.stringify(config)).not.toContain('r3dis-pw');
  });

  test('Prefect versions compare as releases, pre-releases before their release', () => {
    expect(prefectAtLeast('3.4.20', '3.4.20')).toBe(true);
    expect(prefectAtLeast('3.4.25', '3.4.20')).toBe(true);
    expect(prefectAtLeast('3.4.11', '3.4.20')).toBe(false);
    expect(prefectAtLeast('3.4.20rc1', '3.4.20')).toBe(false);
    expect(prefectAtLeast('3.10', '3.4.20')).toBe(true);
    expect(prefectAtLeast('3.2', '3.2')).toBe(true);
    expect(prefectAtLeast('3.1.15', '3.2')).toBe(false);
  });
});
