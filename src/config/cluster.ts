/**
 * Semantic rules over a schema-valid inventory (each with a stable rule id) and the normalisation into
 * `ClusterConfig`: defaults applied, worker units computed.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import { InventoryModel } from './inventory-model.js';
import { budgetMessage, checkServerEnv, connectionBudget, typedServerEnv, type RawServerSettings } from './server-settings.js';
import { didYouMean } from './suggest.js';
import { SITE_CA_FILES } from './types.js';
import { checkProvidedTls, urlHostname } from '../tls/provided.js';
import type {
  AnsibleValue,
  ApiTls,
  RedisConfig,
  ClusterConfig,
  DatabaseConfig,
  EnvironmentSource,
  HostConnection,
  ServerEnv,
  WorkerHost,
  WorkerUnit,
  WorkPool,
} from './types.js';
import type { PathSegment, YamlSource } from './yaml-source.js';
import type { YamlNumber } from './yaml11.js';

export const SERVER_GROUP = 'prefect_server';
export const WORKERS_GROUP = 'prefect_workers';
export const HEALTHCHECK_BASE_PORT = 8080;
const DEFAULT_API_PORT = 4200;
/** Seconds a restart of a pool's workers waits for its flow runs in flight (the pool paused). */
const DEFAULT_DRAIN_TIMEOUT = 600;

/** all.vars as the schema guarantees it (optional keys may be absent). */
interface ClusterVars {
  prefect_version: string;
  prefect_user?: string;
  prefect_install_dir?: string;
  prefect_home?: string;
  prefect_flows_dir?: string;
  prefect_apt_repository?: string;
  prefect_environment: RawEnvironment;
  prefect_api: { bind_host?: string; port?: number; url: string; processes?: number; services?: 'in_process' | 'separate'; tls?: RawTls };
  prefect_redis?: { mode: 'local' | 'external'; host?: string; port?: number; db?: number; ssl?: boolean };
  prefect_database?:
    | { type: 'sqlite'; timeout?: number | YamlNumber }
    | ({ type: 'postgresql' } & Partial<Omit<Extract<DatabaseConfig, { type: 'postgresql' }>, 'type' | 'postgresql_conf' | SecondsKey>> & {
        [K in SecondsKey]?: number | YamlNumber;
      } & { postgresql_conf?: Record<string, string | number | boolean | YamlNumber> });
  prefect_server_settings?: RawServerSettings;
  prefect_work_pools?: Record<string, RawPool | null>;
  prefect_worker_healthcheck?: boolean;
  prefect_analytics_enabled?: boolean;
  [key: string]: unknown;
}
interface RawTls {
  source: 'site_ca' | 'provided';
  site_ca_dir?: string;
  cert_file?: string;
  key_file?: string;
  ca_file?: string;
  upstream_port?: number;
}
type RawEnvironment =
  | { source: 'pixi-pack'; pixi_pack_tarball: string; pixi_unpack_binary: string }
  | {
      source: 'wheelhouse';
      wheelhouse_dir: string;
      python?: string;
      requirement?: string;
      system_site_packages?: boolean;
      system_packages?: string[];
      pixi_unpack_binary?: string;
    }
  | { source: 'prefix'; prefix: string; pixi_unpack_binary?: string };
type SecondsKey = 'timeout' | 'connection_timeout' | 'pool_timeout';
interface RawPool {
  concurrency_limit?: number | null;
  worker_limit?: number;
  gpu?: boolean;
  drain_timeout?: number;
  env?: Record<string, string | number | boolean | YamlNumber>;
}

export interface ClusterCheckOptions {
  /** Absolute path of the inventory file: controller paths are relative to its directory. */
  inventoryAbsPath: string;
  /** Missing controller artifacts are errors (run) rather than warnings (validate, render). */
  requireArtifacts: boolean;
}

export interface ClusterCheck {
  diagnostics: Diagnostic[];
  /** Present when the rules found no errors. */
  config?: ClusterConfig;
  /** For cross-file rules (secrets). */
  databaseType: 'sqlite' | 'postgresql';
  /** Whether the inventory sets prefect_redis (its password is then required in the secrets). */
  redisConfigured: boolean;
}

