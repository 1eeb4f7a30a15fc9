/**
 * `pag-ansible deploy-flow`: check the flow directory, then render and run prefect-flow-deployment.yml, which
 * ships the flow (and its packed environment) to the workers and registers the Prefect deployment.
 */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { renderTree } from '../render/index.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import type { ExtraVars, JsonValue } from '../ansible/extra-vars.js';
import { checkLimit, collect, passthroughArgs } from '../ansible/command-args.js';
import { checkFlow, chooseWorkPool, describePackedEnv, DEFAULT_PACKED_ENV } from '../flow/check.js';
import { checkPackedEnvPrefect } from '../flow/packed-env.js';
import path from 'node:path';
import { checkDeploymentName, DEPLOYMENT_NAME, parseDeploymentOptions, parseFlowParams, parseSchedule, type DeploymentOptions, type FlowSchedule } from '../flow/options.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { addClusterOptions, addPlaybookOptions, checkLimitMatches, clusterDeps, loadClusterInput, resolveOutputDir, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export const FLOW_PLAYBOOK = 'prefect-flow-deployment.yml';

export interface DeployFlowOptions extends ClusterInputOptions {
  secrets: string;
  flowDir?: string;
  entrypoint?: string;
  prefectYaml?: string;
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
  tag?: string[];
  description?: string;
  version?: string;
  concurrencyLimit?: string;
  env?: string[];
}

export interface DeployFlowDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
}

const defaultDeps: DeployFlowDeps = { ...clusterDeps, runPlaybook };

interface DeployRequest {
  flowDir: string;
  entrypoint: string;
  name?: string;
  workPool?: string;
  params: Record<string, JsonValue>;
  schedule: FlowSchedule;
  options: DeploymentOptions;
}

const FROM_PREFECT_YAML = ['entrypoint', 'name', 'param', 'cron', 'interval', 'tag', 'description', 'version', 'concurrencyLimit', 'env'] as const;

/** The deployments to make: one from the flags, or every one of --prefect-yaml. Usage errors first. */
async function deployRequests(opts: DeployFlowOptions, ctx: CommandContext): Promise<{ requests: DeployRequest[]; notes: string[] }> {
  if (opts.prefectYaml !== undefined) {
    const given = FROM_PREFECT_YAML.filter((k) => opts[k] !== undefined);
    if (given.length > 0) {
      const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UsageError(`--prefect-yaml takes every deployment setting from the file: leave out ${given.map(flag).join(', ')}`);
    }
    const { readPrefectYaml } = await import('../flow/prefect-yaml.js');
    const project = await readPrefectYaml(opts.prefectYaml, ctx.cwd);
    const flowDir = opts.flowDir !== undefined ? path.resolve(ctx.cwd, opts.flowDir) : project.dir;
    const notes = project.ignored.map((k) => `the ${k} section of ${opts.prefectYaml} is not run: pag-ansible ships ${path.relative(ctx.cwd, flowDir) || '.'} as it is`);
    return {
      notes,
      requests: project.deployments.map((d) => ({
        flowDir,
        entrypoint: d.entrypoint,
        name: d.name,
        ...((opts.workPool ?? d.workPool) !== undefined && { workPool: (opts.workPool ?? d.workPool) as string }),
        params: d.parameters,
        schedule: d.schedule,
        options: d.options,
      })),
    };
  }
  if (opts.flowDir === undefined || opts.entrypoint === undefined) {
    throw new UsageError('give --flow-dir DIR and --entrypoint FILE.py:FUNCTION, or --prefect-yaml FILE');
  }
  const params = parseFlowParams(opts.param ?? []);
  const schedule = parseSchedule(opts.cron, opts.interval);
  const options = parseDeploymentOptions(opts);
  if (opts.name !== undefined) checkDeploymentName(opts.name);
  return {
    notes: [],
    requests: [
      {
        flowDir: opts.flowDir,
        entrypoint: opts.entrypoint,
        ...(opts.name !== undefined && { name: opts.name }),
        ...(opts.workPool !== undefined && { workPool: opts.workPool }),
        params,
        schedule,
        options,
      },
    ],
  };
}

