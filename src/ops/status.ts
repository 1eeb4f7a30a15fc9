/**
 * `pag-ansible status`: one pass over the cluster. The Prefect API (server, pools, workers, runs) is read from
 * the controller while a single ad-hoc Ansible call reads every host's `prefect-*` units; both run at once.
 * Pure apart from the injected readers, so tests drive it with a local HTTP server and canned unit results.
 */
import type { ClusterConfig } from '../config/types.js';
import type { FlowRun, PrefectClient, Worker } from '../prefect-api/client.js';
import type { HostUnits } from './units.js';

/** Exit code of `status` when anything is unhealthy (documented in README). */
export const DEGRADED_EXIT = 5;

export interface BackupSummary {
  file: string;
  time: string;
  prefect_version: string;
  database_type: string;
}

export interface PoolStatus {
  name: string;
  /** Defined on the server. */
  exists: boolean;
  concurrency_limit: number | null;
  paused: boolean;
  workers: { name: string; status: string; last_heartbeat: string | null; expected: boolean }[];
}

export interface RunSummary {
  id: string;
  name: string;
  state: string;
  pool: string | null;
  time: string | null;
}

export interface StatusReport {
  checked_at: string;
  healthy: boolean;
  problems: string[];
  server: {
    host: string;
    url: string;
    reachable: boolean;
    ready: boolean;
    version: string | null;
    database: string;
    error?: string;
    last_backup: BackupSummary | null;
  };
  pools: PoolStatus[];
  runs: { since: string; late: RunSummary[]; crashed: RunSummary[] };
  hosts: HostUnits[];
  unreachable_hosts: string[];
}

export interface StatusDeps {
  client: PrefectClient;
  /** The single ad-hoc Ansible call. */
  readUnits: () => Promise<HostUnits[]>;
  /** The newest backup in the backup directory, if any. */
  lastBackup: () => Promise<BackupSummary | undefined>;
  now?: () => Date;
}

const DAY_MS = 24 * 3600 * 1000;

export async function collectStatus(config: ClusterConfig, deps: StatusDeps): Promise<StatusReport> {
  const now = (deps.now ?? (() => new Date()))();
  const since = new Date(now.getTime() - DAY_MS).toISOString();
  const [api, hosts, backup] = await Promise.all([
    readApi(config, deps.client, since),
    deps.readUnits(),
    deps.lastBackup().catch(() => undefined),
  ]);
  const db = config.prefect_database;
  const report: StatusReport = {
    checked_at: now.toISOString(),
    healthy: true,
    problems: [],
    server: {
      host: config.server.name,
      url: config.prefect_api_url,
      reachable: api.reachable,
      ready: api.ready,
      version: api.version,
      database: db.type === 'sqlite' ? 'sqlite' : `postgresql (${db.mode}, ${db.host}:${db.port}/${db.name})`,
      ...(api.error !== undefined && { error: api.error }),
      last_backup: backup ?? null,
    },
    pools: api.pools,
    runs: { since, late: api.late, crashed: api.crashed },
    hosts,
    unreachable_hosts: hosts.filter((h) => !h.reachable).map((h) => h.host),
  };
  report.problems = findProblems(config, report);
  report.healthy = report.problems.length === 0;
  return report;
}

interface ApiState {
  reachable: boolean;
  ready: boolean;
  version: string | null;
  error?: string;
  pools: PoolStatus[];
  late: RunSummary[];
  crashed: RunSummary[];
}

async function readApi(config: ClusterConfig, client: PrefectClient, since: string): Promise<ApiState> {
  const state: ApiState = { reachable: false, ready: false, version: null, pools: [], late: [], crashed: [] };
  const expected = expectedWorkers(config);
  try {
    // /ready needs no credentials: it tells "server down" from "credentials wrong".
    const ready = await client.ready();
    state.reachable = true;
    state.ready = ready.ready;
    if (!ready.ready) {
      // Everything else lives in the database the server cannot reach: the rest would only fail.
      state.error = `not ready: ${ready.message}`;
      return state;
    }
    const [version, pools, late, crashed] = await Promise.all([
      client.version(),
      client.workPools(),
      client.flowRuns({ state: { name: { any_: ['Late'] } }, expected_start_time: { after_: since } }),
      client.flowRuns({ state: { type: { any_: ['CRASHED'] } }, end_time: { after_: since } }),
    ]);
    state.version = version;
    state.late = late.map((r) => summarise(r, r.expected_start_time ?? null));
    state.crashed = crashed.map((r) => summarise(r, r.end_time ?? null));
    const byName = new Map(pools.map((p) => [p.name, p]));
    const names = [...new Set([...config.prefect_work_pools.map((p) => p.name), ...pools.map((p) => p.name)])].sort();
    const workers = await Promise.all(names.map((n) => (byName.has(n) ? client.workers(n) : Promise.resolve([] as Worker[]))));
    state.pools = names.map((name, i) => {
      const p = byName.get(name);
      const seen = workers[i] ?? [];
      const want = expected.get(name) ?? [];
      const list = seen.map((w) => ({ name: w.name, status: w.status, last_heartbeat: w.last_heartbeat_time, expected: want.includes(w.name) }));
      for (const w of want) if (!seen.some((s) => s.name === w)) list.push({ name: w, status: 'MISSING', last_heartbeat: null, expected: true });
      list.sort((a, b) => a.name.localeCompare(b.name));
      return { name, exists: p !== undefined, concurrency_limit: p?.concurrency_limit ?? null, paused: p?.is_paused ?? false, workers: list };
    });
  } catch (e) {
    state.error = e instanceof Error ? e.message : String(e);
  }
  return state;
}

function summarise(r: FlowRun, time: string | null): RunSummary {
  return { id: r.id, name: r.name, state: r.state?.name ?? r.state_name ?? r.state_type ?? '?', pool: r.work_pool_name ?? null, time };
}

