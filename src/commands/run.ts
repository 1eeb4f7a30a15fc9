/** `pag-ansible run`: validate, render, then run main.yml with the secrets in a private extra-vars file. */
import path from 'node:path';
import { Command, Option } from 'commander';
import type { CommandContext } from '../cli/main.js';
import { loadClusterOrThrow } from '../config/index.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import { renderTree } from '../render/index.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { parseExtraVarArgs, type ExtraVars } from '../ansible/extra-vars.js';
import { checkLimit, collect, passthroughArgs, SPECIAL_TAGS, splitTags } from '../ansible/command-args.js';
import { defaultOutputDir } from './render.js';

/** The tags main.yml's plays carry. */
export const PLAYBOOK_TAGS = ['prefect-server', 'prefect-worker'] as const;

export interface RunOptions {
  inventory: string;
  secrets: string;
  vaultPasswordFile?: string;
  askVaultPass?: boolean;
  output?: string;
  tags?: string[];
  limit?: string;
  extraVars?: string[];
  check?: boolean;
  diff?: boolean;
  force?: boolean;
}

/** What the action calls; replaced in tests. */
export interface RunDeps {
  loadClusterOrThrow: typeof loadClusterOrThrow;
  renderTree: typeof renderTree;
  runPlaybook: typeof runPlaybook;
}

const defaultDeps: RunDeps = { loadClusterOrThrow, renderTree, runPlaybook };

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

  const { config, secrets, warnings } = await deps.loadClusterOrThrow({
    // As typed, so diagnostics show the user's spelling; loadCluster resolves them against cwd.
    inventoryPath: opts.inventory,
    secretsPath: opts.secrets,
    ...(opts.vaultPasswordFile !== undefined && { vaultPasswordFile: opts.vaultPasswordFile }),
    ...(opts.askVaultPass !== undefined && { askVaultPass: opts.askVaultPass }),
    cwd: ctx.cwd,
    env: ctx.env,
    requireSecrets: true,
    requireArtifacts: true,
  });
  if (warnings.length > 0) ctx.reporter.err(formatDiagnostics(warnings, 'text'));

  const outDir = path.resolve(ctx.cwd, opts.output ?? defaultOutputDir(opts.inventory));
  const rendered = await deps.renderTree(config, outDir, { force: opts.force ?? false });
  ctx.reporter.err(
    `pag-ansible: wrote the Ansible tree to ${path.relative(ctx.cwd, outDir) || '.'} (${rendered.written.length} written, ${rendered.unchanged.length} unchanged, ${rendered.removed.length} removed)`,
  );

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
  program
    .command('run')
    .description('Validate the inventory, render the Ansible tree and run main.yml (server and workers).')
    .requiredOption('-i, --inventory <file>', 'Ansible YAML inventory describing the cluster')
    .requiredOption('-s, --secrets <file>', 'secrets file (prefect_api_auth_string, prefect_database_password)')
    .option('--vault-password-file <file>', 'password file for an ansible-vault encrypted secrets file')
    .addOption(new Option('--ask-vault-pass', 'prompt for the vault password (terminal only)'))
    .option('-o, --output <dir>', 'where to render the tree (default: "rendered" beside the inventory)')
    .option('--tags <tags>', `only run plays with these tags: ${PLAYBOOK_TAGS.join(', ')} (repeatable, comma-separated)`, collect)
    .option('--limit <hosts>', 'only run on hosts matching this Ansible pattern')
    .option(
      '-e, --extra-vars <key=value|@file>',
      'extra variable (string value) or a YAML/JSON vars file of yours; repeatable. key=value pairs join the private ' +
        'extra-vars file and are never templated; an @file is passed to Ansible as it is (its strings are templated ' +
        'unless tagged !unsafe)',
      collect,
    )
    .option('--check', "Ansible check mode: report what would change, change nothing")
    .option('--diff', 'show the changes Ansible makes (or would make) to files')
    .option('--force', 'overwrite files in the output directory that pag-ansible did not write')
    .argument('[ansible-args...]', 'after --: passed to ansible-playbook as they are (e.g. -- -vv --forks 10)')
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