export async function deployFlowAction(
  opts: DeployFlowOptions,
  passthrough: string[],
  ctx: CommandContext,
  deps: DeployFlowDeps = defaultDeps,
): Promise<void> {
  // 1. The command line (exit 2), 2. the flow directory (exit 1), 3. the inventory (exit 1): all before any
  // file is written or any host is contacted.
  const limit = checkLimit(opts.limit);
  const { requests, notes } = await deployRequests(opts, ctx);

  const flows = [];
  for (const req of requests) {
    const flow = await checkFlow({
      flowDir: req.flowDir,
      entrypoint: req.entrypoint,
      ...(opts.packedEnv !== undefined && { packedEnv: opts.packedEnv }),
      cwd: ctx.cwd,
    });
    const deploymentName = req.name ?? flow.functionName;
    if (req.name === undefined && !DEPLOYMENT_NAME.test(deploymentName)) {
      throw new CheckFailedError(
        `the flow function name ${deploymentName} cannot be a deployment name (letters, digits, "_", ".", "-", starting with a letter or digit)`,
        'Pass --name NAME.',
      );
    }
    flows.push({ req, flow, deploymentName });
  }

  // The Prefect environment tarballs were shipped by `run`; a flow deployment does not need them here.
  const { config, secrets } = await loadClusterInput(opts, ctx, deps, { secrets: true, artifacts: false });
  for (const n of notes) ctx.reporter.err(`pag-ansible: note: ${n}`);
  const pools = flows.map(({ req }) => chooseWorkPool(config, req.workPool));
  if (limit !== undefined) checkLimitMatches(limit, config, opts.inventory);

  const first = flows[0];
  if (first?.flow.packedEnv !== undefined) {
    ctx.reporter.err(`pag-ansible: ${describePackedEnv(first.flow)}`);
    const clientVersion = await checkPackedEnvPrefect(first.flow.packedEnv, config.prefect_version, opts.allowNewerPrefect ?? false);
    ctx.reporter.err(`pag-ansible: its prefect is ${clientVersion}; the cluster runs ${config.prefect_version}`);
  } else if (first !== undefined) {
    ctx.reporter.err(`pag-ansible: ${describePackedEnv(first.flow)}`);
  }

  const outDir = resolveOutputDir(opts, ctx);
  await deps.renderTree(config, outDir, { force: opts.force ?? false });

  for (const [i, { req, flow, deploymentName }] of flows.entries()) {
    const pool = pools[i] as string;
    ctx.reporter.err(
      `pag-ansible: deploying ${flow.entrypoint} from ${flow.flowDir} as "${deploymentName}" on work pool ${pool}` +
        (req.workPool === undefined ? ' (default; --work-pool to choose)' : ''),
    );
    if (flow.flowName === undefined) {
      ctx.reporter.err(
        `pag-ansible: warning: the @flow decorator of ${flow.entrypoint} computes the flow's name, so the deployment is looked up as ${flow.functionName.replace(/_/g, '-')}/${deploymentName}; give @flow a plain string name= if that is not it`,
      );
    }
    // Every key always present, so the playbook's argument specs can be strict: "" / 0 mean "none".
    const extraVars: ExtraVars = {
      flow_dir: flow.flowDir,
      flow_entrypoint: flow.entrypoint,
      work_pool: pool,
      deployment_name: deploymentName,
      flow_parameters: req.params,
      flow_cron: req.schedule !== undefined && 'cron' in req.schedule ? req.schedule.cron : '',
      flow_interval: req.schedule !== undefined && 'interval' in req.schedule ? req.schedule.interval : 0,
      flow_packed_env: flow.packedEnv ?? '',
      flow_use_packed_env: flow.packedEnv !== undefined,
      flow_options: { ...req.options },
      // The flow's own name (`@flow(name=…)`) finds the deployment on the server; "" lets the playbook derive it.
      flow_name: flow.flowName ?? '',
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
    finishAnsibleRun(result, ctx.reporter, { suggestPing: true, dryRun: opts.check ?? false });
  }
  ctx.exitCode = 0;
}

export function registerDeployFlow(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('deploy-flow')
    .description('Check a flow directory, ship it (and its packed environment) to the workers and create its Prefect deployment.');
  addPlaybookOptions(addClusterOptions(cmd, { mode: 'required', help: 'secrets file (prefect_api_auth_string)' }), '-vv')
    .option('--flow-dir <dir>', 'directory holding the flow code (shipped to the workers as it is; default with --prefect-yaml: its directory)')
    .option('--prefect-yaml <file>', "deploy every deployment of a project's prefect.yaml (pull steps rewritten; git clone / pip install refused)")
    .option('--entrypoint <file.py:flow>', 'the flow: a .py file inside --flow-dir and its @flow function, e.g. main.py:my_workflow')
    .option('--work-pool <pool>', 'work pool from the inventory (default: cpu-pool if defined, else the first pool without GPUs)')
    .option('--name <name>', 'deployment name (default: the flow function name)')
    .option('--param <name=value>', 'default flow parameter; the value is read as JSON when it parses (3, true, [1,2]), else as a string; repeatable', collect)
    .option('--cron <expr>', 'schedule: a cron expression (5 or 6 fields, or @daily …)')
    .option('--interval <seconds>', 'schedule: run every N seconds (not with --cron)')
    .option(
      '--packed-env <file>',
      `pixi-pack tarball with the flow's environment (default: ${DEFAULT_PACKED_ENV} in --flow-dir if present, else the flow runs in the workers' Prefect environment)`,
    )
    .option('--tag <tag>', 'deployment tag; repeatable', collect)
    .option('--description <text>', 'deployment description (default: the flow\'s docstring)')
    .option('--version <version>', 'deployment version label')
    .option('--concurrency-limit <n>', 'at most N runs of this deployment at once')
    .option('--env <NAME=value>', 'environment variable of the flow runs (job variable env); repeatable', collect)
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