/** Pool name → the worker names the inventory starts (`prefect worker start --name`). */
export function expectedWorkers(config: ClusterConfig): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const w of config.workers) for (const u of w.units) m.set(u.pool, [...(m.get(u.pool) ?? []), u.worker_name]);
  return m;
}

/** Host → the units the inventory says must run there. */
export function expectedUnits(config: ClusterConfig): Map<string, string[]> {
  const m = new Map<string, string[]>();
  m.set(config.server.name, ['prefect-server.service']);
  for (const w of config.workers) m.set(w.name, [...(m.get(w.name) ?? []), ...w.units.map((u) => `${u.unit}.service`)]);
  return m;
}

export function findProblems(config: ClusterConfig, r: StatusReport): string[] {
  const problems: string[] = [];
  if (!r.server.reachable) problems.push(`the Prefect API at ${r.server.url} does not answer${r.server.error ? `: ${r.server.error}` : ''}`);
  else if (!r.server.ready) problems.push(`the server is not ready${r.server.error ? ` (${r.server.error})` : ''}`);
  else if (r.server.error !== undefined) problems.push(`the Prefect API: ${r.server.error}`);
  for (const p of r.pools) {
    const inInventory = config.prefect_work_pools.some((w) => w.name === p.name);
    if (r.server.reachable && r.server.error === undefined && inInventory && !p.exists) problems.push(`work pool ${p.name} does not exist on the server`);
    if (p.paused) problems.push(`work pool ${p.name} is paused`);
    for (const w of p.workers) if (w.expected && w.status !== 'ONLINE') problems.push(`worker ${w.name} (pool ${p.name}) is ${w.status}`);
  }
  if (r.runs.late.length > 0) problems.push(`${r.runs.late.length} late flow run(s) in the last 24 h`);
  if (r.runs.crashed.length > 0) problems.push(`${r.runs.crashed.length} crashed flow run(s) in the last 24 h`);
  const want = expectedUnits(config);
  for (const h of r.hosts) {
    if (!h.reachable) {
      problems.push(`host ${h.host} is unreachable${h.error ? `: ${h.error}` : ''}`);
      continue;
    }
    if (h.error !== undefined && h.units.length === 0) problems.push(`host ${h.host}: cannot read its units: ${h.error}`);
    for (const name of want.get(h.host) ?? []) {
      const u = h.units.find((x) => x.unit === name);
      if (u === undefined) problems.push(`host ${h.host}: ${name} is not installed`);
      else if (u.active !== 'active') problems.push(`host ${h.host}: ${name} is ${u.active} (${u.sub})`);
    }
    for (const u of h.units) if (u.active === 'failed' && !(want.get(h.host) ?? []).includes(u.unit)) problems.push(`host ${h.host}: ${u.unit} has failed`);
  }
  return problems;
}

/** The human-readable report (stdout). */
export function formatStatusText(r: StatusReport, now: Date = new Date(r.checked_at)): string {
  const lines: string[] = [];
  const s = r.server;
  lines.push(`Server ${s.host} (${s.url})`);
  lines.push(`  ready:        ${!s.reachable ? 'NO (unreachable)' : s.ready ? 'yes' : 'NO'}${s.version ? `, Prefect ${s.version}` : ''}`);
  lines.push(`  database:     ${s.database}`);
  lines.push(`  last backup:  ${s.last_backup ? `${s.last_backup.time} (${ago(s.last_backup.time, now)}) ${s.last_backup.file}` : 'none found'}`);
  lines.push('');
  lines.push('Work pools');
  if (r.pools.length === 0) lines.push('  (not read)');
  for (const p of r.pools) {
    const limit = p.concurrency_limit === null ? 'unlimited' : String(p.concurrency_limit);
    lines.push(`  ${p.name}: ${p.exists ? `concurrency limit ${limit}${p.paused ? ', PAUSED' : ''}` : 'MISSING on the server'}`);
    for (const w of p.workers) {
      lines.push(`    ${w.status.padEnd(8)} ${w.name}${w.last_heartbeat ? `  last heartbeat ${w.last_heartbeat} (${ago(w.last_heartbeat, now)})` : ''}`);
    }
  }
  lines.push('');
  lines.push(`Flow runs since ${r.runs.since}: ${r.runs.late.length} late, ${r.runs.crashed.length} crashed`);
  for (const run of [...r.runs.late, ...r.runs.crashed]) lines.push(`  ${run.state.padEnd(8)} ${run.name} ${run.id}${run.pool ? ` (pool ${run.pool})` : ''}${run.time ? ` ${run.time}` : ''}`);
  lines.push('');
  lines.push('Hosts');
  for (const h of r.hosts) {
    if (!h.reachable) {
      lines.push(`  ${h.host}: UNREACHABLE${h.error ? ` (${h.error})` : ''}`);
      continue;
    }
    lines.push(`  ${h.host}:${h.units.length === 0 ? ' no prefect-* units' : ''}${h.error ? ` (${h.error})` : ''}`);
    for (const u of h.units) {
      lines.push(`    ${`${u.active}/${u.sub}`.padEnd(18)} ${u.unit}${u.enabled ? ` (${u.enabled})` : ''}${u.restarts ? `, restarted ${u.restarts}×` : ''}`);
    }
  }
  lines.push('');
  if (r.healthy) lines.push('HEALTHY');
  else {
    lines.push(`DEGRADED: ${r.problems.length} problem(s)`);
    for (const p of r.problems) lines.push(`  - ${p}`);
  }
  return lines.join('\n');
}

/** "3 min ago", "2 h ago", "5 d ago". */
export function ago(iso: string, now: Date): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '?';
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 0) return 'in the future';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
