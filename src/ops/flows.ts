/**
 * Deployments through the REST API: find one by `flow/deployment` or by deployment name alone, list them, start a
 * run and follow it. Pure apart from the client and the injected clock/sleep, so tests run it against a local
 * HTTP server.
 */
import { PagError, UsageError, CheckFailedError } from '../errors.js';
import { FINAL_STATE_TYPES, type Deployment, type FlowRun, type PrefectClient } from '../prefect-api/client.js';
import { DEPLOYMENT_NAME } from '../flow/options.js';

/** Exit code of `flow-run --watch` when the run ends in another state than Completed (documented in README). */
export const RUN_FAILED_EXIT = 7;

export class FlowRunFailedError extends PagError {
  readonly exitCode = RUN_FAILED_EXIT;
}

/** The server has no such deployment (exit 1); `flow-remove` still cleans the hosts then. */
export class DeploymentNotFoundError extends CheckFailedError {}

export interface DeploymentRef {
  flow?: string;
  deployment: string;
}

/** `FLOW/DEPLOYMENT` (as Prefect prints it) or `DEPLOYMENT` alone (unique among the server's deployments). */
export function parseDeploymentRef(ref: string): DeploymentRef {
  const parts = ref.split('/');
  if (parts.length > 2 || parts.some((p) => p.trim() === '')) {
    throw new UsageError(`${JSON.stringify(ref)} is not a deployment: expected FLOW/DEPLOYMENT or DEPLOYMENT`, '`pag-ansible flows` lists them.');
  }
  if (parts.length === 2) return { flow: parts[0] as string, deployment: parts[1] as string };
  return { deployment: parts[0] as string };
}

export interface DeploymentRow {
  id: string;
  flow: string;
  name: string;
  work_pool: string | null;
  tags: string[];
  paused: boolean;
  entrypoint: string | null;
}

export async function listDeployments(client: PrefectClient): Promise<DeploymentRow[]> {
  const deps = await client.deployments();
  const flows = await client.flows([...new Set(deps.map((d) => d.flow_id))]);
  const names = new Map(flows.map((f) => [f.id, f.name]));
  return deps
    .map((d) => ({
      id: d.id,
      flow: names.get(d.flow_id) ?? d.flow_id,
      name: d.name,
      work_pool: d.work_pool_name ?? null,
      tags: d.tags ?? [],
      paused: d.paused ?? false,
      entrypoint: d.entrypoint ?? null,
    }))
    .sort((a, b) => `${a.flow}/${a.name}`.localeCompare(`${b.flow}/${b.name}`));
}

export function formatDeployments(rows: DeploymentRow[]): string {
  if (rows.length === 0) return 'No deployments.';
  const head = ['DEPLOYMENT', 'WORK POOL', 'TAGS', 'ENTRYPOINT'];
  const body = rows.map((r) => [`${r.flow}/${r.name}${r.paused ? ' (paused)' : ''}`, r.work_pool ?? '-', r.tags.join(',') || '-', r.entrypoint ?? '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  return [head, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ')).join('\n');
}

/** Finds the deployment; throws CheckFailedError (exit 1) when there is none or the bare name is ambiguous. */
export async function findDeployment(client: PrefectClient, ref: DeploymentRef): Promise<{ deployment: Deployment; flow: string }> {
  if (ref.flow !== undefined) {
    const d = await client.deploymentByName(ref.flow, ref.deployment);
    if (d === undefined) throw new DeploymentNotFoundError(`the server has no deployment ${ref.flow}/${ref.deployment}`, '`pag-ansible flows` lists them.');
    return { deployment: d, flow: ref.flow };
  }
  const matches = (await listDeployments(client)).filter((r) => r.name === ref.deployment);
  if (matches.length === 0) throw new DeploymentNotFoundError(`the server has no deployment named ${ref.deployment}`, '`pag-ansible flows` lists them.');
  if (matches.length > 1) {
    throw new CheckFailedError(`${ref.deployment} names ${matches.length} deployments: ${matches.map((m) => `${m.flow}/${m.name}`).join(', ')}`, 'Give FLOW/DEPLOYMENT.');
  }
  const m = matches[0] as DeploymentRow;
  const d = await client.deploymentByName(m.flow, m.name);
  if (d === undefined) throw new CheckFailedError(`the deployment ${m.flow}/${m.name} disappeared while it was read`);
  return { deployment: d, flow: m.flow };
}

/** The directory name pag-ansible installs a deployment's code under (its deployment name, checked). */
export function flowDirName(ref: DeploymentRef): string {
  if (!DEPLOYMENT_NAME.test(ref.deployment)) throw new UsageError(`${JSON.stringify(ref.deployment)} is not a deployment name pag-ansible could have deployed`);
  return ref.deployment;
}

export interface WatchEvents {
  state(run: FlowRun): void;
  log(line: string): void;
}

const LEVELS: Record<number, string> = { 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' };

/**
 * Polls the run until it reaches a final state, reporting each state change and each new log line. Returns the
 * final run. `timeoutMs` 0 waits forever.
 */
export async function watchFlowRun(
  client: PrefectClient,
  runId: string,
  events: WatchEvents,
  opts: { intervalMs?: number; timeoutMs?: number; sleep?: (ms: number) => Promise<void>; now?: () => number } = {},
): Promise<FlowRun> {
  const sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const deadline = opts.timeoutMs ? now() + opts.timeoutMs : Infinity;
  const seen = new Set<string>();
  let lastState = '';
  let after: string | undefined;
  for (;;) {
    const run = await client.flowRun(runId);
    const state = `${run.state?.type ?? run.state_type}/${run.state?.name ?? run.state_name}`;
    if (state !== lastState) {
      lastState = state;
      events.state(run);
    }
    for (const l of await client.logs(runId, after)) {
      const key = l.id ?? `${l.timestamp}|${l.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      after = l.timestamp;
      events.log(`${l.timestamp} ${LEVELS[l.level] ?? l.level} ${l.message}`);
    }
    if (FINAL_STATE_TYPES.has(run.state?.type ?? run.state_type ?? '')) {
      // Logs are shipped in batches: read once more so the last lines are not lost.
      await sleep(Math.min(opts.intervalMs ?? 2000, 1000));
      for (const l of await client.logs(runId, after)) {
        const key = l.id ?? `${l.timestamp}|${l.message}`;
        if (!seen.has(key)) {
          seen.add(key);
          events.log(`${l.timestamp} ${LEVELS[l.level] ?? l.level} ${l.message}`);
        }
      }
      return run;
    }
    if (now() >= deadline) throw new FlowRunFailedError(`flow run ${run.name} (${run.id}) is still ${run.state?.name ?? run.state_name} after the --timeout`);
    await sleep(opts.intervalMs ?? 2000);
  }
}

/** Throws FlowRunFailedError unless the run Completed. */
export function checkOutcome(run: FlowRun): void {
  const type = run.state?.type ?? run.state_type;
  if (type === 'COMPLETED') return;
  const msg = run.state?.message ? `: ${run.state.message}` : '';
  throw new FlowRunFailedError(`flow run ${run.name} (${run.id}) ended ${run.state?.name ?? run.state_name ?? type}${msg}`);
}