export function checkCluster(source: YamlSource, options: ClusterCheckOptions): ClusterCheck {
  const data = source.data as { all: { vars: ClusterVars } } & Record<string, never>;
  const vars = data.all.vars;
  const model = new InventoryModel(data);
  const diagnostics: Diagnostic[] = [];
  const report = (severity: Diagnostic['severity'], rule: string, at: PathSegment[], message: string, part: 'key' | 'value' = 'value') => {
    const { line, col } = source.positionOf(at, part);
    diagnostics.push({ file: source.displayPath, line, col, severity, rule, message });
  };

  for (const group of model.cycles) {
    const declaration = model.group(group)?.declarations[0] ?? [];
    report('error', 'group-cycle', declaration, `group ${group} contains itself through its children; Ansible refuses such an inventory`, 'key');
  }

  const serverHosts = checkServer(model, report);
  const pools = poolsOf(vars);
  const poolsPath: PathSegment[] = ['all', 'vars', 'prefect_work_pools'];
  const workerNames = model.membersOf(WORKERS_GROUP);
  const workerSet = new Set(workerNames);

  // Findings that stem from one variable shared by several hosts (group vars) are reported once, naming the hosts.
  const grouped = new Map<
    string,
    { severity: Diagnostic['severity']; rule: string; at: PathSegment[]; hosts: string[]; message: (hosts: string) => string; part: 'key' | 'value' }
  >();
  const reportForHost = (
    severity: Diagnostic['severity'],
    rule: string,
    at: PathSegment[],
    host: string,
    message: (hosts: string) => string,
    part: 'key' | 'value' = 'value',
  ) => {
    const key = `${rule}\u0000${JSON.stringify(at)}`;
    const entry = grouped.get(key);
    if (entry) entry.hosts.push(host);
    else grouped.set(key, { severity, rule, at, hosts: [host], message, part });
  };

  const served = new Set<string>();
  const workerPlans: WorkerPlan[] = [];
  for (const host of workerNames) {
    const poolsVar = model.effectiveVar(host, 'prefect_worker_pools');
    const gpuVar = model.effectiveVar(host, 'prefect_worker_gpu_ids');
    const limitsVar = model.effectiveVar(host, 'prefect_worker_limits');
    const hostPath = model.hosts.get(host)?.[0]?.path ?? [];
    if (!poolsVar) {
      report(
        'error',
        'worker-without-pools',
        hostPath,
        `host ${host} is in ${WORKERS_GROUP} but sets no prefect_worker_pools; list the pools it serves, e.g. prefect_worker_pools: [${[...pools.keys()][0] ?? 'cpu-pool'}]`,
        'key',
      );
      continue;
    }
    const hostPools = poolsVar.value as string[];
    const gpuIds = ((gpuVar?.value as (string | number)[] | undefined) ?? []).map(String);
    hostPools.forEach((pool, index) => {
      served.add(pool);
      if (!pools.has(pool)) {
        const defined = [...pools.keys()];
        reportForHost('error', 'undefined-pool', [...poolsVar.path, index], host, () =>
          `work pool ${JSON.stringify(pool)} is not defined in prefect_work_pools${didYouMean(pool, defined)}${defined.length ? ` (defined: ${defined.join(', ')})` : ''}`,
        );
      }
    });
    const gpuPoolIndex = hostPools.findIndex((pool) => pools.get(pool)?.gpu === true);
    if (gpuPoolIndex >= 0 && gpuIds.length === 0) {
      const gpuPool = hostPools[gpuPoolIndex] as string;
      reportForHost('error', 'gpu-ids-required', [...poolsVar.path, gpuPoolIndex], host, (hosts) =>
        `${hosts} serve${hosts.includes(',') ? '' : 's'} GPU pool ${gpuPool} but list${hosts.includes(',') ? '' : 's'} no prefect_worker_gpu_ids; add the GPUs its workers may use, e.g. prefect_worker_gpu_ids: [0]`,
      );
    }
    if (gpuPoolIndex < 0 && gpuVar && gpuIds.length > 0) {
      reportForHost('warning', 'gpu-ids-unused', gpuVar.path, host, (hosts) =>
        `prefect_worker_gpu_ids is set for ${hosts}, which serve${hosts.includes(',') ? '' : 's'} no GPU pool (gpu: true); it is ignored`,
      );
    }
    const limits = (limitsVar?.value as Record<string, number> | null | undefined) ?? {};
    for (const pool of Object.keys(limits)) {
      const at = [...(limitsVar?.path ?? []), pool];
      if (!pools.has(pool)) {
        const defined = [...pools.keys()];
        reportForHost('error', 'undefined-pool', at, host, () =>
          `prefect_worker_limits names work pool ${JSON.stringify(pool)}, which prefect_work_pools does not define${didYouMean(pool, defined)}${defined.length ? ` (defined: ${defined.join(', ')})` : ''}`,
        'key');
      } else if (!hostPools.includes(pool)) {
        reportForHost('warning', 'worker-limit-unused', at, host, (hosts) =>
          `prefect_worker_limits sets a limit for pool ${pool}, which ${hosts} do${hosts.includes(',') ? '' : 'es'} not serve (prefect_worker_pools); it is ignored`,
        'key');
      }
    }
    workerPlans.push({ name: host, pools: hostPools, gpuIds, limits });
  }
  for (const entry of grouped.values()) {
    const shown = entry.hosts.length > 3 ? `${entry.hosts.slice(0, 3).join(', ')} and ${entry.hosts.length - 3} more` : entry.hosts.join(', ');
    report(entry.severity, entry.rule, entry.at, entry.message(entry.hosts.length === 1 ? `host ${shown}` : `hosts ${shown}`), entry.part);
  }

  for (const host of model.hosts.keys()) {
    if (workerSet.has(host)) continue;
    for (const key of ['prefect_worker_pools', 'prefect_worker_gpu_ids', 'prefect_worker_limits']) {
      const own = model.hostSets(host, key);
      if (own) report('warning', 'worker-keys-ignored', own.path, `host ${host} is not in ${WORKERS_GROUP}, so its ${key} is ignored`, 'key');
    }
  }

  for (const name of pools.keys()) {
    if (!served.has(name)) {
      report(
        'warning',
        'unserved-pool',
        [...poolsPath, name],
        `work pool ${name} is served by no worker: flows deployed to it would never run; add it to some worker's prefect_worker_pools`,
        'key',
      );
    }
  }

  checkApiPort(vars, report);
  checkTls(vars, report);
  checkArtifacts(vars, options, report);
  checkScaleOut(vars, report);
  const serverEnv = checkServerSettings(vars, report);

  const apiPort = vars.prefect_api.port ?? DEFAULT_API_PORT;
  const healthcheck = vars.prefect_worker_healthcheck ?? false;
  const server = serverHosts[0];
  if (healthcheck && server !== undefined) {
    const colocated = workerPlans.find((w) => w.name === server);
    if (colocated) {
      const clash = colocated.pools.findIndex((_, i) => HEALTHCHECK_BASE_PORT + i === apiPort);
      if (clash >= 0) {
        report(
          'error',
          'port-conflict',
          ['all', 'vars', 'prefect_api', 'port'],
          `host ${server} runs the server on port ${apiPort} and a worker health check on the same port (${HEALTHCHECK_BASE_PORT} + pool index); choose another prefect_api.port`,
        );
      }
    }
  }

  const databaseType = vars.prefect_database?.type ?? 'sqlite';
  const redisConfigured = vars.prefect_redis !== undefined;
  if (diagnostics.some((d) => d.severity === 'error') || server === undefined) return { diagnostics, databaseType, redisConfigured };
  const config = normalise(vars, model, pools, server, workerPlans, options, serverEnv);
  return { diagnostics, config, databaseType, redisConfigured };
}

