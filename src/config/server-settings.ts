/**
 * The Prefect server's settings: the typed inventory keys (prefect_database's pool and timeouts,
 * prefect_server_settings) and the `prefect_server_settings.env` escape hatch, checked against the settings of
 * Prefect 3.4 and turned into the one map server.env is written from (ServerEnv: canonical name → text).
 * Also the connection budget: a local PostgreSQL's max_connections must cover every pool that can open.
 */
import type { Diagnostic } from './diagnostics.js';
import { PREFECT_SETTINGS, PREFECT_SETTINGS_VERSION, type PrefectSetting } from './prefect-settings.js';
import { closest } from './suggest.js';
import type { DatabaseConfig, ServerEnv } from './types.js';
import type { PathSegment } from './yaml-source.js';

export type Report = (severity: Diagnostic['severity'], rule: string, at: PathSegment[], message: string, part?: 'key' | 'value') => void;

type EnvValue = string | number | boolean | { valueOf(): number };

export interface RawServerSettings {
  api_keepalive_timeout?: number;
  csrf_protection?: boolean;
  events_retention_period?: number | string;
  logging_level?: string;
  env?: Record<string, EnvValue>;
}

/** The setting each typed key writes, and the key, for "set it there" messages. */
export const TYPED_SETTINGS: Readonly<Record<string, string>> = {
  PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE: 'prefect_database.pool_size',
  PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW: 'prefect_database.max_overflow',
  PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_RECYCLE: 'prefect_database.pool_recycle',
  PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_TIMEOUT: 'prefect_database.pool_timeout',
  PREFECT_SERVER_DATABASE_TIMEOUT: 'prefect_database.timeout',
  PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT: 'prefect_database.connection_timeout',
  PREFECT_SERVER_API_KEEPALIVE_TIMEOUT: 'prefect_server_settings.api_keepalive_timeout',
  PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED: 'prefect_server_settings.csrf_protection',
  PREFECT_SERVER_EVENTS_RETENTION_PERIOD: 'prefect_server_settings.events_retention_period',
  PREFECT_SERVER_LOGGING_LEVEL: 'prefect_server_settings.logging_level',
};

/** Settings server.env writes from other inventory keys. */
const MANAGED_SETTINGS: Readonly<Record<string, string>> = {
  PREFECT_HOME: 'prefect_home',
  PREFECT_SERVER_API_HOST: 'prefect_api.bind_host',
  PREFECT_SERVER_API_PORT: 'prefect_api.port',
  PREFECT_API_URL: 'prefect_api (the server calls itself over loopback)',
  PREFECT_SERVER_UI_API_URL: 'prefect_api.url',
  PREFECT_SERVER_ANALYTICS_ENABLED: 'prefect_analytics_enabled',
  PREFECT_SERVER_UI_STATIC_DIRECTORY: "the prefect_server role's prefect_server_ui_static_dir",
  PREFECT_SERVER_DATABASE_DRIVER: 'prefect_database.type',
  PREFECT_SERVER_DATABASE_HOST: 'prefect_database.host',
  PREFECT_SERVER_DATABASE_PORT: 'prefect_database.port',
  PREFECT_SERVER_DATABASE_USER: 'prefect_database.user',
  PREFECT_SERVER_DATABASE_NAME: 'prefect_database.name',
  PREFECT_SERVER_DATABASE_MIGRATE_ON_START: "the prefect_server role (off: it migrates once per version, after a backup)",
  // Redis's four jobs go together: one set by hand would leave the API processes and the services disagreeing.
  PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'prefect_redis, which moves broker, cache, causal ordering and lease storage to Redis together',
  PREFECT_SERVER_EVENTS_MESSAGING_CACHE: 'prefect_redis, which moves broker, cache, causal ordering and lease storage to Redis together',
  PREFECT_SERVER_EVENTS_CAUSAL_ORDERING: 'prefect_redis, which moves broker, cache, causal ordering and lease storage to Redis together',
  PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE: 'prefect_redis, which moves broker, cache, causal ordering and lease storage to Redis together',
};

/** prefect-redis's own settings (PREFECT_REDIS_MESSAGING_*): written from prefect_redis and the secrets file. */
const REDIS_MODULE_SETTING = /^PREFECT_REDIS_/;

