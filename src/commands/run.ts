/** `pag-ansible run`: validate, render, then run main.yml with the secrets in a private extra-vars file. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runAdhoc, runPlaybook } from '../ansible/runner.js';
import { AnsibleExit } from '../ansible/exit-codes.js';
import { NO_CONTACT_OPTIONS, reachabilitySpec, readReachability } from '../ansible/reachability.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { parseExtraVarArgs, removePrivateDir, type ExtraVars } from '../ansible/extra-vars.js';
import { checkLimit, collect, passthroughArgs, SPECIAL_TAGS, splitTags } from '../ansible/command-args.js';
import { didYouMean } from '../config/suggest.js';
import { ToolFailedError, UsageError } from '../errors.js';
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
  skipUnreachable?: boolean;
  allowDowngrade?: boolean;
}

/** What the action calls; replaced in tests. */
export interface RunDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
  runAdhoc: typeof runAdhoc;
}

const defaultDeps: RunDeps = { ...clusterDeps, runPlaybook, runAdhoc };

/** The groups the chosen plays run on. */
function targetPattern(tags: readonly string[]): string {
  const server = tags.length === 0 || tags.some((t) => t !== 'prefect-worker' && t !== 'always');
  const workers = tags.length === 0 || tags.some((t) => t !== 'prefect-server' && t !== 'always');
  return [...(server ? ['prefect_server'] : []), ...(workers ? ['prefect_workers'] : [])].join(',');
}

/**
 * One round over every targeted host before any play (its connection and its Python, reachability.ts). Returns the --limit the playbook then runs with:
 * unchanged when every host answered, the reachable hosts with --skip-unreachable; otherwise nothing is changed.
 */
async function checkReachability(
  ctx: CommandContext,
  deps: RunDeps,
  spec: { outDir: string; tags: string[]; limit: string | undefined; passthrough: string[]; skipUnreachable: boolean },
): Promise<string | undefined> {
  if (spec.passthrough.some((a) => NO_CONTACT_OPTIONS.includes(a))) return spec.limit;
  const pattern = targetPattern(spec.tags);
  ctx.reporter.err(`pag-ansible: checking that every targeted host can be reached and start Python (one ansible.builtin.raw round)…`);
  const result = await deps.runAdhoc(
    reachabilitySpec({ renderedDir: spec.outDir, env: ctx.env, ...(spec.limit !== undefined && { limit: spec.limit }) }, pattern, spec.passthrough),
  );
  const { reachable, problems } = readReachability(result);
  if (problems.length === 0) {
    ctx.reporter.err(`pag-ansible: ${reachable.length} host${reachable.length === 1 ? '' : 's'} reachable`);
    return spec.limit;
  }
  const total = reachable.length + problems.length;
  const lines = problems.map((p) => `  ${p.host}: ${p.kind === 'unreachable' ? 'unreachable' : 'cannot run Ansible modules'}: ${p.reason}`);
  const summary = `${problems.length} of ${total} targeted host${total === 1 ? '' : 's'} cannot be used`;
  if (!spec.skipUnreachable || reachable.length === 0) {
    ctx.reporter.err(`pag-ansible: ${summary}:`);
    ctx.reporter.err(lines.join('\n'));
    throw new ToolFailedError(
      `${summary}; nothing was changed`,
      AnsibleExit.unreachableOrParse,
      reachable.length === 0
        ? 'No host can be reached: check the addresses, ssh and the hosts themselves (`pag-ansible ping -i INVENTORY`).'
        : `Bring them back and run again, or pass --skip-unreachable to deploy the ${reachable.length} reachable host${reachable.length === 1 ? '' : 's'} only.`,
    );
  }
  ctx.reporter.err(`pag-ansible: warning: ${summary}; --skip-unreachable: leaving them out:`);
  ctx.reporter.err(lines.join('\n'));
  return reachable.join(',');
}

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

  const { config, secrets, outDir } = await loadAndRender(opts, ctx, deps, { secrets: true, artifacts: true, limit });

  // Secrets only ever travel in the 0600 extra-vars file. The user's own -e key=value pairs come after, so an
  // explicit flag wins, as it would with ansible-playbook.
  const extraVars: ExtraVars = {};
  if (secrets?.prefect_api_auth_string !== undefined) extraVars.prefect_api_auth_string = secrets.prefect_api_auth_string;
  if (secrets?.prefect_database_password !== undefined) extraVars.prefect_database_password = secrets.prefect_database_password;
  if (secrets?.prefect_redis_password !== undefined) extraVars.prefect_redis_password = secrets.prefect_redis_password;
  if (opts.allowDowngrade) extraVars.pag_allow_downgrade = true;
  Object.assign(extraVars, userVars.vars);

  const playLimit = await checkReachability(ctx, deps, { outDir, tags, limit, passthrough, skipUnreachable: opts.skipUnreachable ?? false });

  // Before the server's database is migrated to a new Prefect, the prefect_server role fetches a backup here; it is
  // kept with the others (backups/ beside the inventory) whether or not the rest of the run succeeds.
  const upgradeBackup = await mkdtemp(path.join(tmpdir(), 'pag-upgrade-backup-'));
  let result;
  try {
    result = await deps.runPlaybook({
      renderedDir: outDir,
      playbook: 'main.yml',
      env: ctx.env,
      extraVars: { ...extraVars, pag_upgrade_backup_dest: upgradeBackup },
      extraVarFiles: userVars.files,
      tags,
      ...(playLimit !== undefined && { limit: playLimit }),
      check: opts.check ?? false,
      diff: opts.diff ?? false,
      passthrough,
    });
  } finally {
    const { defaultBackupDir, keepFetchedBackup } = await import('../ops/backup-archive.js');
    const kept = await keepFetchedBackup(upgradeBackup, defaultBackupDir(config.inventoryPath)).finally(() => removePrivateDir(upgradeBackup));
    if (kept !== undefined) {
      ctx.reporter.err(
        `pag-ansible: before migrating the database from Prefect ${kept.manifest.prefect_version}, a backup was taken: ${path.relative(ctx.cwd, kept.file) || kept.file} (pag-ansible restore puts it back)`,
      );
    }
  }
  finishAnsibleRun(result, ctx.reporter, { suggestPing: true, dryRun: opts.check ?? false });
  ctx.exitCode = 0;
}

export function registerRun(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('run')
    .description('Validate the inventory, render the Ansible tree and run main.yml (server and workers).');
  addPlaybookOptions(addClusterOptions(cmd, { mode: 'required' }), '-vv --forks 10')
    .option('--tags <tags>', `only run plays with these tags: ${PLAYBOOK_TAGS.join(', ')} (repeatable, comma-separated; tags inside the roles go after --)`, collect)
    .option('--limit <hosts>', 'only run on hosts matching this Ansible pattern')
    .option('--skip-unreachable', 'when some targeted hosts cannot be reached, deploy to the others (default: change nothing)')
    .option('--allow-downgrade', 'install an older Prefect on a server whose database a newer one migrated (it may not start; restore a backup instead)')
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
        'Before the plays, one round checks every targeted host (its connection, and that its Python starts); if any',
        'cannot be used, each is named with its reason and nothing is changed (exit 4) unless --skip-unreachable is given.',
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
