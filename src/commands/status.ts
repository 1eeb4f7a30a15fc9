/**
 * `pag-ansible status`: the cluster's health in one pass (Prefect API from the controller, every host's
 * `prefect-*` units through one ad-hoc Ansible call, both at once). Exit 0 healthy, 5 degraded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runAdhoc } from '../ansible/runner.js';
import { UsageError } from '../errors.js';
import { addClusterOptions, clusterDeps, loadAndRender, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export interface StatusOptions extends ClusterInputOptions {
  secrets: string;
  format: string;
  backupDir?: string;
  timeout: string;
}

export interface StatusDeps extends ClusterDeps {
  runAdhoc: typeof runAdhoc;
  fetch?: typeof fetch;
}

const defaultDeps: StatusDeps = { ...clusterDeps, runAdhoc };

export function parseTimeout(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 600) throw new UsageError(`--timeout ${JSON.stringify(value)}: expected whole seconds between 1 and 600`);
  return Number(value);
}

export async function statusAction(opts: StatusOptions, ctx: CommandContext, deps: StatusDeps = defaultDeps): Promise<void> {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format ${JSON.stringify(opts.format)}: expected text or json`);
  const timeout = parseTimeout(opts.timeout);
  const { collectStatus, expectedUnits, formatStatusText, DEGRADED_EXIT } = await import('../ops/status.js');
  const { readUnitsTree, unitsCommand } = await import('../ops/units.js');
  const { defaultBackupDir, newestBackup } = await import('../ops/backup-archive.js');
  const { clientFor } = await import('../prefect-api/connect.js');

  const { config, secrets, outDir } = await loadAndRender(opts, ctx, deps, { secrets: true, artifacts: false });
  const hosts = [config.server.name, ...config.workers.map((w) => w.name)];
  const backupDir = path.resolve(ctx.cwd, opts.backupDir ?? defaultBackupDir(config.inventoryPath));

  const report = await collectStatus(config, {
    // One retry of a busy answer: status must stay a matter of seconds (a busy server is worth reporting).
    client: clientFor(config, secrets, { timeoutMs: timeout * 1000, retries: 1, ...(deps.fetch !== undefined && { fetch: deps.fetch }) }),
    readUnits: async () => {
      const tree = await mkdtemp(path.join(os.tmpdir(), 'pag-status-'));
      try {
        const result = await deps.runAdhoc({
          renderedDir: outDir,
          pattern: 'all',
          module: 'ansible.builtin.command',
          moduleArgs: unitsCommand([...expectedUnits(config).values()].flat()),
          env: ctx.env,
          stdio: 'pipe',
          // One JSON document per host in a private directory instead of per-host text.
          extraArgs: ['--tree', tree, '--timeout', String(timeout)],
        });
        const units = await readUnitsTree(tree, hosts);
        if (units.every((h) => h.error === 'no answer') && result.exitCode !== 0) {
          const why = (result.stderr ?? '').trim().split('\n').slice(-3).join(' ');
          return hosts.map((host) => ({ host, reachable: false, error: `ansible exited ${result.exitCode}: ${why}`, units: [] }));
        }
        return units;
      } finally {
        await rm(tree, { recursive: true, force: true });
      }
    },
    lastBackup: async () => {
      const b = await newestBackup(backupDir);
      return b && { file: path.relative(ctx.cwd, b.file) || b.file, time: b.manifest.created, prefect_version: b.manifest.prefect_version, database_type: b.manifest.database_type };
    },
  });
  ctx.reporter.out(opts.format === 'json' ? JSON.stringify(report, null, 2) : formatStatusText(report));
  ctx.exitCode = report.healthy ? 0 : DEGRADED_EXIT;
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('status')
    .description("Report the cluster's health: server, database, last backup, pools and workers, late/crashed runs, units, unreachable hosts.");
  addClusterOptions(cmd, { mode: 'required', help: 'secrets file (prefect_api_auth_string)' })
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--backup-dir <dir>', 'where `pag-ansible backup` keeps backups (default: "backups" beside the inventory)')
    .option('--timeout <seconds>', 'per API request and per host connection', '10')
    .addHelpText(
      'after',
      [
        '',
        'Exit code: 0 healthy, 5 degraded (each problem listed), 2 usage error.',
        '',
        'Examples:',
        '  pag-ansible status -i inventory.yml -s secrets.yml',
        '  pag-ansible status -i inventory.yml -s secrets.yml --format json | jq .problems',
      ].join('\n'),
    )
    .action(async (opts: StatusOptions) => {
      await statusAction(opts, ctx);
    });
}