interface WorkerPlan {
  name: string;
  pools: string[];
  gpuIds: string[];
  /** The host's own per-worker limits (prefect_worker_limits), by pool. */
  limits: Record<string, number>;
}

type Report = (severity: Diagnostic['severity'], rule: string, at: PathSegment[], message: string, part?: 'key' | 'value') => void;

function checkServer(model: InventoryModel, report: Report): string[] {
  const group = model.group(SERVER_GROUP);
  if (!group) {
    const at: PathSegment[] = model.group('all')?.children.size ? ['all', 'children'] : ['all'];
    report('error', 'one-server', at, `there is no ${SERVER_GROUP} group; add all.children.${SERVER_GROUP}.hosts with exactly one host (the Prefect server)`, 'key');
    return [];
  }
  const hosts = model.membersOf(SERVER_GROUP);
  if (hosts.length !== 1) {
    const found = hosts.length === 0 ? 'has no hosts' : `has ${hosts.length} hosts (${hosts.slice(0, 5).join(', ')}${hosts.length > 5 ? ', …' : ''})`;
    report('error', 'one-server', group.declarations[0] ?? [], `group ${SERVER_GROUP} ${found}; it needs exactly one, the host that runs the Prefect server`, 'key');
  }
  return hosts;
}

function checkApiPort(vars: ClusterVars, report: Report): void {
  const api = vars.prefect_api;
  let url: URL;
  try {
    url = new URL(api.url);
  } catch {
    return; // The schema's pattern already reported a malformed URL.
  }
  const urlPort = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const port = api.port ?? DEFAULT_API_PORT;
  if (urlPort !== port) {
    report(
      'warning',
      'api-port-mismatch',
      ['all', 'vars', 'prefect_api', 'url'],
      `prefect_api.url uses port ${urlPort} but the server listens on prefect_api.port ${port}${api.port === undefined ? ' (the default)' : ''}; fine behind a reverse proxy, otherwise make them agree`,
    );
  }
}