const CONNECTION_URLS = new Set(['PREFECT_SERVER_DATABASE_CONNECTION_URL']);
const SECRET_NAME = /PASSWORD|AUTH_STRING|API_KEY/;
const SERVER_SCOPE = /^PREFECT_(SERVER|API)_/;
/** The durations pydantic reads (ISO 8601, or [D days,] HH:MM[:SS]). */
const ISO_DURATION = /^P(?!T?$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\.[0-9]+)?S)?)?$/;
const CLOCK_DURATION = /^(?=.)(-?[0-9]+ *(d|days?),? *)?([0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$/i;
/** What pydantic reads as a boolean. */
const BOOL_TEXT = /^(0|1|true|false|t|f|yes|no|y|n|on|off)$/i;

/** Whether the settings of this Prefect version are known (those of 3.4, read from the newest 3.4 release). */
export function settingsKnownFor(version: string): boolean {
  const [major, minor] = PREFECT_SETTINGS_VERSION.split('.');
  return version.startsWith(`${major}.${minor}.`) || version === `${major}.${minor}`;
}

const text = (value: EnvValue): string => (typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value));

/** A duration as Prefect reads one: a number of seconds becomes ISO 8601 (pydantic refuses bare digits). */
export function durationText(value: number | string): string {
  return typeof value === 'string' ? value : `PT${value}S`;
}

/** A postgresql+asyncpg URL with a password in it (user:password@ or password= in the query). */
function urlHasPassword(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(value) || /[?&]password=/i.test(value);
}

/**
 * Checks prefect_server_settings.env and returns the settings to write (names as given), in file order.
 * `at` is the path of the env mapping.
 */
export function checkServerEnv(env: Record<string, EnvValue>, version: string, at: PathSegment[], report: Report): ServerEnv {
  const out: ServerEnv = {};
  const known = settingsKnownFor(version);
  const serverNames = Object.keys(PREFECT_SETTINGS).filter((n) => SERVER_SCOPE.test(n) && PREFECT_SETTINGS[n]?.canonical === undefined);
  let uncheckedReported = false;
  for (const [name, value] of Object.entries(env)) {
    const keyAt = [...at, name];
    const setting: PrefectSetting | undefined = PREFECT_SETTINGS[name];
    const canonical = setting?.canonical ?? name;
    const older = canonical !== name ? ` (${name} is Prefect's older name of ${canonical})` : '';

    if (CONNECTION_URLS.has(canonical)) {
      if (typeof value === 'string' && urlHasPassword(value)) {
        report('error', 'setting-secret', keyAt, `${name} holds a password: keep it out of the inventory; the password lives in the secrets file (prefect_database_password), and pag-ansible builds the connection from prefect_database (host, port, name, user)`, 'key');
      } else {
        report('error', 'setting-managed', keyAt, `${name} would override the connection pag-ansible builds from prefect_database (type, host, port, name, user) and the secrets file's prefect_database_password; set those instead`, 'key');
      }
      continue;
    }
    if (setting?.kind === 'secret' || SECRET_NAME.test(name)) {
      report('error', 'setting-secret', keyAt, `${name} is a secret: it does not belong in the inventory; the API credentials are the secrets file's prefect_api_auth_string and the database password its prefect_database_password`, 'key');
      continue;
    }
    if (REDIS_MODULE_SETTING.test(name)) {
      report('error', 'setting-managed', keyAt, `${name} is set from prefect_redis (host, port, db, ssl) and the secrets file's prefect_redis_password; set those instead`, 'key');
      continue;
    }
    const owner = TYPED_SETTINGS[canonical] ?? MANAGED_SETTINGS[canonical];
    if (owner !== undefined) {
      report('error', 'setting-managed', keyAt, `${name} is set from ${owner}${older}; set it there, so that each setting has one place`, 'key');
      continue;
    }
    if (!SERVER_SCOPE.test(canonical)) {
      const suggestion = closest(name, serverNames);
      report(
        'error',
        'setting-scope',
        keyAt,
        `${name} is not a setting of the server: prefect_server_settings.env takes PREFECT_SERVER_* and PREFECT_API_* settings${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : ''} (the environment of flow runs is prefect_work_pools.<pool>.env)`,
        'key',
      );
      continue;
    }
    if (known && setting === undefined) {
      const suggestion = closest(name, serverNames);
      report(
        'warning',
        'setting-unknown',
        keyAt,
        `${name} is not a setting of Prefect ${version.split('.').slice(0, 2).join('.')} (checked against ${PREFECT_SETTINGS_VERSION}): Prefect ignores it${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : ''}`,
        'key',
      );
    } else if (!known && !uncheckedReported) {
      uncheckedReported = true;
      report('warning', 'setting-unchecked', keyAt, `prefect_version ${version}: the names in prefect_server_settings.env are not checked (pag-ansible knows the settings of Prefect ${PREFECT_SETTINGS_VERSION.split('.').slice(0, 2).join('.')})`, 'key');
    } else if (older) {
      report('warning', 'setting-alias', keyAt, `${name} is Prefect's older name of ${canonical}; Prefect reads both, its documentation uses ${canonical}`, 'key');
    }
    const problem = setting ? valueProblem(setting, value) : undefined;
    if (problem) {
      report('error', 'setting-value', [...keyAt], `${name} ${problem}, got ${JSON.stringify(text(value))}; Prefect would refuse to start`);
      continue;
    }
    out[name] = setting?.kind === 'duration' && typeof value === 'number' ? durationText(value) : text(value);
  }
  return out;
}

function valueProblem(setting: PrefectSetting, value: EnvValue): string | undefined {
  const shown = text(value);
  switch (setting.kind) {
    case 'bool':
      return typeof value === 'boolean' || BOOL_TEXT.test(shown) ? undefined : 'takes true or false';
    case 'int':
      return typeof value !== 'boolean' && /^[-+]?[0-9]+(_[0-9]+)*(\.0+)?$/.test(shown.trim()) ? undefined : 'takes an integer';
    case 'float': {
      const number = shown.trim().replace(/(?<=[0-9])_(?=[0-9])/g, '');
      return typeof value !== 'boolean' && number !== '' && (!Number.isNaN(Number(number)) || /^[-+]?(nan|inf|infinity)$/i.test(number)) && !/^[-+]?0[xob]/i.test(number)
        ? undefined
        : 'takes a number';
    }
    case 'duration':
      if (typeof value === 'number' || (typeof value === 'object' && Number.isInteger(value.valueOf()))) return undefined;
      return typeof value === 'string' && (ISO_DURATION.test(value) || CLOCK_DURATION.test(value)) ? undefined : 'takes a number of seconds or an ISO 8601 duration such as P7D';
    default:
      return undefined;
  }
}

/** The typed keys' settings, by canonical name. */
export function typedServerEnv(database: DatabaseConfig, settings: RawServerSettings): ServerEnv {
  const env: ServerEnv = {};
  if (database.type === 'postgresql') {
    env.PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE = String(database.pool_size);
    env.PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW = String(database.max_overflow);
    if (database.pool_recycle !== undefined) env.PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_RECYCLE = String(database.pool_recycle);
    if (database.pool_timeout !== undefined) env.PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_TIMEOUT = String(database.pool_timeout);
    if (database.connection_timeout !== undefined) env.PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT = String(database.connection_timeout);
  }
  if (database.timeout !== undefined) env.PREFECT_SERVER_DATABASE_TIMEOUT = String(database.timeout);
  if (settings.api_keepalive_timeout !== undefined) env.PREFECT_SERVER_API_KEEPALIVE_TIMEOUT = String(settings.api_keepalive_timeout);
  if (settings.csrf_protection !== undefined) env.PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED = settings.csrf_protection ? 'true' : 'false';
  if (settings.events_retention_period !== undefined) env.PREFECT_SERVER_EVENTS_RETENTION_PERIOD = durationText(settings.events_retention_period);
  if (settings.logging_level !== undefined) env.PREFECT_SERVER_LOGGING_LEVEL = settings.logging_level;
  return env;
}

/** PostgreSQL's own default max_connections, what a cluster has unless someone changed it. */
export const POSTGRESQL_DEFAULT_MAX_CONNECTIONS = 100;
const POSTGRESQL_DEFAULT_SUPERUSER_RESERVED = 3;
/** Sessions an operator needs beside the server: psql, pg_dump of a backup, the database upgrade. */
export const ADMIN_CONNECTIONS = 5;

export interface ConnectionBudget {
  apiProcesses: number;
  /** Processes that run the background services with their own pool (0: they run inside the API process). */
  serviceProcesses: number;
  perProcess: number;
  reserved: number;
  required: number;
  available: number;
}

/** Connections the server can open against what a local PostgreSQL's max_connections allows. */
export function connectionBudget(database: Extract<DatabaseConfig, { type: 'postgresql' }>, apiProcesses = 1, serviceProcesses = 0): ConnectionBudget {
  const conf = database.postgresql_conf ?? {};
  const intOf = (name: string, fallback: number) => {
    const v = conf[name];
    return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : fallback;
  };
  const perProcess = database.pool_size + database.max_overflow;
  const reserved = intOf('superuser_reserved_connections', POSTGRESQL_DEFAULT_SUPERUSER_RESERVED) + intOf('reserved_connections', 0);
  const required = (apiProcesses + serviceProcesses) * perProcess + reserved + ADMIN_CONNECTIONS;
  return { apiProcesses, serviceProcesses, perProcess, reserved, required, available: intOf('max_connections', POSTGRESQL_DEFAULT_MAX_CONNECTIONS) };
}

export function budgetMessage(b: ConnectionBudget, database: Extract<DatabaseConfig, { type: 'postgresql' }>, maxConnectionsSet: boolean): string {
  const processes = `${b.apiProcesses} API process${b.apiProcesses === 1 ? '' : 'es'} × (pool_size ${database.pool_size} + max_overflow ${database.max_overflow}) = ${b.apiProcesses * b.perProcess}`;
  const services =
    b.serviceProcesses === 0
      ? '0 for the background services (they run in the API process and share its pool)'
      : `${b.serviceProcesses} background services process${b.serviceProcesses === 1 ? '' : 'es'} × ${b.perProcess} = ${b.serviceProcesses * b.perProcess}`;
  const limit = maxConnectionsSet ? `max_connections ${b.available}` : `max_connections ${b.available} (PostgreSQL's default: postgresql_conf does not set it)`;
  return (
    `${limit} is less than the server can open: ${processes}, + ${services}, + ${b.reserved} reserved for superusers, + ${ADMIN_CONNECTIONS} for administration (psql, backups) = ${b.required}; ` +
    `set prefect_database.postgresql_conf.max_connections to at least ${b.required}, or lower pool_size / max_overflow`
  );
}
