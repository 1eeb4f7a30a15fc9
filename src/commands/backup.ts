/**
 * `pag-ansible backup`: runs prefect-backup.yml (an online copy of the server's database, fetched into a private
 * temporary directory), then packs the copy and its manifest into one 0600 file and applies the retention.
 */
import path from 'node:path';
import { access, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runPlaybook } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { removePrivateDir, type ExtraVars } from '../ansible/extra-vars.js';
import { FileError, UsageError } from '../errors.js';
import { addClusterOptions, clusterDeps, loadAndRender, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export const BACKUP_PLAYBOOK = 'prefect-backup.yml';

export interface BackupOptions extends ClusterInputOptions {
  secrets: string;
  file?: string;
  backupDir?: string;
  keep?: string;
}

export interface BackupDeps extends ClusterDeps {
  runPlaybook: typeof runPlaybook;
}

const defaultDeps: BackupDeps = { ...clusterDeps, runPlaybook };

export function parseKeep(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--keep ${JSON.stringify(value)}: expected a whole number of backups, at least 1`);
  return Number(value);
}

export async function backupAction(opts: BackupOptions, ctx: CommandContext, deps: BackupDeps = defaultDeps): Promise<void> {
  const keep = parseKeep(opts.keep);
  if (opts.file !== undefined && opts.backupDir !== undefined) throw new UsageError('--file and --backup-dir exclude each other: the file names its directory');
  const explicit = opts.file !== undefined ? path.resolve(ctx.cwd, opts.file) : undefined;
  if (explicit !== undefined && (await exists(explicit))) {
    throw new FileError(`${opts.file} exists; pag-ansible never overwrites a backup`, 'Choose another file name, or leave -o out to get a time-stamped name.');
  }
  const { defaultBackupDir, keepFetchedBackup, applyRetention } = await import('../ops/backup-archive.js');

  const { config, secrets, outDir } = await loadAndRender(opts, ctx, deps, { secrets: true, artifacts: false });
  const dir = path.resolve(ctx.cwd, opts.backupDir ?? defaultBackupDir(config.inventoryPath));
  const work = await mkdtemp(path.join(tmpdir(), 'pag-backup-'));
  try {
    const extraVars: ExtraVars = { prefect_backup_dest: work };
    if (secrets?.prefect_api_auth_string !== undefined) extraVars.prefect_api_auth_string = secrets.prefect_api_auth_string;
    if (secrets?.prefect_database_password !== undefined) extraVars.prefect_database_password = secrets.prefect_database_password;
    const started = Date.now();
    const result = await deps.runPlaybook({ renderedDir: outDir, playbook: BACKUP_PLAYBOOK, env: ctx.env, extraVars });
    finishAnsibleRun(result, ctx.reporter, { suggestPing: true });

    const kept = await keepFetchedBackup(work, dir, explicit);
    if (kept === undefined) throw new FileError('the backup playbook fetched no copy of the database', 'Run it again with -- -v to see what the prefect_backup role did.');
    const { file: dest, manifest } = kept;
    ctx.reporter.out(
      `${path.relative(ctx.cwd, dest) || dest}: ${manifest.database_type} database of Prefect ${manifest.prefect_version} from ${manifest.server_host}, ${manifest.size} bytes, sha256 ${manifest.sha256} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    if (keep !== undefined) {
      const removed = await applyRetention(path.dirname(dest), keep);
      if (removed.length > 0) ctx.reporter.err(`pag-ansible: kept the last ${keep} backups; removed ${removed.map((f) => path.basename(f)).join(', ')}`);
    }
  } finally {
    await removePrivateDir(work);
  }
  ctx.exitCode = 0;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

export function registerBackup(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('backup')
    .description("Copy the server's database while it runs (SQLite backup API or pg_dump -Fc) into a checksummed 0600 file on this machine.");
  addClusterOptions(cmd, { mode: 'required' })
    .option('-f, --file <file>', 'write the backup here (default: backups/prefect-backup-<UTC time>.tar beside the inventory)')
    .option('--backup-dir <dir>', 'directory of time-stamped backups (default: "backups" beside the inventory)')
    .option('--keep <n>', "keep only the newest N backups of the backup file's directory")
    .addHelpText(
      'after',
      [
        '',
        'The file is a tar of manifest.json (Prefect version, database type, time, SHA-256) and the database copy.',
        "Exit code: 0 done, 2 usage error or the file exists, else Ansible's.",
        '',
        'Examples:',
        '  pag-ansible backup -i inventory.yml -s secrets.yml --keep 14',
        '  pag-ansible backup -i inventory.yml -s secrets.yml -f /srv/backups/before-upgrade.tar',
      ].join('\n'),
    )
    .action(async (opts: BackupOptions) => {
      await backupAction(opts, ctx);
    });
}