/**
 * TLS in front of the API: the URL that workers, flows and browsers use must be https, a provided certificate
 * needs its key and CA, and Prefect's own loopback port must differ from the TLS port.
 */
function checkTls(vars: ClusterVars, report: Report): void {
  const api = vars.prefect_api;
  const tls = api.tls;
  if (tls === undefined) return;
  const tlsPath: PathSegment[] = ['all', 'vars', 'prefect_api', 'tls'];
  if (!api.url.startsWith('https://')) {
    report('error', 'api-tls-url', ['all', 'vars', 'prefect_api', 'url'], `prefect_api.tls serves the API over TLS only, but prefect_api.url is ${api.url}; write it as https://${api.url.replace(/^[a-z]+:\/\//, '')}`);
  }
  if (tls.source === 'provided') {
    const missing = (['cert_file', 'key_file', 'ca_file'] as const).filter((k) => tls[k] === undefined);
    if (missing.length > 0) {
      report('error', 'api-tls-files', [...tlsPath, 'source'], `prefect_api.tls source provided needs ${missing.join(', ')}: the server's certificate, its private key and the CA that workers and flows trust, as files on this machine`);
    }
  } else {
    const stray = (['cert_file', 'key_file', 'ca_file'] as const).filter((k) => tls[k] !== undefined);
    if (stray.length > 0) {
      report('error', 'api-tls-files', [...tlsPath, stray[0] as string], `prefect_api.tls source site_ca makes its own certificate and key (in site_ca_dir), so ${stray.join(', ')} would be ignored; set source to provided to use your own files, or remove them`, 'key');
    }
  }
  const port = api.port ?? DEFAULT_API_PORT;
  if (tls.upstream_port === port) {
    report('error', 'api-tls-port', [...tlsPath, 'upstream_port'], `prefect_api.tls.upstream_port ${port} is also prefect_api.port, where the TLS front listens; choose another loopback port for Prefect (default port + 1)`);
  }
}

function checkArtifacts(vars: ClusterVars, options: ClusterCheckOptions, report: Report): void {
  const env = vars.prefect_environment;
  const base = path.dirname(options.inventoryAbsPath);
  const expect: [string, 'file' | 'directory'][] =
    env.source === 'pixi-pack'
      ? [
          ['pixi_pack_tarball', 'file'],
          ['pixi_unpack_binary', 'file'],
        ]
      : [
          ...(env.source === 'wheelhouse' ? [['wheelhouse_dir', 'directory'] as [string, 'directory']] : []),
          ...('pixi_unpack_binary' in env && env.pixi_unpack_binary !== undefined ? [['pixi_unpack_binary', 'file'] as [string, 'file']] : []),
        ];
  const checks: [string[], string, 'file' | 'directory' | 'repository'][] = expect.map(([key, kind]) => [['all', 'vars', 'prefect_environment', key], (env as Record<string, string>)[key] as string, kind]);
  if (vars.prefect_apt_repository !== undefined) checks.push([['all', 'vars', 'prefect_apt_repository'], vars.prefect_apt_repository, 'repository']);
  const tls = vars.prefect_api.tls;
  if (tls?.source === 'provided') {
    for (const key of ['cert_file', 'key_file', 'ca_file'] as const) {
      const given = tls[key];
      if (given !== undefined) checks.push([['all', 'vars', 'prefect_api', 'tls', key], given, 'file']);
    }
  }
  let allPresent = true;
  for (const [at, given, kind] of checks) {
    const key = at.slice(2).join('.');
    const absolute = path.resolve(base, given);
    let problem: string | undefined;
    try {
      const stat = statSync(absolute);
      if (kind === 'file' && !stat.isFile()) problem = 'is not a file';
      if (kind === 'directory' && !stat.isDirectory()) problem = 'is not a directory';
      if (kind === 'repository' && !stat.isDirectory() && !(stat.isFile() && /\.tar(\.gz)?$/.test(given))) problem = 'is neither a directory nor a .tar or .tar.gz archive';
    } catch {
      problem = 'does not exist';
    }
    if (problem) {
      allPresent = false;
      const shown = path.isAbsolute(given) ? given : `${given} (${absolute})`;
      report(
        options.requireArtifacts ? 'error' : 'warning',
        'artifact-missing',
        at,
        `${key} ${shown} ${problem} on this machine; ${options.requireArtifacts ? 'create it before running' : 'it must exist before `pag-ansible run`'} (relative paths are resolved against the inventory's directory)`,
      );
    }
  }
  if (allPresent && tls?.source === 'provided' && tls.cert_file !== undefined && tls.key_file !== undefined && tls.ca_file !== undefined) {
    const files = { cert_file: path.resolve(base, tls.cert_file), key_file: path.resolve(base, tls.key_file), ca_file: path.resolve(base, tls.ca_file) };
    let host: string | undefined;
    try {
      host = urlHostname(vars.prefect_api.url);
    } catch {
      host = undefined; // a URL that does not parse is reported by the schema
    }
    if (host) {
      for (const problem of checkProvidedTls(files, host)) {
        report('error', 'api-tls-files', ['all', 'vars', 'prefect_api', 'tls', problem.key], `prefect_api.tls.${problem.key} ${tls[problem.key]} ${problem.message}`);
      }
    }
  }
}

