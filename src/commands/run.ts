/** `pag-ansible run`: validate, render, then run main.yml with the secrets in a private extra-vars file. */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { parseExtraVarArgs, type ExtraVars } from '../ansible/extra-vars.js';
import { checkLimit, collect, passthroughArgs, SPECIAL_TAGS, splitTags } from '../ansible/command-args.js';
import { didYouMean } from '../config/suggest.js';
import { UsageError } from '../errors.js';
import { addClusterOptions, addPlaybookOptions, clusterDeps, loadAndRender, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

/** The tags main.yml's plays carry. */
export const PLAYBOOK_TAGS = ['prefect-server', 'prefect-worker'] as const;

/** Ansible's own tags that select every play of main.yml. */
const SELECTING_TAGS = ['all', 'tagged'] as const;

/**
 * A tag no play carries would make Ansible run the pre-flight checks only and report success: refuse it before
 * anything runs. Tags of tasks inside the roles are still reachable, after `--`.
 */
export function checkPlayTags(tags: readonly string[]): void {
  const known = [...PLAYBOOK_TAGS, ...SPECIAL_TAGS] as readonly string[];
  const valid = `main.yml's plays carry ${PLAYBOOK_TAGS.join(', ')} (Ansible's ${SELECTING_TAGS.join(', ')} select them all)`;
  const hint = `${valid}. Tags of tasks inside the roles go to ansible-playbook after --, e.g. pag-ansible run -i inventory.yml -s secrets.yml -- --tags TAG`;
  const unknown = tags.filter((t) => !known.includes(t));
  if (unknown.length > 0) {
    const first = unknown[0] as string;
    throw new UsageError(
      `--tags ${unknown.join(',')}: no play of main.yml carries ${unknown.length === 1 ? 'this tag' : 'these tags'}, so nothing would be deployed${didYouMean(first, PLAYBOOK_TAGS)}`,
      hint,
    );
  }
  const selecting = [...PLAYBOOK_TAGS, ...SELECTING_TAGS] as readonly string[];
  if (tags.length > 0 && !tags.some((t) => selecting.includes(t))) {
    throw new UsageError(`--tags ${tags.join(',')} selects no play of main.yml, so nothing would be deployed`, hint);
  }
}

export interface RunOptions extends ClusterInputOptions {
  secrets: string;
  tags?: string[];
  limit?: string;
  extraVars?: string[];
  check?: boolean;
  diff?: boolean;
}

/** What the action calls; replaced in tests. */
export interface RunDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
}

const defaultDeps: RunDeps = { ...clusterDeps, runPlaybook };

export async function runAction(
  opts: RunOptions,
  passthrough: string[],
  ctx: CommandContext,
  deps: RunDeps = defaultDeps,
): Promise<void> {
  // Everything the user typed is checked before anything is loaded, rendered or run.
  const tags = splitTags(opts.tags ?? []);
  const limit = checkLimit(opts.limit);
  const userVars = await parseExtraVarArgs(opts.extraVars ?? [], ctx.cwd);
  checkPlayTags(tags);

  const { secrets, outDir } = await loadAndRender(opts, ctx, deps, { secrets: true, artifacts: true, limit });

  // Secrets only ever travel in the 0600 extra-vars file. The user's own -e key=value pairs come after, so an
  // explicit flag wins, as it would with ansible-playbook.
  const extraVars: ExtraVars = {};
  if (secrets?.prefect_api_auth_string !== undefined) extraVars.prefect_api_auth_string = secrets.prefect_api_auth_string;
  if (secrets?.prefect_database_password !== undefined) extraVars.prefect_database_password = secrets.prefect_database_password;
  Object.assign(extraVars, userVars.vars);

  const result = await deps.runPlaybook({
    renderedDir: outDir,
    playbook: 'main.yml',
    env: ctx.env,
    extraVars,
    extraVarFiles: userVars.files,
    tags,
    ...(limit !== undefined && { limit }),
    check: opts.check ?? false,
    diff: opts.diff ?? false,
    passthrough,
  });
  finishAnsibleRun(result, ctx.reporter, { suggestPing: true });
  ctx.exitCode = 0;
}

export function registerRun(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('run')
    .description('Validate the inventory, render the Ansible tree and run main.yml (server and workers).');
  addPlaybookOptions(addClusterOptions(cmd, { mode: 'required' }), '-vv --forks 10')
    .option('--tags <tags>', `only run plays with these tags: ${PLAYBOOK_TAGS.join(', ')} (repeatable, comma-separated; tags inside the roles go after --)`, collect)
    .option('--limit <hosts>', 'only run on hosts matching this Ansible pattern')
    .option(
      '-e, --extra-vars <key=value|@file>',
      'extra variable (string value) or a YAML/JSON vars file of yours; repeatable. key=value pairs join the private ' +
        'extra-vars file and are never templated; an @file is passed to Ansible as it is (its strings are templated ' +
        'unless tagged !unsafe)',
      collect,
    )
    .addHelpText(
      'after',
      [
        '',
        'Exit code: Ansible\'s own (2 a task failed, 4 a host was unreachable, 99 interrupted …), explained in one line;',
        '1 when validation fails, 2 on a usage error, 3 when ansible-playbook is not installed.',
        '',
        'Examples:',
        '  pag-ansible run -i inventory.yml -s secrets.yml',
        '  pag-ansible run -i inventory.yml -s secrets.yml --tags prefect-worker --limit worker-3',
        '  pag-ansible run -i inventory.yml -s secrets.yml.vault --ask-vault-pass --check --diff -- -vv',
      ].join('\n'),
    )
    .action(async (operands: string[], opts: RunOptions, cmd: Command) => {
      await runAction(opts, passthroughArgs(cmd, operands), ctx);
    });
}
