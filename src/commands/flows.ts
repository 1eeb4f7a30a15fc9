/** `pag-ansible flows`: the server's deployments, read through the REST API. */
import { Command, Option } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { addClusterOptions, clusterDeps, loadClusterInput, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export interface FlowsOptions extends ClusterInputOptions {
  secrets: string;
  format: string;
}

export interface FlowsDeps extends Pick<ClusterDeps, 'loadClusterOrThrow'> {
  fetch?: typeof fetch;
}

export async function flowsAction(opts: FlowsOptions, ctx: CommandContext, deps: FlowsDeps = { loadClusterOrThrow: clusterDeps.loadClusterOrThrow }): Promise<void> {
  const { listDeployments, formatDeployments } = await import('../ops/flows.js');
  const { clientFor } = await import('../prefect-api/connect.js');
  const { config, secrets } = await loadClusterInput(opts, ctx, deps, { secrets: true, artifacts: false });
  const rows = await listDeployments(clientFor(config, secrets, deps.fetch !== undefined ? { fetch: deps.fetch } : {}));
  ctx.reporter.out(opts.format === 'json' ? JSON.stringify(rows, null, 2) : formatDeployments(rows));
  ctx.exitCode = 0;
}

export function registerFlows(program: Command, ctx: CommandContext): void {
  const cmd = program.command('flows').description("List the server's deployments (FLOW/DEPLOYMENT, work pool, tags, entrypoint).");
  addClusterOptions(cmd, { mode: 'required', help: 'secrets file (prefect_api_auth_string)' })
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', ['', 'Example:', '  pag-ansible flows -i inventory.yml -s secrets.yml'].join('\n'))
    .action(async (opts: FlowsOptions) => {
      await flowsAction(opts, ctx);
    });
}
