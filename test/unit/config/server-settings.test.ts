import { loadFixture, where } from './helpers.js';

const shown = async (inventory: string) => (await loadFixture(inventory)).diagnostics.map((d) => `${where(d)} | ${d.message}`);

describe('server settings', () => {
  test('prefect_server_settings.env: one place per setting, no secrets, names and values checked against Prefect 3.4', async () => {
    expect(await shown('server-settings.yml')).toEqual([
      '22:9 error setting-managed | PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE is set from prefect_database.pool_size; set it there, so that each setting has one place',
      "23:9 error setting-managed | PREFECT_SQLALCHEMY_MAX_OVERFLOW is set from prefect_database.max_overflow (PREFECT_SQLALCHEMY_MAX_OVERFLOW is Prefect's older name of PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW); set it there, so that each setting has one place",
      '24:9 error setting-secret | PREFECT_SERVER_DATABASE_CONNECTION_URL holds a password: keep it out of the inventory; the password lives in the secrets file (prefect_database_password), and pag-ansible builds the connection from prefect_database (host, port, name, user)',
      "25:9 error setting-managed | PREFECT_API_DATABASE_CONNECTION_URL would override the connection pag-ansible builds from prefect_database (type, host, port, name, user) and the secrets file's prefect_database_password; set those instead",
      "26:9 error setting-secret | PREFECT_SERVER_API_AUTH_STRING is a secret: it does not belong in the inventory; the API credentials are the secrets file's prefect_api_auth_string and the database password its prefect_database_password",
      '27:9 warning setting-unknown | PREFECT_SERVER_API_DEFALT_LIMIT is not a setting of Prefect 3.4 (checked against 3.4.25): Prefect ignores it; did you mean "PREFECT_SERVER_API_DEFAULT_LIMIT"?',
      '28:9 error setting-scope | PREFECT_WORKER_QUERY_SECONDS is not a setting of the server: prefect_server_settings.env takes PREFECT_SERVER_* and PREFECT_API_* settings (the environment of flow runs is prefect_work_pools.<pool>.env)',
      "29:9 warning setting-alias | PREFECT_EVENTS_MAXIMUM_SIZE_BYTES is Prefect's older name of PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES; Prefect reads both, its documentation uses PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES",
      '30:52 error setting-value | PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED takes true or false, got "maybe"; Prefect would refuse to start',
      "33:9 error setting-managed | PREFECT_MESSAGING_BROKER is set from prefect_redis, which moves broker, cache, causal ordering and lease storage to Redis together (PREFECT_MESSAGING_BROKER is Prefect's older name of PREFECT_SERVER_EVENTS_MESSAGING_BROKER); set it there, so that each setting has one place",
      '34:9 error setting-managed | PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE is set from prefect_redis, which moves broker, cache, causal ordering and lease storage to Redis together; set it there, so that each setting has one place',
      "35:9 error setting-managed | PREFECT_REDIS_MESSAGING_HOST is set from prefect_redis (host, port, db, ssl) and the secrets file's prefect_redis_password; set those instead",
    ]);
  });

  test('typed keys become the server settings, sorted, as text; SQLite takes only the statement timeout', async () => {
    const external = await loadFixture('server-settings-external.yml');
    expect(external.diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '15:7 warning postgresql-conf-unused | prefect_database.postgresql_conf applies to a local PostgreSQL (mode local); with mode external it is ignored: tune that server where it runs',
    ]);
    expect(external.config?.prefect_server_env).toEqual({
      PREFECT_API_REQUEST_TIMEOUT: '120',
      PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED: 'true',
      PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW: '10',
      PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_RECYCLE: '-1',
      PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE: '500',
      PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_TIMEOUT: '0.5',
      PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED: 'false',
    });
    expect(Object.keys(external.config?.prefect_database ?? {})).not.toContain('postgresql_conf');
    expect(await shown('server-settings-sqlite.yml')).toEqual([
      '11:7 error unknown-key | unknown key "pool_size" in prefect_database; allowed here with type: sqlite: timeout',
      '14:22 error schema | prefect_server_settings.logging_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got "debug"; did you mean "DEBUG"?',
      '15:7 error unknown-key | unknown key "keepalive" in prefect_server_settings; allowed here: api_keepalive_timeout, csrf_protection, events_retention_period, logging_level, env',
    ]);
  });

  test('connection-budget: max_connections must cover API processes × (pool_size + max_overflow) + services + reserve', async () => {
    expect(await shown('connection-budget.yml')).toEqual([
      '13:26 error connection-budget | max_connections 200 is less than the server can open: 1 API process × (pool_size 75 + max_overflow 150) = 225, + 0 for the background services (they run in the API process and share its pool), + 3 reserved for superusers, + 5 for administration (psql, backups) = 233; set prefect_database.postgresql_conf.max_connections to at least 233, or lower pool_size / max_overflow',
      '14:9 error postgresql-conf-owned | postgresql_conf cannot set port: it is set by prefect_database.port',
    ]);
    // Unset max_connections is PostgreSQL's 100; the finding points at the pool key that overran it.
    expect(await shown('connection-budget-default.yml')).toEqual([
      "11:21 error connection-budget | max_connections 100 (PostgreSQL's default: postgresql_conf does not set it) is less than the server can open: 1 API process × (pool_size 40 + max_overflow 60) = 100, + 0 for the background services (they run in the API process and share its pool), + 3 reserved for superusers, + 5 for administration (psql, backups) = 108; set prefect_database.postgresql_conf.max_connections to at least 108, or lower pool_size / max_overflow",
      '14:9 warning setting-unchecked | prefect_version 3.5.0: the names in prefect_server_settings.env are not checked (pag-ansible knows the settings of Prefect 3.4)',
    ]);
  });
});