/** postgresql.conf parameters that the cluster's own configuration (Debian's pg_createcluster) or prefect_database set. */
/** The first Prefect releases with `prefect server start --workers N` and `prefect server services start`. */
export const MULTI_PROCESS_API_SINCE = '3.4.20';
export const SEPARATE_SERVICES_SINCE = '3.2';

/** Whether a Prefect release (3.4.11, 3.4.20rc1, 3.2) is at least `since`; pre-releases come before their release. */
export function prefectAtLeast(version: string, since: string): boolean {
  const parse = (v: string) => {
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(v) ?? [];
    return { parts: [Number(m[1] ?? 0), Number(m[2] ?? 0), Number(m[3] ?? 0)], pre: /^(a|b|rc|\.dev)/.test(m[4] ?? '') };
  };
  const a = parse(version);
  const b = parse(since);
  for (let i = 0; i < 3; i++) if (a.parts[i] !== b.parts[i]) return (a.parts[i] as number) > (b.parts[i] as number);
  return !a.pre || b.pre;
}

/** API processes and where the background services run, as the inventory asks (defaults applied). */
function scaleOf(vars: ClusterVars): { processes: number; services: 'in_process' | 'separate' } {
  const processes = vars.prefect_api.processes ?? 1;
  // With --workers > 1 Prefect starts no services in the API processes: they need their own unit.
  return { processes, services: vars.prefect_api.services ?? (processes > 1 ? 'separate' : 'in_process') };
}

/**
 * Several API processes and split services, against what Prefect's CLI accepts (prefect/cli/server.py of 3.4.25:
 * --workers > 1 needs PostgreSQL and Redis for messaging and lease storage, and implies --no-services).
 */
function checkScaleOut(vars: ClusterVars, report: Report): void {
  const apiPath: PathSegment[] = ['all', 'vars', 'prefect_api'];
  const version = vars.prefect_version;
  const { processes, services } = scaleOf(vars);
  const redis = vars.prefect_redis !== undefined;
  if (processes > 1) {
    const at = [...apiPath, 'processes'];
    if (!prefectAtLeast(version, MULTI_PROCESS_API_SINCE)) {
      report('error', 'api-processes-version', at, `prefect_api.processes ${processes} runs prefect server start --workers ${processes}, which Prefect ${version} does not have: it needs Prefect ${MULTI_PROCESS_API_SINCE} or later; raise prefect_version or set processes to 1`);
    }
    if ((vars.prefect_database?.type ?? 'sqlite') !== 'postgresql') {
      report('error', 'api-processes-database', at, `prefect_api.processes ${processes} needs PostgreSQL (prefect_database.type postgresql): Prefect refuses --workers > 1 on SQLite`);
    }
    if (!redis) {
      report('error', 'api-processes-redis', at, `prefect_api.processes ${processes} needs prefect_redis: Prefect refuses --workers > 1 with in-memory messaging and lease storage, which the processes cannot share`);
    }
    if (vars.prefect_api.services === 'in_process') {
      report('error', 'api-processes-services', [...apiPath, 'services'], `prefect_api.services in_process cannot go with processes ${processes}: Prefect runs no background services in the API processes when --workers is more than 1 (scheduler, late runs, triggers would stop); set services to separate`);
    }
  }
  if (services === 'separate') {
    const at = vars.prefect_api.services !== undefined ? [...apiPath, 'services'] : [...apiPath, 'processes'];
    if (!prefectAtLeast(version, SEPARATE_SERVICES_SINCE)) {
      report('error', 'separate-services-version', at, `prefect_api.services separate runs prefect server services start, which Prefect ${version} does not have: it needs Prefect ${SEPARATE_SERVICES_SINCE} or later; raise prefect_version or set services to in_process`);
    }
    if (!redis && processes === 1) {
      report('error', 'separate-services-redis', at, 'prefect_api.services separate needs prefect_redis: the API and the services process exchange events through the messaging broker, and the in-memory one does not reach across processes');
    }
  }
  const redisCfg = vars.prefect_redis;
  if (redisCfg?.mode === 'local') {
    for (const key of ['host', 'ssl'] as const) {
      if (redisCfg[key] !== undefined) report('warning', 'redis-local-ignored', ['all', 'vars', 'prefect_redis', key], `prefect_redis.${key} applies to mode external; a local Redis listens on 127.0.0.1 without TLS, so it is ignored`, 'key');
    }
  }
}

