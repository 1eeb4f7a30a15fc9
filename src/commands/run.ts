/** `pag-ansible run`: validate, render, then run main.yml with the secrets in a private extra-vars file. */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { parseExtraVarArgs, type ExtraVars } from '../ansible/extra-vars.js';
import { checkLimit, collect, passthroughArgs, SPECIAL_TAGS, splitTags } from '../ansible/command-args.js';
import { addClusterOptions, addPlaybookOptions, clusterDeps, loadAndRender, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

/** The tags main.yml's plays carry. */
export const PLAYBOOK_TAGS = ['prefect-server', 'prefect-worker'] as const;

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
  for (const t of tags) {
    if (!(PLAYBOOK_TAGS as readonly string[]).includes(t) && !(SPECIAL_TAGS as readonly string[]).includes(t)) {
      ctx.reporter.err(
        `pag-ansible: warning: main.yml's plays are tagged ${PLAYBOOK_TAGS.join(' and ')}; --tags ${t} runs only tasks tagged ${t} inside the roles`,
      );
    }
  }

  const { secrets, outDir } = await loadAndRender(opts, ctx, deps, { secrets: true, artifacts: true });

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
    .option('--tags <tags>', `only run plays with these tags: ${PLAYBOOK_TAGS.join(', ')} (repeatable, comma-separated)`, collect)
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
