/**
 * `pag-ansible flow-run DEPLOYMENT`: starts a run of a deployment through the REST API (no ssh, no prefect CLI)
 * and, with --watch, follows its states and logs and exits with its outcome.
 */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { collect } from '../ansible/command-args.js';
import { parseFlowParams } from '../flow/options.js';
import { UsageError } from '../errors.js';
import { addClusterOptions, clusterDeps, loadClusterInput, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export interface FlowRunOptions extends ClusterInputOptions {
  secrets: string;
  param?: string[];
  watch?: boolean;
  timeout?: string;
}

export interface FlowRunDeps extends Pick<ClusterDeps, 'loadClusterOrThrow'> {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  pollMs?: number;
}

const defaultDeps: FlowRunDeps = { loadClusterOrThrow: clusterDeps.loadClusterOrThrow };

export async function flowRunAction(ref: string, opts: FlowRunOptions, ctx: CommandContext, deps: FlowRunDeps = defaultDeps): Promise<void> {
  const { parseDeploymentRef, findDeployment, watchFlowRun, checkOutcome } = await import('../ops/flows.js');
  const { clientFor } = await import('../prefect-api/connect.js');
  const target = parseDeploymentRef(ref);
  const params = parseFlowParams(opts.param ?? []);
  let timeoutMs = 0;
  if (opts.timeout !== undefined) {
    if (!/^\d+$/.test(opts.timeout)) throw new UsageError(`--timeout ${JSON.stringify(opts.timeout)}: expected whole seconds`);
    if (!opts.watch) throw new UsageError('--timeout needs --watch');
    timeoutMs = Number(opts.timeout) * 1000;
  }
  const { config, secrets } = await loadClusterInput(opts, ctx, deps, { secrets: true, artifacts: false });
  const client = clientFor(config, secrets, deps.fetch !== undefined ? { fetch: deps.fetch } : {});
  const { deployment, flow } = await findDeployment(client, target);
  const run = await client.createFlowRun(deployment.id, params);
  ctx.reporter.out(`flow run ${run.name} (${run.id}) of ${flow}/${deployment.name} created`);
  ctx.reporter.err(`pag-ansible: ${config.prefect_api_url.replace(/\/api\/?$/, '')}/runs/flow-run/${run.id}`);
  if (!opts.watch) {
    ctx.exitCode = 0;
    return;
  }
  const final = await watchFlowRun(
    client,
    run.id,
    {
      state: (r) => ctx.reporter.out(`${new Date().toISOString()} state ${r.state?.name ?? r.state_name}${r.state?.message ? `: ${r.state.message}` : ''}`),
      log: (line) => ctx.reporter.out(line),
    },
    { timeoutMs, ...(deps.sleep !== undefined && { sleep: deps.sleep }), ...(deps.pollMs !== undefined && { intervalMs: deps.pollMs }) },
  );
  checkOutcome(final);
  ctx.exitCode = 0;
}

export function registerFlowRun(program: Command, ctx: CommandContext): void {
  const cmd = program.command('flow-run').description('Start a run of a deployment; with --watch follow its states and logs and exit with its outcome.');
  addClusterOptions(cmd, { mode: 'required', help: 'secrets file (prefect_api_auth_string)' })
    .argument('<deployment>', 'FLOW/DEPLOYMENT, or DEPLOYMENT when the name is unique (`pag-ansible flows` lists them)')
    .option('--param <name=value>', 'flow parameter for this run; JSON when it parses (3, true, [1,2]), else a string; repeatable', collect)
    .option('--watch', 'follow the run until it ends; exit 0 only when it Completed')
    .option('--timeout <seconds>', 'with --watch: give up after this long (exit 7; the run goes on)')
    .addHelpText(
      'after',
      [
        '',
        'Exit code: 0 run created (or, with --watch, Completed); 7 the run Failed, Crashed or was Cancelled;',
        '1 no such deployment; 6 the Prefect API could not be reached or refused the request; 2 usage error.',
        '',
        'Examples:',
        '  pag-ansible flow-run -i inventory.yml -s secrets.yml holo-galaxy/holo-galaxy --param sbid=44641 --watch',
        '  pag-ansible flow-run -i inventory.yml -s secrets.yml nightly',
      ].join('\n'),
    )
    .action(async (ref: string, opts: FlowRunOptions) => {
      await flowRunAction(ref, opts, ctx);
    });
}