function normaliseRedis(raw: NonNullable<ClusterVars['prefect_redis']>): RedisConfig {
  const local = raw.mode === 'local';
  return { mode: raw.mode, host: local ? '127.0.0.1' : (raw.host as string), port: raw.port ?? 6379, db: raw.db ?? 0, ssl: local ? false : (raw.ssl ?? false) };
}

const PG_CONF_OWNED: Readonly<Record<string, string>> = {
  port: 'prefect_database.port',
  data_directory: "the cluster's own postgresql.conf",
  config_file: "the cluster's own postgresql.conf",
  hba_file: "the cluster's own postgresql.conf",
  ident_file: "the cluster's own postgresql.conf",
  external_pid_file: "the cluster's own postgresql.conf",
  include_dir: "the cluster's own postgresql.conf",
};

/**
 * prefect_server_settings.env and prefect_database's PostgreSQL tuning: returns the escape hatch's settings to
 * write (empty when there are none or they have errors).
 */
function checkServerSettings(vars: ClusterVars, report: Report): ServerEnv {
  const dbPath: PathSegment[] = ['all', 'vars', 'prefect_database'];
  const env = vars.prefect_server_settings?.env;
  const extra = env ? checkServerEnv(env, vars.prefect_version, ['all', 'vars', 'prefect_server_settings', 'env'], report) : {};
  const db = vars.prefect_database;
  if (db?.type !== 'postgresql') return extra;
  const mode = db.mode ?? 'local';
  if (mode === 'external') {
    for (const key of ['postgresql_conf', 'postgresql_autotune'] as const) {
      if (db[key] !== undefined) report('warning', 'postgresql-conf-unused', [...dbPath, key], `prefect_database.${key} applies to a local PostgreSQL (mode local); with mode external it is ignored: tune that server where it runs`, 'key');
    }
    return extra;
  }
  for (const name of Object.keys(db.postgresql_conf ?? {})) {
    const owner = PG_CONF_OWNED[name];
    if (owner !== undefined) report('error', 'postgresql-conf-owned', [...dbPath, 'postgresql_conf', name], `postgresql_conf cannot set ${name}: it is set by ${owner}`, 'key');
  }
  const database = normaliseDatabase(db) as Extract<DatabaseConfig, { type: 'postgresql' }>;
  const { processes, services } = scaleOf(vars);
  const budget = connectionBudget(database, processes, services === 'separate' ? 1 : 0);
  if (budget.required > budget.available) {
    const maxSet = db.postgresql_conf?.max_connections !== undefined;
    const at: PathSegment[] = maxSet
      ? [...dbPath, 'postgresql_conf', 'max_connections']
      : db.max_overflow !== undefined
        ? [...dbPath, 'max_overflow']
        : db.pool_size !== undefined
          ? [...dbPath, 'pool_size']
          : dbPath;
    report('error', 'connection-budget', at, budgetMessage(budget, database, maxSet), at === dbPath ? 'key' : 'value');
  }
  return extra;
}

/** A postgresql.conf value as text: booleans as on/off, numbers as Python would print them. */
function pgConfText(value: string | number | boolean | YamlNumber): string {
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
}

