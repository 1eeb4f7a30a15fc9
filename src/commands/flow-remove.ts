/**
 * `pag-ansible flow-remove DEPLOYMENT`: deletes the Prefect deployment through the REST API, then runs
 * prefect-flow-remove.yml, which removes the flow's code and environment from every worker and from the
 * controller's flow store, so nothing stale is left.
 */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { addClusterOptions, clusterDeps, loadAndRender, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export const FLOW_REMOVE_PLAYBOOK = 'prefect-flow-remove.yml';

export interface FlowRemoveOptions extends ClusterInputOptions {
  secrets: string;
}

export interface FlowRemoveDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
  fetch?: typeof fetch;
}

const defaultDeps: FlowRemoveDeps = { ...clusterDeps, runPlaybook };

export async function flowRemoveAction(ref: string, opts: FlowRemoveOptions, ctx: CommandContext, deps: FlowRemoveDeps = defaultDeps): Promise<void> {
  const { parseDeploymentRef, findDeployment, flowDirName, DeploymentNotFoundError } = await import('../ops/flows.js');
  const { clientFor } = await import('../prefect-api/connect.js');
  const target = parseDeploymentRef(ref);
  const dirName = flowDirName(target);
  const { config, secrets, outDir } = await loadAndRender(opts, ctx, deps, { secrets: true, artifacts: false });
  const client = clientFor(config, secrets, deps.fetch !== undefined ? { fetch: deps.fetch } : {});
  try {
    const { deployment, flow } = await findDeployment(client, target);
    await client.deleteDeployment(deployment.id);
    ctx.reporter.err(`pag-ansible: deleted the deployment ${flow}/${deployment.name}`);
  } catch (e) {
    // Nothing on the server: still clean the hosts (a half-removed flow must be removable).
    if (!(e instanceof DeploymentNotFoundError)) throw e;
    ctx.reporter.err(`pag-ansible: ${e.message}; removing its files anyway`);
  }
  const result = await deps.runPlaybook({ renderedDir: outDir, playbook: FLOW_REMOVE_PLAYBOOK, env: ctx.env, extraVars: { deployment_name: dirName } });
  finishAnsibleRun(result, ctx.reporter, { suggestPing: true });
  ctx.exitCode = 0;
}

export function registerFlowRemove(program: Command, ctx: CommandContext): void {
  const cmd = program.command('flow-remove').description("Delete a deployment and remove its code and environment from every worker and from this machine's flow store.");
  addClusterOptions(cmd, { mode: 'required', help: 'secrets file (prefect_api_auth_string)' })
    .argument('<deployment>', 'FLOW/DEPLOYMENT, or DEPLOYMENT when the name is unique')
    .addHelpText(
      'after',
      ['', "Exit code: 0 removed; 6 the Prefect API failed; else Ansible's.", '', 'Example:', '  pag-ansible flow-remove -i inventory.yml -s secrets.yml my-workflow/nightly'].join('\n'),
    )
    .action(async (ref: string, opts: FlowRemoveOptions) => {
      await flowRemoveAction(ref, opts, ctx);
    });
}
