/**
 * `pag-ansible deploy-flow`: check the flow directory, then render and run prefect-flow-deployment.yml, which
 * ships the flow (and its packed environment) to the workers and registers the Prefect deployment.
 */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { renderTree } from '../render/index.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import type { ExtraVars } from '../ansible/extra-vars.js';
import { checkLimit, collect, passthroughArgs } from '../ansible/command-args.js';
import { checkFlow, chooseWorkPool, describePackedEnv, DEFAULT_PACKED_ENV } from '../flow/check.js';
import { checkPackedEnvPrefect } from '../flow/packed-env.js';
import { checkDeploymentName, DEPLOYMENT_NAME, parseFlowParams, parseSchedule } from '../flow/options.js';
import { CheckFailedError } from '../errors.js';
import { addClusterOptions, addPlaybookOptions, checkLimitMatches, clusterDeps, loadClusterInput, resolveOutputDir, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export const FLOW_PLAYBOOK = 'prefect-flow-deployment.yml';

export interface DeployFlowOptions extends ClusterInputOptions {
  secrets: string;
  flowDir: string;
  entrypoint: string;
  workPool?: string;
  name?: string;
  param?: string[];
  cron?: string;
  interval?: string;
  packedEnv?: string;
  limit?: string;
  check?: boolean;
  diff?: boolean;
  allowNewerPrefect?: boolean;
}

export interface DeployFlowDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
}

const defaultDeps: DeployFlowDeps = { ...clusterDeps, runPlaybook };

export async function deployFlowAction(
  opts: DeployFlowOptions,
  passthrough: string[],
  ctx: CommandContext,
  deps: DeployFlowDeps = defaultDeps,
): Promise<void> {
  // 1. The command line (exit 2), 2. the flow directory (exit 1), 3. the inventory (exit 1): all before any
  // file is written or any host is contacted.
  const params = parseFlowParams(opts.param ?? []);
  const schedule = parseSchedule(opts.cron, opts.interval);
  const limit = checkLimit(opts.limit);
  if (opts.name !== undefined) checkDeploymentName(opts.name);

  const flow = await checkFlow({
    flowDir: opts.flowDir,
    entrypoint: opts.entrypoint,
    ...(opts.packedEnv !== undefined && { packedEnv: opts.packedEnv }),
    cwd: ctx.cwd,
  });
  const deploymentName = opts.name ?? flow.functionName;
  if (opts.name === undefined && !DEPLOYMENT_NAME.test(deploymentName)) {
    throw new CheckFailedError(
      `the flow function name ${deploymentName} cannot be a deployment name (letters, digits, "_", ".", "-", starting with a letter or digit)`,
      'Pass --name NAME.',
    );
  }

  // The Prefect environment tarballs were shipped by `run`; a flow deployment does not need them here.
  const { config, secrets } = await loadClusterInput(opts, ctx, deps, { secrets: true, artifacts: false });
  const pool = chooseWorkPool(config, opts.workPool);
  if (limit !== undefined) checkLimitMatches(limit, config, opts.inventory);

  ctx.reporter.err(
    `pag-ansible: deploying ${flow.entrypoint} from ${flow.flowDir} as "${deploymentName}" on work pool ${pool}` +
      (opts.workPool === undefined ? ' (default; --work-pool to choose)' : ''),
  );
  ctx.reporter.err(`pag-ansible: ${describePackedEnv(flow)}`);
  if (flow.packedEnv !== undefined) {
    const clientVersion = await checkPackedEnvPrefect(flow.packedEnv, config.prefect_version, opts.allowNewerPrefect ?? false);
    ctx.reporter.err(`pag-ansible: its prefect is ${clientVersion}; the cluster runs ${config.prefect_version}`);
  }

  const outDir = resolveOutputDir(opts, ctx);
  await deps.renderTree(config, outDir, { force: opts.force ?? false });

  // Every key always present, so the playbook's argument specs can be strict: "" / 0 mean "none".
  const extraVars: ExtraVars = {
    flow_dir: flow.flowDir,
    flow_entrypoint: flow.entrypoint,
    work_pool: pool,
    deployment_name: deploymentName,
    flow_parameters: params,
    flow_cron: schedule !== undefined && 'cron' in schedule ? schedule.cron : '',
    flow_interval: schedule !== undefined && 'interval' in schedule ? schedule.interval : 0,
    flow_packed_env: flow.packedEnv ?? '',
    flow_use_packed_env: flow.packedEnv !== undefined,
  };
  // The deployment talks to the Prefect API; the database password is none of its business.
  if (secrets?.prefect_api_auth_string !== undefined) extraVars.prefect_api_auth_string = secrets.prefect_api_auth_string;

  const result = await deps.runPlaybook({
    renderedDir: outDir,
    playbook: FLOW_PLAYBOOK,
    env: ctx.env,
    extraVars,
    ...(limit !== undefined && { limit }),
    check: opts.check ?? false,
    diff: opts.diff ?? false,
    passthrough,
  });
  finishAnsibleRun(result, ctx.reporter, { suggestPing: true });
  ctx.exitCode = 0;
}

export function registerDeployFlow(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('deploy-flow')
    .description('Check a flow directory, ship it (and its packed environment) to the workers and create its Prefect deployment.');
  addPlaybookOptions(addClusterOptions(cmd, { mode: 'required', help: 'secrets file (prefect_api_auth_string)' }), '-vv')
    .requiredOption('--flow-dir <dir>', 'directory holding the flow code (shipped to the workers as it is)')
    .requiredOption('--entrypoint <file.py:flow>', 'the flow: a .py file inside --flow-dir and its @flow function, e.g. main.py:my_workflow')
    .option('--work-pool <pool>', 'work pool from the inventory (default: cpu-pool if defined, else the first pool without GPUs)')
    .option('--name <name>', 'deployment name (default: the flow function name)')
    .option('--param <name=value>', 'default flow parameter; the value is read as JSON when it parses (3, true, [1,2]), else as a string; repeatable', collect)
    .option('--cron <expr>', 'schedule: a cron expression (5 or 6 fields, or @daily …)')
    .option('--interval <seconds>', 'schedule: run every N seconds (not with --cron)')
    .option(
      '--packed-env <file>',
      `pixi-pack tarball with the flow's environment (default: ${DEFAULT_PACKED_ENV} in --flow-dir if present, else the flow runs in the workers' Prefect environment)`,
    )
    .option('--allow-newer-prefect', "deploy even when the packed environment's prefect is newer than the cluster's")
    .option('--limit <hosts>', 'only run on hosts matching this Ansible pattern')
    .addHelpText(
      'after',
      [
        '',
        'Checked before anything runs (exit 1 when not): the entrypoint file is inside --flow-dir and defines a',
        'module-level function decorated with @flow; the packed environment exists; the work pool is defined and',
        'served by a worker. Then: Ansible\'s exit code, explained in one line.',
        '',
        'Examples:',
        '  pag-ansible deploy-flow -i inventory.yml -s secrets.yml --flow-dir flows/demo --entrypoint main.py:my_workflow',
        '  pag-ansible deploy-flow -i inventory.yml -s secrets.yml --flow-dir flows/gpu --entrypoint main.py:predict \\',
        '      --work-pool gpu-pool --param batch=32 --cron "0 3 * * *"',
      ].join('\n'),
    )
    .action(async (operands: string[], opts: DeployFlowOptions, cmd: Command) => {
      await deployFlowAction(opts, passthroughArgs(cmd, operands), ctx);
    });
}