function normaliseDatabase(rawDb: NonNullable<ClusterVars['prefect_database']>): DatabaseConfig {
  const seconds = (v: number | YamlNumber | undefined) => (v === undefined ? undefined : Number(v.valueOf()));
  if (rawDb.type === 'sqlite') {
    const timeout = seconds(rawDb.timeout);
    return { type: 'sqlite', ...(timeout !== undefined && { timeout }) };
  }
  const optional = {
    pool_recycle: rawDb.pool_recycle,
    pool_timeout: seconds(rawDb.pool_timeout),
    timeout: seconds(rawDb.timeout),
    connection_timeout: seconds(rawDb.connection_timeout),
    postgresql_version: rawDb.postgresql_version,
  };
  const mode = rawDb.mode ?? 'local';
  return {
    type: 'postgresql',
    mode,
    host: rawDb.host ?? '127.0.0.1',
    port: rawDb.port ?? 5432,
    name: rawDb.name ?? 'prefect',
    user: rawDb.user ?? 'prefect',
    pool_size: rawDb.pool_size ?? 5,
    max_overflow: rawDb.max_overflow ?? 10,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    ...(mode === 'local' && {
      postgresql_conf: Object.fromEntries(
        Object.keys(rawDb.postgresql_conf ?? {})
          .sort()
          .map((k) => [k, pgConfText((rawDb.postgresql_conf ?? {})[k] as string | number | boolean | YamlNumber)]),
      ),
      postgresql_autotune: rawDb.postgresql_autotune ?? true,
    }),
  };
}

function poolsOf(vars: ClusterVars): Map<string, WorkPool> {
  const pools = new Map<string, WorkPool>();
  const names = Object.keys(vars.prefect_work_pools ?? {}).sort();
  for (const name of names) {
    const raw = vars.prefect_work_pools?.[name] ?? {};
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw.env ?? {})) env[key] = String(value);
    pools.set(name, {
      name,
      type: 'process',
      concurrency_limit: raw.concurrency_limit ?? null,
      worker_limit: raw.worker_limit ?? null,
      gpu: raw.gpu ?? false,
      drain_timeout: raw.drain_timeout ?? DEFAULT_DRAIN_TIMEOUT,
      env,
    });
  }
  return pools;
}

const isAnsibleVar = (key: string) => key.startsWith('ansible_');

function ansibleVars(values: Record<string, unknown>): Record<string, AnsibleValue> {
  const out: Record<string, AnsibleValue> = {};
  for (const [key, value] of Object.entries(values)) if (isAnsibleVar(key)) out[key] = value as AnsibleValue;
  return out;
}

