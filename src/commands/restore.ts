/**
 * `pag-ansible restore FILE`: checks the backup (manifest, SHA-256, Prefect version, database type) before any
 * host is touched, then runs prefect-restore.yml: stop the server, put the copy back, migrate when the copy is
 * older, start, wait for /api/ready.
 */
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { removePrivateDir, type ExtraVars } from '../ansible/extra-vars.js';
import { addClusterOptions, clusterDeps, loadClusterInput, resolveOutputDir, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export const RESTORE_PLAYBOOK = 'prefect-restore.yml';

export interface RestoreOptions extends ClusterInputOptions {
  secrets: string;
  force?: boolean;
}

export interface RestoreDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
}

const defaultDeps: RestoreDeps = { ...clusterDeps, runPlaybook };

export async function restoreAction(file: string, opts: RestoreOptions, ctx: CommandContext, deps: RestoreDeps = defaultDeps): Promise<void> {
  const { readBackupManifest, planRestore, unpackBackup } = await import('../ops/backup-archive.js');
  const backup = path.resolve(ctx.cwd, file);
  const manifest = await readBackupManifest(backup);
  const { config, secrets } = await loadClusterInput(opts, ctx, deps, { secrets: true, artifacts: false });
  const plan = planRestore(manifest, config, opts.force ?? false);
  for (const o of plan.overridden) ctx.reporter.err(`pag-ansible: warning: --force: ${o}`);

  const work = await mkdtemp(path.join(tmpdir(), 'pag-restore-'));
  try {
    const { databaseFile } = await unpackBackup(backup, work);
    const outDir = resolveOutputDir(opts, ctx);
    await deps.renderTree(config, outDir, { force: opts.force ?? false });
    ctx.reporter.err(
      `pag-ansible: restoring the ${manifest.database_type} database of ${manifest.created} (Prefect ${manifest.prefect_version}) on ${config.server.name}` +
        (plan.migrate ? `, then migrating it to Prefect ${config.prefect_version}` : ''),
    );
    const extraVars: ExtraVars = {
      prefect_restore_file: databaseFile,
      prefect_restore_sha256: manifest.sha256,
      prefect_restore_migrate: plan.migrate,
      // A forced restore of a newer backup leaves a newer schema: the next run must see it (and refuse a downgrade).
      prefect_restore_database_version: plan.migrate || plan.overridden.length === 0 ? config.prefect_version : manifest.prefect_version,
    };
    if (secrets?.prefect_database_password !== undefined) extraVars.prefect_database_password = secrets.prefect_database_password;
    if (secrets?.prefect_api_auth_string !== undefined) extraVars.prefect_api_auth_string = secrets.prefect_api_auth_string;
    const result = await deps.runPlaybook({ renderedDir: outDir, playbook: RESTORE_PLAYBOOK, env: ctx.env, extraVars });
    finishAnsibleRun(result, ctx.reporter, { suggestPing: true });
  } finally {
    await removePrivateDir(work);
  }
  ctx.exitCode = 0;
}

export function registerRestore(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('restore')
    .description('Put a backup made by `pag-ansible backup` back: stop the server, restore, migrate if older, start, check /api/ready.');
  addClusterOptions(cmd, { mode: 'required' });
  cmd
    .argument('<file>', 'backup file written by `pag-ansible backup`')
    .addHelpText(
      'after',
      [
        '',
        'Refused (exit 1) unless --force: a backup from a newer Prefect than the inventory\'s prefect_version, or from',
        'another database type. A damaged backup (checksum) is always refused. Else Ansible\'s exit code.',
        '--force also lets render overwrite files in the output directory.',
        '',
        'Example:',
        '  pag-ansible restore -i inventory.yml -s secrets.yml backups/prefect-backup-20260101T030000Z.tar',
      ].join('\n'),
    )
    .action(async (file: string, opts: RestoreOptions) => {
      await restoreAction(file, opts, ctx);
    });
}