/** Trailing slashes would make `<dir>/versions` and friends look different for the same directory. */
function trimSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function normalise(
  vars: ClusterVars,
  model: InventoryModel,
  pools: Map<string, WorkPool>,
  serverName: string,
  workerPlans: WorkerPlan[],
  options: ClusterCheckOptions,
  extraServerEnv: ServerEnv,
): ClusterConfig {
  const version = vars.prefect_version;
  const user = vars.prefect_user ?? 'prefect';
  const installDir = trimSlash(vars.prefect_install_dir ?? '/opt/prefect');
  const raw = vars.prefect_environment;
  // Controller paths stay as the inventory wrote them (relative ones resolve against its directory): the
  // rendered tree then holds the same bytes wherever the inventory is checked out.
  const controllerPath = (p: string) => (path.isAbsolute(p) ? trimSlash(path.normalize(p)) : trimSlash(path.posix.normalize(p)));
  const environment: EnvironmentSource =
    raw.source === 'pixi-pack'
      ? { source: 'pixi-pack', pixi_pack_tarball: controllerPath(raw.pixi_pack_tarball), pixi_unpack_binary: controllerPath(raw.pixi_unpack_binary) }
      : raw.source === 'wheelhouse'
        ? {
            source: 'wheelhouse',
            wheelhouse_dir: controllerPath(raw.wheelhouse_dir),
            python: raw.python ?? '/usr/bin/python3',
            requirement: raw.requirement ?? `prefect==${version}`,
            system_site_packages: raw.system_site_packages ?? false,
            system_packages: raw.system_packages ?? [],
            ...(raw.pixi_unpack_binary !== undefined && { pixi_unpack_binary: controllerPath(raw.pixi_unpack_binary) }),
          }
        : {
            source: 'prefix',
            prefix: trimSlash(raw.prefix),
            ...(raw.pixi_unpack_binary !== undefined && { pixi_unpack_binary: controllerPath(raw.pixi_unpack_binary) }),
          };

  const database = normaliseDatabase(vars.prefect_database ?? { type: 'sqlite' });
  const serverEnv: ServerEnv = { ...extraServerEnv, ...typedServerEnv(database, vars.prefect_server_settings ?? {}) };

  const apiPort = vars.prefect_api.port ?? DEFAULT_API_PORT;
  const bindHost = vars.prefect_api.bind_host ?? '0.0.0.0';
  const tls = normaliseTls(vars.prefect_api.tls, apiPort, controllerPath);
  const connection = (name: string): HostConnection => ({ name, vars: ansibleVars(model.hostVarsMatching(name, isAnsibleVar)) });

  const workers: WorkerHost[] = workerPlans.map((plan) => {
    const units: WorkerUnit[] = [...plan.pools].sort().map((poolName, index) => {
      const pool = pools.get(poolName) as WorkPool;
      return {
        pool: poolName,
        unit: `prefect-worker-${poolName}`,
        worker_name: `${plan.name}-${poolName}`,
        // The host's own limit, else the pool's per-worker limit, else one run per GPU or the pool-wide limit.
        limit: plan.limits[poolName] ?? pool.worker_limit ?? (pool.gpu ? plan.gpuIds.length : pool.concurrency_limit),
        healthcheck_port: HEALTHCHECK_BASE_PORT + index,
        gpu_ids: pool.gpu ? [...plan.gpuIds] : [],
        env: { ...pool.env },
      };
    });
    return { ...connection(plan.name), pools: [...plan.pools], gpu_ids: [...plan.gpuIds], units };
  });

  return {
    inventoryPath: options.inventoryAbsPath,
    allVars: ansibleVars(vars),
    server: connection(serverName),
    workers,
    prefect_version: version,
    prefect_user: user,
    prefect_group: user,
    prefect_install_dir: installDir,
    prefect_home: trimSlash(vars.prefect_home ?? '/var/lib/prefect'),
    prefect_config_dir: '/etc/prefect',
    prefect_flows_dir: trimSlash(vars.prefect_flows_dir ?? `${installDir}/flows`),
    // Kept as written: the roles resolve relative controller paths against the inventory's directory.
    ...(vars.prefect_apt_repository !== undefined && { prefect_apt_repository: trimSlash(vars.prefect_apt_repository) }),
    prefect_environment: environment,
    prefect_environment_id: `${version}-${raw.source}`.replace(/[^A-Za-z0-9._-]/g, '-'),
    prefect_api_bind_host: bindHost,
    prefect_api_port: apiPort,
    prefect_api_url: vars.prefect_api.url,
    // Behind the TLS front Prefect listens on loopback only; the server host's own calls go there in plain HTTP.
    prefect_server_api_local_url: tls ? `http://127.0.0.1:${tls.upstream_port}/api` : `http://${localAddressFor(bindHost)}:${apiPort}/api`,
    ...(tls !== undefined && { prefect_api_tls: tls }),
    prefect_analytics_enabled: vars.prefect_analytics_enabled ?? false,
    prefect_database: database,
    prefect_api_processes: scaleOf(vars).processes,
    prefect_api_services: scaleOf(vars).services,
    ...(vars.prefect_redis !== undefined && { prefect_redis: normaliseRedis(vars.prefect_redis) }),
    prefect_server_env: Object.fromEntries(Object.keys(serverEnv).sort().map((k) => [k, serverEnv[k] as string])),
    prefect_work_pools: [...pools.values()],
    prefect_worker_healthcheck: vars.prefect_worker_healthcheck ?? false,
  };
}

/** Controller paths as written (the roles resolve relative ones against the inventory's directory). */
function normaliseTls(raw: RawTls | undefined, apiPort: number, controllerPath: (p: string) => string): ApiTls | undefined {
  if (raw === undefined) return undefined;
  const upstream_port = raw.upstream_port ?? (apiPort === 65535 ? apiPort - 1 : apiPort + 1);
  if (raw.source === 'provided') {
    return {
      source: 'provided',
      cert_file: controllerPath(raw.cert_file as string),
      key_file: controllerPath(raw.key_file as string),
      ca_file: controllerPath(raw.ca_file as string),
      upstream_port,
    };
  }
  const dir = controllerPath(raw.site_ca_dir ?? 'pki');
  return {
    source: 'site_ca',
    site_ca_dir: dir,
    cert_file: `${dir}/${SITE_CA_FILES.serverCert}`,
    key_file: `${dir}/${SITE_CA_FILES.serverKey}`,
    ca_file: `${dir}/${SITE_CA_FILES.caCert}`,
    upstream_port,
  };
}

/** A server bound to one address is not reachable on 127.0.0.1: check it where it listens. */
function localAddressFor(bindHost: string): string {
  if (bindHost === '0.0.0.0' || bindHost === '::' || bindHost === 'localhost') return '127.0.0.1';
  return bindHost.includes(':') ? `[${bindHost}]` : bindHost;
}

